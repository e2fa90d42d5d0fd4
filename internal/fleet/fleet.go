package fleet

import (
	"log/slog"
	"sync"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
)

// Fleet is the ordered set of databases pglinks manages, and pglinks'
// connections to them: a small pool per database and kind, opened lazily,
// all of them under one cap (MaxConns). Every domain that reads or
// changes a fleet database (links, replication, Heroku Connect) goes
// through it, so the cap, the deadlines and the back-off hold for all.
type Fleet struct {
	Databases []*Database
	// Log receives what the fleet does on its own (a backend terminated,
	// a pool closed); slog.Default when nil.
	Log *slog.Logger
	// Deadlines bound every call to the fleet's databases.
	Deadlines Deadlines
	// MaxConns caps pglinks' connections to the fleet's databases, all
	// pools together (DefaultMaxConns when 0; see connbudget.go). Set it
	// before the first connection.
	MaxConns int
	// SnapshotMaxAge is how old a status snapshot may be before a page
	// view reads the database again (0: every view reads, coalesced); see
	// snapshots.go.
	SnapshotMaxAge time.Duration

	mu         sync.Mutex
	pools      map[string]*pool
	outages    map[string]Outage
	budgetOnce sync.Once
	budget     *connBudget
}

// New returns a fleet of dbs with production defaults.
func New(dbs []*Database) *Fleet {
	return &Fleet{
		Databases: dbs,
		Deadlines: DefaultDeadlines(),
		MaxConns:  DefaultMaxConns,
		pools:     map[string]*pool{},
	}
}

func (f *Fleet) log() *slog.Logger {
	if f.Log != nil {
		return f.Log
	}
	return slog.Default()
}

// Get finds a database by config var.
func (f *Fleet) Get(configVar string) (*Database, bool) {
	for _, d := range f.Databases {
		if d.ConfigVar == configVar {
			return d, true
		}
	}
	return nil, false
}

// Lookup finds a database pglinks can use by config var: one that is not
// in the fleet is errs.NotFound, one whose config var does not hold a
// usable URL errs.Invalid. It is the one "is it in the fleet" check, for
// handlers and domains alike.
func (f *Fleet) Lookup(configVar string) (*Database, error) {
	d, ok := f.Get(configVar)
	if !ok {
		return nil, errs.E(errs.NotFound, "There is no database %q in this fleet.", configVar)
	}
	if d.ConfigErr != nil {
		return nil, errs.Wrap(errs.Invalid, d.ConfigErr, "%s is misconfigured: %v", d.ConfigVar, d.ConfigErr)
	}
	return d, nil
}

// Close closes every pool.
func (f *Fleet) Close() {
	f.mu.Lock()
	pools := f.pools
	f.pools = map[string]*pool{}
	f.mu.Unlock()
	// Outside the lock: closing waits for connections being made, which
	// may be waiting for the cap, which looks for idle ones under it.
	for _, p := range pools {
		p.Close()
	}
}
