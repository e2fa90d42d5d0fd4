// Package links is the domain of pglinks: the fleet of databases and the
// postgres_fdw data links between them. It talks to PostgreSQL with pgx and
// knows nothing of HTTP or HTML.
package links

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pglinks/pglinks/internal/errs"
)

// Service manages links across a fleet. It keeps one small pool per
// database, opened lazily.
type Service struct {
	Fleet *Fleet
	Log   *slog.Logger

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

	mu    sync.Mutex
	pools map[string]*pgxpool.Pool
}

// NewService returns a Service over fleet with production defaults.
func NewService(fleet *Fleet, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{
		Fleet:                fleet,
		Log:                  log,
		ConnectTimeout:       3 * time.Second,
		StatusTimeout:        4 * time.Second,
		RemoteConnectTimeout: 5,
		LockTimeout:          5 * time.Second,
		pools:                map[string]*pgxpool.Pool{},
	}
}

// Close closes every pool.
func (s *Service) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, p := range s.pools {
		p.Close()
		delete(s.pools, k)
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

func (s *Service) pool(d *Database) (*pgxpool.Pool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pools[d.ConfigVar]; ok {
		return p, nil
	}
	cfg, err := pgxpool.ParseConfig(d.ConnString())
	if err != nil {
		return nil, errs.E(errs.Invalid, "%s does not hold a usable postgres URL.", d.ConfigVar)
	}
	cfg.ConnConfig.ConnectTimeout = s.ConnectTimeout
	cfg.ConnConfig.RuntimeParams["application_name"] = "pglinks"
	cfg.MaxConns = 4
	cfg.MaxConnIdleTime = 5 * time.Minute
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("links: pool for %s: %w", d.ConfigVar, err)
	}
	s.pools[d.ConfigVar] = p
	return p, nil
}

// acquire returns a connection to d, with connection failures classified.
func (s *Service) acquire(ctx context.Context, d *Database) (*pgxpool.Conn, error) {
	p, err := s.pool(d)
	if err != nil {
		return nil, err
	}
	conn, err := p.Acquire(ctx)
	if err != nil {
		return nil, connectError(d, err)
	}
	return conn, nil
}

// begin opens a transaction on d. done rolls back (a no-op after Commit)
// and returns the connection to the pool.
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
	return tx, func() { tx.Rollback(ctx); conn.Release() }, nil
}

// beginLocked opens a write transaction holding the lock on link name.
func (s *Service) beginLocked(ctx context.Context, d *Database, name string) (pgx.Tx, func(), error) {
	tx, done, err := s.begin(ctx, d, pgx.TxOptions{})
	if err != nil {
		return nil, nil, err
	}
	if err := lockLink(ctx, tx, name, s.LockTimeout); err != nil {
		done()
		return nil, nil, err
	}
	return tx, done, nil
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
