// Package auth holds who may use pglinks and what they did: users and their
// roles, password hashes, server-side sessions with their cookies and CSRF
// tokens, login throttling, and the audit trail. It knows nothing of Echo or
// templ; the HTTP layer calls it.
package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Default session lifetimes: long enough for a working day, short enough that
// a forgotten browser does not stay signed in overnight.
const (
	DefaultIdleTimeout     = 2 * time.Hour
	DefaultAbsoluteTimeout = 12 * time.Hour
)

// Store keeps users, sessions and the audit trail in the state database
// (PGLINKS_STATE_URL), inside the schema "pglinks".
type Store struct {
	// IdleTimeout ends a session nobody used for this long.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after sign-in, used or not.
	AbsoluteTimeout time.Duration

	pool *pgxpool.Pool
	now  func() time.Time // replaced in tests to travel in time
}

// Open connects to the state database and brings its schema up to date.
func Open(ctx context.Context, stateURL string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(stateURL)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, fmt.Errorf("auth: parse state database URL: %s", MaskURLs(err.Error()))
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "pglinks"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("auth: connect to state database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("auth: connect to state database: %w", err)
	}
	if err := Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return NewStore(pool), nil
}

// NewStore wraps a pool whose database is already migrated.
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{
		IdleTimeout:     DefaultIdleTimeout,
		AbsoluteTimeout: DefaultAbsoluteTimeout,
		pool:            pool,
		now:             time.Now,
	}
}

// Close releases the connections.
func (s *Store) Close() { s.pool.Close() }

// Pool is the connection pool to the state database, for other packages
// that keep their own state next to ours.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
