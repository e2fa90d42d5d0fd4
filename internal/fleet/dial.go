package fleet

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
)

// Dial opens a connection of class to d outside the pools, named appName
// in pg_stat_activity: for probes that need a fresh session of their own.
// It counts against class's share of the cap like any other; a dial that
// waited for the cap until ctx ended wraps ErrConnCap. The caller closes
// the connection.
func (f *Fleet) Dial(ctx context.Context, d *Database, appName string, class Class) (*pgx.Conn, error) {
	if d.IsRedis() {
		return nil, notPostgres(d)
	}
	cfg, err := pgx.ParseConfig(d.ConnString())
	if err != nil {
		return nil, errs.E(errs.Invalid, "%s does not hold a usable postgres URL.", d.ConfigVar)
	}
	cfg.ConnectTimeout = f.Deadlines.Connect
	cfg.RuntimeParams["application_name"] = appName
	CancelOnContext(&cfg.Config)
	PinSearchPath(&cfg.Config)
	cfg.DialFunc = f.connBudget().dialFunc(cfg.DialFunc)
	return pgx.ConnectConfig(withDialClass(ctx, class), cfg)
}
