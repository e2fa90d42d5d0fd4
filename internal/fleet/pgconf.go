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

// SearchPath is the search_path of every connection pglinks opens to a
// fleet database: PostgreSQL's own catalog, then temporary objects (listed
// last so they shadow nothing). An unqualified function, operator or type
// in pglinks' SQL then resolves to a built-in one, never to one another
// role put in a schema of the default path ("$user", public) that matches
// the arguments more closely, which would run that role's code as
// pglinks' role.
const SearchPath = "pg_catalog, pg_temp"

// PinSearchPath makes connections start with SearchPath. A startup
// parameter outranks ALTER ROLE and ALTER DATABASE settings.
func PinSearchPath(cfg *pgconn.Config) {
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["search_path"] = SearchPath
}
