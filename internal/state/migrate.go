package state

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migration/*.sql
var migrationFiles embed.FS

// migrateLockKey serialises migrations across every process sharing the
// state database ("pglinks" in ASCII; any constant would do as long as no
// other code uses it).
const migrateLockKey int64 = 0x70676c696e6b73

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded files named NNNN_description.sql, in
// version order.
func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migration/*.sql")
	if err != nil {
		return nil, fmt.Errorf("state: list migrations: %w", err)
	}
	var ms []migration
	seen := map[int]string{}
	for _, name := range names {
		base := path.Base(name)
		prefix, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("state: migration %s: name must start with a positive version and '_'", base)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("state: migrations %s and %s share version %d", other, base, v)
		}
		seen[v] = base
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("state: read migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// Migrate creates or upgrades the pglinks schema in the state database. Each
// migration runs in its own transaction under a transaction-scoped advisory
// lock, so two processes starting at once apply each migration exactly once
// and a failed migration leaves nothing half-done.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := applyMigration(ctx, pool, m); err != nil {
			return err
		}
	}
	return nil
}

func applyMigration(ctx context.Context, pool *pgxpool.Pool, m migration) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("state: migrate %s: begin: %w", m.name, err)
	}
	defer tx.Rollback(ctx)

	// The lock comes first: CREATE ... IF NOT EXISTS alone still races on
	// the catalog's unique indexes.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLockKey); err != nil {
		return fmt.Errorf("state: migrate %s: lock: %w", m.name, err)
	}
	if err := ensureMigrationTable(ctx, tx); err != nil {
		return fmt.Errorf("state: migrate %s: %w", m.name, err)
	}
	var applied bool
	err = tx.QueryRow(ctx,
		"SELECT EXISTS (SELECT 1 FROM pglinks.schema_migrations WHERE version = $1)", m.version).Scan(&applied)
	if err != nil {
		return fmt.Errorf("state: migrate %s: check: %w", m.name, err)
	}
	if applied {
		return nil
	}
	if _, err := tx.Exec(ctx, m.sql); err != nil {
		return fmt.Errorf("state: migrate %s: %w", m.name, err)
	}
	if _, err := tx.Exec(ctx,
		"INSERT INTO pglinks.schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
		return fmt.Errorf("state: migrate %s: record: %w", m.name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("state: migrate %s: commit: %w", m.name, err)
	}
	return nil
}

func ensureMigrationTable(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `
		CREATE SCHEMA IF NOT EXISTS pglinks;
		CREATE TABLE IF NOT EXISTS pglinks.schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`)
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	return nil
}
