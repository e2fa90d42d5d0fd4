package fleet

import (
	"context"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
)

// Dial opens a connection of class to d outside the pools, named appName
// in pg_stat_activity: for probes that need a fresh session of their own.
// It counts against class's share of the cap like any other; a dial that
// waited for the cap until ctx ended wraps ErrConnCap. The caller closes
// the connection.
func (f *Fleet) Dial(ctx context.Context, d *Database, appName string, class Class) (*pgx.Conn, error) {
	return f.dial(ctx, d, appName, class, nil)
}

// dial is Dial with tune, when set, adjusting the connection's config.
func (f *Fleet) dial(ctx context.Context, d *Database, appName string, class Class, tune func(*pgx.ConnConfig)) (*pgx.Conn, error) {
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
	if tune != nil {
		tune(cfg)
	}
	return pgx.ConnectConfig(withDialClass(ctx, class), cfg)
}

// ProveCredentials connects to d afresh as a link made from its config
// var would (host, port, dbname, user, password and sslmode from the URL,
// nothing else), within the Connect deadline, and closes the connection at
// once: nil when they authenticate, else the failure (Classify says why).
// A pool never stands in for it: a pooled connection opened before a
// rotation still works after it. It counts against class's share of the
// cap like any other connection.
func (f *Fleet) ProveCredentials(ctx context.Context, d *Database, class Class) error {
	if d.ConfigErr != nil {
		return errs.Wrap(errs.Invalid, d.ConfigErr, "%s is misconfigured: %v", d.ConfigVar, d.ConfigErr)
	}
	if d.IsRedis() { // AUTH (and SELECT) happen as it connects
		c, err := f.DialRedis(ctx, d, class)
		if err == nil {
			c.Close()
		}
		return err
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(d.User, d.password), Host: d.HostPort(), Path: "/" + d.DBName}
	if d.SSLMode != "" {
		u.RawQuery = url.Values{"sslmode": {d.SSLMode}}.Encode()
	}
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return errs.E(errs.Invalid, "%s does not hold a usable postgres URL.", d.ConfigVar)
	}
	cfg.ConnectTimeout = f.Deadlines.Connect
	cfg.RuntimeParams["application_name"] = "pglinks:proof"
	CancelOnContext(&cfg.Config)
	PinSearchPath(&cfg.Config)
	cfg.DialFunc = f.connBudget().dialFunc(cfg.DialFunc)
	ctx, cancel := Bound(ctx, f.Deadlines.Connect+time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(withDialClass(ctx, class), cfg)
	if err != nil {
		return err
	}
	cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
	defer ccancel()
	conn.Close(cctx)
	return nil
}
