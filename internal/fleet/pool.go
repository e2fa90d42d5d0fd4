package fleet

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pglinks/pglinks/internal/errs"
)

// Class is a kind of connection, with its own share of the cap and its
// own pool per database: user-facing reads and writes, and the
// inventory's status reads and health probes, so that however busy the
// link pages are, a status read never waits for a connection and a
// healthy database never shows as unreachable because pglinks' own pool
// was full.
type Class string

const (
	ClassUser   Class = "user"
	ClassStatus Class = "status"
)

// Pool sizes: a database's user pool may hold a few of the user class's
// connections; its status reads are coalesced, so one connection does.
// Idle connections are closed after a minute (or sooner, when another
// database needs the cap).
const (
	userPoolConns   = 4
	statusPoolConns = 1
	poolIdleTime    = time.Minute
	// poolUnusedTime is how long a pool nobody used is kept: CloseUnused
	// closes older ones, so a fleet of hundreds costs memory for those in
	// use.
	poolUnusedTime = 10 * time.Minute
)

// pool is one database's pool of one class, with when it was last used:
// idle connections are taken from the least recently used pools first
// when the cap is reached.
type pool struct {
	*pgxpool.Pool
	class    Class
	lastUsed atomic.Int64 // unix nanoseconds
}

func (p *pool) touch() { p.lastUsed.Store(time.Now().UnixNano()) }

func (f *Fleet) connBudget() *connBudget {
	f.budgetOnce.Do(func() {
		n := f.MaxConns
		if n <= 0 {
			n = DefaultMaxConns
		}
		f.budget = newConnBudget(n, f.evictIdle)
	})
	return f.budget
}

// evictIdle closes one idle connection of class, from the least recently
// used pool holding one, so that a dial waiting for the cap gets its
// token; false when no pool of the class has an idle connection.
func (f *Fleet) evictIdle(class Class) bool {
	f.mu.Lock()
	var cands []*pool
	for _, p := range f.pools {
		if p.class == class && p.Stat().IdleConns() > 0 {
			cands = append(cands, p)
		}
	}
	f.mu.Unlock()
	slices.SortFunc(cands, func(a, b *pool) int { return cmp.Compare(a.lastUsed.Load(), b.lastUsed.Load()) })
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

func poolKey(d *Database, class Class) string { return d.ConfigVar + "\x00" + string(class) }

func (f *Fleet) pool(d *Database, class Class) (*pool, error) {
	if d.IsRedis() {
		return nil, notPostgres(d)
	}
	budget := f.connBudget()
	f.mu.Lock()
	defer f.mu.Unlock()
	key := poolKey(d, class)
	if p, ok := f.pools[key]; ok {
		p.touch()
		return p, nil
	}
	cfg, err := pgxpool.ParseConfig(d.ConnString())
	if err != nil {
		return nil, errs.E(errs.Invalid, "%s does not hold a usable postgres URL.", d.ConfigVar)
	}
	cfg.ConnConfig.ConnectTimeout = f.Deadlines.Connect
	cfg.ConnConfig.RuntimeParams["application_name"] = "pglinks"
	CancelOnContext(&cfg.ConnConfig.Config)
	PinSearchPath(&cfg.ConnConfig.Config)
	cfg.ConnConfig.DialFunc = budget.dialFunc(cfg.ConnConfig.DialFunc)
	c := budget.class[class]
	cfg.AfterRelease = func(*pgx.Conn) bool {
		c.released()
		return true
	}
	cfg.MaxConns = userPoolConns
	if class == ClassStatus {
		cfg.MaxConns = statusPoolConns
	}
	cfg.MinConns = 0
	cfg.MaxConnIdleTime = poolIdleTime
	cfg.HealthCheckPeriod = poolIdleTime / 4
	pp, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("fleet: pool for %s: %w", d.ConfigVar, err)
	}
	p := &pool{Pool: pp, class: class}
	p.touch()
	if f.pools == nil {
		f.pools = map[string]*pool{}
	}
	f.pools[key] = p
	return p, nil
}

// CloseUnused closes the pools nobody used for a while (10 minutes).
func (f *Fleet) CloseUnused() {
	cutoff := time.Now().Add(-poolUnusedTime).UnixNano()
	f.mu.Lock()
	var old []*pool
	for k, p := range f.pools {
		if p.lastUsed.Load() < cutoff && p.Stat().AcquiredConns() == 0 {
			old = append(old, p)
			delete(f.pools, k)
		}
	}
	f.mu.Unlock()
	for _, p := range old {
		go p.Close()
	}
}

// Discard replaces d's pool of class with a new one on next use and
// closes the old one in the background. After a database stopped
// answering, its connections take up to 15 s each to close (pgx waits for
// the server to acknowledge the end of the session); the next read must
// not find every slot still taken by them.
func (f *Fleet) Discard(d *Database, class Class) {
	f.mu.Lock()
	key := poolKey(d, class)
	p, ok := f.pools[key]
	delete(f.pools, key)
	f.mu.Unlock()
	if ok {
		go p.Close()
	}
}

// Acquire returns a pooled connection of class to d, for as long as ctx
// allows; the caller releases it. Failures come back as errs.Unavailable
// saying which database and why: pglinks busy (the cap, or d's own pool;
// IsBusy), unreachable, or credentials refused.
func (f *Fleet) Acquire(ctx context.Context, d *Database, class Class) (*pgxpool.Conn, error) {
	p, err := f.pool(d, class)
	if err != nil {
		return nil, err
	}
	conn, err := p.Acquire(withDialClass(ctx, class))
	if err != nil {
		// The caller's own deadline may end while its dial still waits
		// for the cap: that wait is pglinks', not the database's.
		if errors.Is(err, ErrConnCap) || ctx.Err() != nil && f.connBudget().class[class].short() {
			if !errors.Is(err, ErrConnCap) {
				err = fmt.Errorf("%w: %w", ErrConnCap, err)
			}
			return nil, errs.Wrap(errs.Unavailable, err, "%s (%s) was not asked: %s (%s); try again in a moment", d.ConfigVar, d.ResourceName, ErrConnCap, f.CapHint(class))
		}
		if st := p.Stat(); IsTimeout(err) && st.AcquiredConns() >= st.MaxConns() {
			// Every connection was in use the whole time: pglinks is
			// busy, the database may be fine.
			return nil, errs.Wrap(errs.Unavailable, fmt.Errorf("%w: %w", errPoolBusy, err), "%s (%s): pglinks' own connections to it are all busy; try again in a moment", d.ConfigVar, d.ResourceName)
		}
		return nil, ConnectError(d, err)
	}
	return conn, nil
}

// errPoolBusy marks a wait for a database's own pool that timed out.
var errPoolBusy = errors.New("pool busy")

// IsBusy reports whether err is pglinks being busy (cap or pool), not the
// database failing.
func IsBusy(err error) bool { return errors.Is(err, ErrConnCap) || errors.Is(err, errPoolBusy) }

// CapHint says how much of the cap class has, for messages that name the
// setting.
func (f *Fleet) CapHint(class Class) string {
	b := f.connBudget()
	return fmt.Sprintf("%d of PGLINKS_MAX_CONNECTIONS=%d are for %s", cap(b.class[class].tokens), b.max, classPurpose(class))
}

// Workers bounds how many reads of class are worth running at once: more
// than the class's share of the cap would only wait for each other's
// connections.
func (f *Fleet) Workers(class Class, want int) int {
	return max(min(want, cap(f.connBudget().class[class].tokens)), 1)
}
