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
	viewMu    sync.Mutex
	inv       *inventoryView
	pages     linkPages
	proofs    envProofs
	// health is the health monitor made over this service (NewMonitor):
	// it keeps each link's one health record, which pglinks' own changes
	// to a link update at once, and what a link's own last probe found
	// weighs in its staleness.
	health *Monitor
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
	tx, done, err := s.Fleet.BeginOnce(ctx, d, pgx.TxOptions{})
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
// foreign server, run by tx's backend in local. When it runs past its
// statement_timeout (plus a grace), or ctx ends, it cuts the link's
// connections on the remote side: PostgreSQL reports the timeout to
// pglinks only after postgres_fdw has waited (up to 30 s) for the silent
// remote to answer its cancel, and once the remote's side is closed it
// rolls back at once. Behind a middlebox that keeps the local side of the
// socket open, cutting the remote frees nothing; so if the statement has
// not ended a moment later, pglinks ends the local backend too and stops
// waiting for it (abandonLocal). stop ends the watch; when it returns, no
// cut is under way or still to come.
func (s *Service) guardRemote(ctx context.Context, tx pgx.Tx, local, remote *fleet.Database, appName string) (stop func()) {
	cut := s.remoteCut(remote, appName)
	ended := make(chan struct{})
	overran := func() {
		cut.run()
		select {
		case <-ended:
		case <-time.After(localGrace):
			s.abandonLocal(tx, local)
		}
	}
	timer := time.AfterFunc(s.Fleet.Deadlines.Statement+time.Second, overran)
	stopCtx := context.AfterFunc(ctx, cut.run)
	return func() {
		close(ended)
		timer.Stop()
		stopCtx()
		cut.settle()
	}
}

// remoteCut ends a link's connections on its remote (abandonRemote) at
// most once.
type remoteCut struct {
	once    sync.Once
	s       *Service
	remote  *fleet.Database
	appName string
}

func (s *Service) remoteCut(remote *fleet.Database, appName string) *remoteCut {
	return &remoteCut{s: s, remote: remote, appName: appName}
}

// run cuts, unless a cut ran or settle was called before.
func (c *remoteCut) run() { c.once.Do(func() { c.s.abandonRemote(c.remote, c.appName) }) }

// settle waits for a cut already under way (bounded by Deadlines.Abandon)
// and keeps one not yet begun from ever running: once the operation it
// watched has returned, a late cut would end connections that sessions
// open through the link after it.
func (c *remoteCut) settle() { c.once.Do(func() {}) }

// localGrace is how long a statement whose remote connections were cut
// may take to end on its own before its local backend is ended.
const localGrace = 500 * time.Millisecond

// abandonLocal ends the local backend of tx, whose statement overran and
// did not end when its remote connections were cut (postgres_fdw waits up
// to 30 s for an answer to its cancel, on a socket a middlebox keeps
// open), and stops pglinks' own wait for it by expiring its socket's
// deadline: the statement then fails at once. The backend is signalled
// (pglinks may end its own role's backends), but PostgreSQL holds
// interrupts while it aborts: it ends, with its transaction and the
// link's lock, only when postgres_fdw's 30 s cleanup wait does.
func (s *Service) abandonLocal(tx pgx.Tx, local *fleet.Database) {
	pc := tx.Conn().PgConn()
	s.Log.Warn("ending a local backend stuck on a silent remote", "local", local.ConfigVar, "pid", pc.PID())
	s.Fleet.TerminateBackend(local, pc.PID())
	pc.Conn().SetDeadline(time.Now())
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
		  FROM pg_stat_activity WHERE `+remoteConnsWhere+` AND usename = current_user`, appName).Scan(&n)
	if err != nil {
		s.Log.Warn("abandon remote connections", "remote", remote.ConfigVar, "err", err)
		return
	}
	s.Log.Info("abandoned stalled remote connections", "remote", remote.ConfigVar, "connections", n)
}
