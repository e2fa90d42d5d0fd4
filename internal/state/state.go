// Package state is pglinks' own database (PGLINKS_STATE_URL): its
// connection and all its migrations, schema pglinks. auth keeps users,
// sessions and the audit trail there and links the record of every link
// pglinks made; both take the DB as a dependency rather than opening or
// migrating it themselves.
package state

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pglinks/pglinks/internal/fleet"
)

// DefaultCallTimeout bounds every call to the state database; a call that
// does not finish in time says the state database is not answering.
const DefaultCallTimeout = 5 * time.Second

// connectTimeout bounds connecting to the state database.
const connectTimeout = 3 * time.Second

// DB is the state database.
type DB struct {
	pool *pgxpool.Pool
}

// Open connects to the state database and brings its schema up to date.
// Its connections are application_name pglinks:state (unless the URL
// names another), outside the cap on the fleet's.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, fmt.Errorf("state: parse state database URL: %s", fleet.MaskURLs(err.Error()))
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		// Apart from the fleet's "pglinks" connections, which
		// PGLINKS_MAX_CONNECTIONS caps: these are the state database's.
		cfg.ConnConfig.RuntimeParams["application_name"] = "pglinks:state"
	}
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > connectTimeout {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	fleet.CancelOnContext(&cfg.ConnConfig.Config)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("state: connect to state database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("state: connect to state database: %w", err)
	}
	if err := Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &DB{pool: pool}, nil
}

// Pool is the connection pool, for the packages that keep their state
// here.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Ping checks that the state database answers.
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// Close releases the connections.
func (db *DB) Close() { db.pool.Close() }
