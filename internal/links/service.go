// Package links is the domain of pglinks: the fleet of databases and the
// postgres_fdw data links between them. It talks to PostgreSQL with pgx and
// knows nothing of HTTP or HTML.
package links

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/pgconf"
	"golang.org/x/sync/singleflight"
)

// Service manages links across a fleet. It keeps one small pool per
// database, opened lazily.
type Service struct {
	Fleet *Fleet
	Log   *slog.Logger
	// Registry is pglinks' record of the links it made (the state
	// database). Without it nothing counts as a link.
	Registry Registry

	// ConnectTimeout bounds connecting to a fleet database from pglinks.
	ConnectTimeout time.Duration
	// StatusTimeout bounds reading one database's inventory, so an
	// unreachable database shows as such within a few seconds.
	StatusTimeout time.Duration
	// RemoteConnectTimeout is the connect_timeout (seconds) set on every
	// foreign server: without it a remote that accepts TCP and never answers
	// hangs IMPORT FOREIGN SCHEMA for good.
	RemoteConnectTimeout int
	// LockTimeout bounds waiting for another process working on the same link.
	LockTimeout time.Duration
	// StatementTimeout is set (SET LOCAL) in every transaction that changes
	// a link, so a remote that stops answering mid-statement fails the
	// operation instead of holding its transaction and lock.
	StatementTimeout time.Duration
	// ReadTimeout bounds a page's reads of one database (link page,
	// destroy plan) when the caller's context has no earlier deadline.
	ReadTimeout time.Duration
	// WriteTimeout bounds a whole create or destroy, pre-flight included.
	WriteTimeout time.Duration
	// Keepalive is the libpq TCP keepalive idle time set on every foreign
	// server, so a remote that vanished from the network is noticed.
	Keepalive time.Duration
	// QueryCheckTimeout is the statement_timeout of a query check's
	// EXPLAIN (or EXPLAIN ANALYZE) of an admin's SELECT.
	QueryCheckTimeout time.Duration

	// SnapshotMaxAge is how old an inventory snapshot may be before a page
	// view reads the database again (0: every view reads, coalesced). Run
	// keeps snapshots younger than this in the background.
	SnapshotMaxAge time.Duration
	// MaxConns caps pglinks' connections to the fleet's databases, all
	// pools together (DefaultMaxConns when 0; see connbudget.go). Set it
	// before the first connection.
	MaxConns int

	mu           sync.Mutex
	pools        map[string]*fleetPool
	budgetOnce   sync.Once
	budget       *connBudget
	statusFlight singleflight.Group
	snaps        snapshots
	pages        linkPages
}

// fleetPool is one database's pool of one kind, with when it was last
// used: idle connections are taken from the least recently used pools
// first when the cap is reached.
type fleetPool struct {
	*pgxpool.Pool
	kind     string
	lastUsed atomic.Int64 // unix nanoseconds
}

func (p *fleetPool) touch() { p.lastUsed.Store(time.Now().UnixNano()) }

func (s *Service) connBudget() *connBudget {
	s.budgetOnce.Do(func() {
		n := s.MaxConns
		if n <= 0 {
			n = DefaultMaxConns
		}
		s.budget = newConnBudget(n, s.evictIdle)
	})
	return s.budget
}

// evictIdle closes one idle connection of class, from the least recently
// used pool holding one, so that a dial waiting for the cap gets its
// token; false when no pool of the class has an idle connection.
func (s *Service) evictIdle(class string) bool {
	s.mu.Lock()
	var cands []*fleetPool
	for _, p := range s.pools {
		if p.kind == class && p.Stat().IdleConns() > 0 {
			cands = append(cands, p)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(cands, func(a, b *fleetPool) int { return cmp.Compare(a.lastUsed.Load(), b.lastUsed.Load()) })
	for _, p := range cands {
		idle := p.AcquireAllIdle(context.Background())
		if len(idle) == 0 {
			continue
		}
		for _, c := range idle[1:] {
			c.Release()
		}
		conn := idle[0].Hijack()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(ctx) // gives its token back
		cancel()
		return true
	}
	return false
}

// NewService returns a Service over fleet with production defaults.
func NewService(fleet *Fleet, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{
		MaxConns:             DefaultMaxConns,
		Fleet:                fleet,
		Log:                  log,
		ConnectTimeout:       3 * time.Second,
		StatusTimeout:        4 * time.Second,
		RemoteConnectTimeout: 5,
		LockTimeout:          5 * time.Second,
		StatementTimeout:     30 * time.Second,
		ReadTimeout:          8 * time.Second,
		WriteTimeout:         60 * time.Second,
		Keepalive:            10 * time.Second,
		QueryCheckTimeout:    5 * time.Second,
		pools:                map[string]*fleetPool{},
	}
}

// Close stops the link pages' background comparisons and closes every
// pool.
func (s *Service) Close() {
	s.pages.stop()
	s.mu.Lock()
	pools := s.pools
	s.pools = map[string]*fleetPool{}
	s.mu.Unlock()
	// Outside the lock: closing waits for connections being made, which
	// may be waiting for the cap, which looks for idle ones under it.
	for _, p := range pools {
		p.Close()
	}
}

// database looks a config var up in the fleet; field names the form field
// the error belongs to.
func (s *Service) database(configVar, field string) (*Database, error) {
	d, ok := s.Fleet.Get(configVar)
	if !ok {
		return nil, errs.E(errs.NotFound, "%q is not a database of this fleet.", configVar).OnField(field)
	}
	if d.ConfigErr != nil {
		return nil, errs.Wrap(errs.Invalid, d.ConfigErr, "%s is misconfigured: %v", d.ConfigVar, d.ConfigErr).OnField(field)
	}
	return d, nil
}

// Pool kinds: user-facing reads and writes, and the inventory's status
// reads, so that however busy the link pages are, a status read never
// waits for a connection and a healthy database never shows as
// unreachable because pglinks' own pool was full.
const (
	userPool   = "user"
	statusPool = "status"
)

// Pool sizes: a database's user pool may hold a few of the user class's
// connections; its status reads are coalesced, so one connection does.
// Idle connections are closed after a minute (or sooner, when another
// database needs the cap).
const (
	userPoolConns   = 4
	statusPoolConns = 1
	poolIdleTime    = time.Minute
	// poolUnusedTime is how long a pool nobody used is kept: Run closes
	// older ones, so a fleet of hundreds costs memory for those in use.
	poolUnusedTime = 10 * time.Minute
)

func (s *Service) pool(d *Database, kind string) (*fleetPool, error) {
	budget := s.connBudget()
	s.mu.Lock()
	defer s.mu.Unlock()
	key := d.ConfigVar + "\x00" + kind
	if p, ok := s.pools[key]; ok {
		p.touch()
		return p, nil
	}
	cfg, err := pgxpool.ParseConfig(d.ConnString())
	if err != nil {
		return nil, errs.E(errs.Invalid, "%s does not hold a usable postgres URL.", d.ConfigVar)
	}
	cfg.ConnConfig.ConnectTimeout = s.ConnectTimeout
	cfg.ConnConfig.RuntimeParams["application_name"] = "pglinks"
	pgconf.CancelOnContext(&cfg.ConnConfig.Config)
	cfg.ConnConfig.DialFunc = budget.dialFunc(cfg.ConnConfig.DialFunc)
	class := budget.class[kind]
	cfg.AfterRelease = func(*pgx.Conn) bool {
		class.released()
		return true
	}
	cfg.MaxConns = userPoolConns
	if kind == statusPool {
		cfg.MaxConns = statusPoolConns
	}
	cfg.MinConns = 0
	cfg.MaxConnIdleTime = poolIdleTime
	cfg.HealthCheckPeriod = poolIdleTime / 4
	pp, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("links: pool for %s: %w", d.ConfigVar, err)
	}
	p := &fleetPool{Pool: pp, kind: kind}
	p.touch()
	s.pools[key] = p
	return p, nil
}

// closeUnusedPools closes the pools nobody used for poolUnusedTime.
func (s *Service) closeUnusedPools() {
	cutoff := time.Now().Add(-poolUnusedTime).UnixNano()
	s.mu.Lock()
	var old []*fleetPool
	for k, p := range s.pools {
		if p.lastUsed.Load() < cutoff && p.Stat().AcquiredConns() == 0 {
			old = append(old, p)
			delete(s.pools, k)
		}
	}
	s.mu.Unlock()
	for _, p := range old {
		go p.Close()
	}
}

// discardPool replaces d's pool of kind with a new one on next use and
// closes the old one in the background. After a database stopped
// answering, its connections take up to 15 s each to close (pgx waits for
// the server to acknowledge the end of the session); the next read must not
// find every slot still taken by them.
func (s *Service) discardPool(d *Database, kind string) {
	s.mu.Lock()
	key := d.ConfigVar + "\x00" + kind
	p, ok := s.pools[key]
	delete(s.pools, key)
	s.mu.Unlock()
	if ok {
		go p.Close()
	}
}

// acquire returns a connection to d, with connection failures classified.
func (s *Service) acquire(ctx context.Context, d *Database) (*pgxpool.Conn, error) {
	return s.acquireFrom(ctx, d, userPool)
}

func (s *Service) acquireFrom(ctx context.Context, d *Database, kind string) (*pgxpool.Conn, error) {
	p, err := s.pool(d, kind)
	if err != nil {
		return nil, err
	}
	conn, err := p.Acquire(withDialClass(ctx, kind))
	if err != nil {
		// The caller's own deadline may end while its dial still waits
		// for the cap: that wait is pglinks', not the database's.
		if errors.Is(err, ErrConnCap) || ctx.Err() != nil && s.connBudget().class[kind].short() {
			if !errors.Is(err, ErrConnCap) {
				err = fmt.Errorf("%w: %w", ErrConnCap, err)
			}
			return nil, errs.Wrap(errs.Unavailable, err, "%s (%s) was not asked: %s (%s); try again in a moment", d.ConfigVar, d.ResourceName, ErrConnCap, capHint(s.connBudget(), kind))
		}
		if st := p.Stat(); isTimeout(err) && st.AcquiredConns() >= st.MaxConns() {
			// Every connection was in use the whole time: pglinks is
			// busy, the database may be fine.
			return nil, errs.Wrap(errs.Unavailable, fmt.Errorf("%w: %w", errPoolBusy, err), "%s (%s): pglinks' own connections to it are all busy; try again in a moment", d.ConfigVar, d.ResourceName)
		}
		return nil, connectError(d, err)
	}
	return conn, nil
}

// errPoolBusy marks a wait for a database's own pool that timed out.
var errPoolBusy = errors.New("pool busy")

// isBusy reports whether err is pglinks being busy (cap or pool), not the
// database failing.
func isBusy(err error) bool { return errors.Is(err, ErrConnCap) || errors.Is(err, errPoolBusy) }

func capHint(b *connBudget, class string) string {
	return fmt.Sprintf("%d of PGLINKS_MAX_CONNECTIONS=%d are for %s", cap(b.class[class].tokens), b.max, classPurpose(class))
}

// bound gives ctx a deadline of at most d from now.
func bound(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// begin opens a transaction on d. done rolls back (a no-op after Commit)
// and returns the connection to the pool. The rollback gets a context of
// its own: a request that ended must still end its transaction, and a
// backend that does not finish rolling back in time is terminated, so no
// transaction or advisory lock outlives the operation.
func (s *Service) begin(ctx context.Context, d *Database, opts pgx.TxOptions) (tx pgx.Tx, done func(), err error) {
	conn, err := s.acquire(ctx, d)
	if err != nil {
		return nil, nil, err
	}
	tx, err = conn.BeginTx(ctx, opts)
	if err != nil {
		conn.Release()
		return nil, nil, connectError(d, err)
	}
	pid := conn.Conn().PgConn().PID()
	return tx, func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tx.Rollback(rctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
			s.Log.Warn("rollback failed; terminating the backend", "database", d.ConfigVar, "pid", pid, "err", err)
			conn.Conn().PgConn().Close(rctx)
			s.terminateBackend(d, pid)
		}
		conn.Release()
	}, nil
}

// terminateBackend ends a backend of pglinks' own role in d, over another
// connection: for a transaction whose connection could not roll it back.
func (s *Service) terminateBackend(d *Database, pid uint32) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := s.acquire(ctx, d)
	if err != nil {
		s.Log.Warn("terminate backend: connect", "database", d.ConfigVar, "pid", pid, "err", err)
		return
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend($1, 5000)", int64(pid)); err != nil {
		s.Log.Warn("terminate backend", "database", d.ConfigVar, "pid", pid, "err", err)
	}
}

// beginLocked opens a write transaction holding the lock on link name,
// with statement_timeout and idle_in_transaction_session_timeout set for
// the transaction alone.
func (s *Service) beginLocked(ctx context.Context, d *Database, name string) (pgx.Tx, func(), error) {
	tx, done, err := s.begin(ctx, d, pgx.TxOptions{})
	if err != nil {
		return nil, nil, err
	}
	if err := setTxTimeouts(ctx, tx, s.StatementTimeout); err != nil {
		done()
		return nil, nil, connectError(d, err)
	}
	if err := lockLink(ctx, tx, name, s.LockTimeout); err != nil {
		done()
		return nil, nil, err
	}
	return tx, done, nil
}

func setTxTimeouts(ctx context.Context, tx pgx.Tx, statement time.Duration) error {
	ms := statement.Milliseconds()
	if ms <= 0 {
		ms = 1
	}
	_, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d; SET LOCAL idle_in_transaction_session_timeout = %d", ms, ms+5000))
	return err
}

// connectError turns a failure to reach d from pglinks into a message that
// says which: unreachable, or credentials refused.
func connectError(d *Database, err error) error {
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	reason := classifyConnErr(err)
	return errs.Wrap(errs.Unavailable, err, "%s (%s) %s", d.ConfigVar, d.ResourceName, reason)
}

// guardRemote watches a statement that talks to remote through a link's
// foreign server. When it runs past StatementTimeout (plus a grace), or ctx
// ends, it cuts the link's connections on the remote side: PostgreSQL
// reports the timeout to pglinks only after postgres_fdw has waited (up to
// 30 s) for the silent remote to answer its cancel. stop ends the watch.
func (s *Service) guardRemote(ctx context.Context, remote *Database, appName string) (stop func()) {
	var once sync.Once
	abandon := func() { once.Do(func() { s.abandonRemote(remote, appName) }) }
	timer := time.AfterFunc(s.StatementTimeout+time.Second, abandon)
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
func (s *Service) abandonRemote(remote *Database, appName string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := s.acquire(ctx, remote)
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
