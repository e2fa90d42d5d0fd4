package fleet

import (
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// The connection settings every pgx connection of pglinks shares, fleet
// and state database alike.

// CancelOnContext makes a connection answer an ended context by asking
// the server to cancel the running statement (then closing the socket if
// that does not end it), instead of pgx's default of only closing the
// socket, which leaves the backend running its statement, holding its
// transaction and locks, long after the caller gave up.
func CancelOnContext(cfg *pgconn.Config) {
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, CancelRequestDelay: 0, DeadlineDelay: 2 * time.Second}
	}
}
