// Package links is one data link's lifecycle: create, destroy, import,
// refresh, drift, repair and health of the postgres_fdw links between the
// fleet's databases, and the inventory of them. It talks to PostgreSQL
// with pgx over the fleet's connections and knows nothing of HTTP or HTML.
package links

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// Service manages links across a fleet, over the fleet's connections.
type Service struct {
	Fleet *fleet.Fleet
	Log   *slog.Logger
	// Registry is pglinks' record of the links it made (the state
	// database). Without it nothing counts as a link.
	Registry Registry

	snapsOnce sync.Once
	snaps     *fleet.Snapshots[DatabaseStatus]
	pages     linkPages
	// redisAvail remembers which servers have pglinks_redis.
	redisAvail availability
}

// NewService returns a Service over the fleet f.
func NewService(f *fleet.Fleet, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{Fleet: f, Log: log}
}

// Close stops the link pages' background comparisons. The fleet's pools
// are its owner's to close, after this.
func (s *Service) Close() {
	s.pages.stop()
}

// database looks a config var up in the fleet; field names the form field
// the error belongs to.
func (s *Service) database(configVar, field string) (*fleet.Database, error) {
	d, err := s.Fleet.Lookup(configVar)
	if e, ok := err.(*errs.Error); ok {
		return nil, e.OnField(field)
	}
	return d, err
}

// beginLocked opens a write transaction holding the lock on link name,
// with statement_timeout and idle_in_transaction_session_timeout set for
// the transaction alone.
func (s *Service) beginLocked(ctx context.Context, d *fleet.Database, name string) (pgx.Tx, func(), error) {
	tx, done, err := s.Fleet.Begin(ctx, d, pgx.TxOptions{})
	if err != nil {
		return nil, nil, err
	}
	if err := fleet.SetTxTimeouts(ctx, tx, s.Fleet.Deadlines.Statement); err != nil {
		done()
		return nil, nil, fleet.ConnectError(d, err)
	}
	if err := lockLink(ctx, tx, name, s.Fleet.Deadlines.Lock); err != nil {
		done()
		return nil, nil, err
	}
	return tx, done, nil
}

// guardRemote watches a statement that talks to remote through a link's
// foreign server. When it runs past its statement_timeout (plus a grace), or ctx
// ends, it cuts the link's connections on the remote side: PostgreSQL
// reports the timeout to pglinks only after postgres_fdw has waited (up to
// 30 s) for the silent remote to answer its cancel. stop ends the watch.
func (s *Service) guardRemote(ctx context.Context, remote *fleet.Database, appName string) (stop func()) {
	var once sync.Once
	abandon := func() { once.Do(func() { s.abandonRemote(remote, appName) }) }
	timer := time.AfterFunc(s.Fleet.Deadlines.Statement+time.Second, abandon)
	stopCtx := context.AfterFunc(ctx, abandon)
	return func() {
		timer.Stop()
		stopCtx()
	}
}

// abandonRemote ends, on the remote, the connections a link's foreign
// server opened (found by their application_name), over pglinks' own
// connection to the remote. A postgres_fdw backend whose statement timed
// out waits for its remote before it rolls back; once the remote side is
// closed it rolls back at once and releases the link's lock.
func (s *Service) abandonRemote(remote *fleet.Database, appName string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.Fleet.Deadlines.Abandon)
	defer cancel()
	conn, err := s.Fleet.Acquire(ctx, remote, fleet.ClassUser)
	if err != nil {
		s.Log.Warn("abandon remote connections: connect", "remote", remote.ConfigVar, "err", errs.MessageOf(err))
		return
	}
	defer conn.Release()
	var n int
	err = conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid))
		  FROM pg_stat_activity
		 WHERE left(application_name, length($1)) = $1 AND usename = current_user AND pid <> pg_backend_pid()`, appName).Scan(&n)
	if err != nil {
		s.Log.Warn("abandon remote connections", "remote", remote.ConfigVar, "err", err)
		return
	}
	s.Log.Info("abandoned stalled remote connections", "remote", remote.ConfigVar, "connections", n)
}
