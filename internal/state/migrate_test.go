package state

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pglinks/pglinks/internal/pgtest"
)

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no migrations embedded")
	}

	countVersions := func(t *testing.T, pool *pgxpool.Pool) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM pglinks.schema_migrations").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	t.Run("OK", func(t *testing.T) {
		s := mustOpen(t)
		if n := countVersions(t, s.Pool()); n != len(ms) {
			t.Fatalf("%d versions recorded, want %d", n, len(ms))
		}
		for _, table := range []string{"users", "sessions", "audit", "links", "api_tokens", "query_checks"} {
			var ok bool
			if err := s.Pool().QueryRow(ctx, "SELECT to_regclass('pglinks.' || $1) IS NOT NULL", table).Scan(&ok); err != nil || !ok {
				t.Fatalf("table pglinks.%s missing (err %v)", table, err)
			}
		}
	})

	t.Run("Idempotent", func(t *testing.T) {
		s := mustOpen(t)
		if _, err := s.Pool().Exec(ctx, "INSERT INTO pglinks.users (email, role, password_hash) VALUES ('keep@example.com', 'admin', 'x')"); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := Migrate(ctx, s.Pool()); err != nil {
				t.Fatal(err)
			}
		}
		if n := countVersions(t, s.Pool()); n != len(ms) {
			t.Fatalf("%d versions recorded, want %d", n, len(ms))
		}
		var users int
		if err := s.Pool().QueryRow(ctx, "SELECT count(*) FROM pglinks.users").Scan(&users); err != nil || users != 1 {
			t.Fatalf("users after re-migrating: %d, %v", users, err)
		}
	})

	// A state database migrated by auth.Migrate, before the migrations
	// moved here, is taken as it is: every version it recorded has the
	// same name here, nothing runs again, and its rows stay.
	t.Run("MigratedByAuth", func(t *testing.T) {
		db := mustCreateDatabase(t)
		old, err := os.ReadFile("testdata/migrated_by_auth.sql")
		if err != nil {
			t.Fatal(err)
		}
		pgtest.MustExec(t, db.URL, string(old))
		s, err := Open(ctx, db.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		rows, err := s.Pool().Query(ctx, "SELECT version, name FROM pglinks.schema_migrations ORDER BY version")
		if err != nil {
			t.Fatal(err)
		}
		recorded, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
			Version int
			Name    string
		}])
		if err != nil {
			t.Fatal(err)
		}
		// Open failing would have meant a migration ran again (they
		// create tables without IF NOT EXISTS); versions after auth's 4
		// are new ones, applied now.
		if len(recorded) != len(ms) {
			t.Fatalf("%d versions recorded after opening, want %d", len(recorded), len(ms))
		}
		for i, r := range recorded {
			if ms[i].version != r.Version || ms[i].name != r.Name {
				t.Fatalf("version %d recorded as %s, embedded as %d %s", r.Version, r.Name, ms[i].version, ms[i].name)
			}
		}
		var users, links int
		if err := s.Pool().QueryRow(ctx, "SELECT (SELECT count(*) FROM pglinks.users WHERE email = 'kept@example.com'), (SELECT count(*) FROM pglinks.links WHERE name = 'crm')").Scan(&users, &links); err != nil || users != 1 || links != 1 {
			t.Fatalf("rows after opening: %d users, %d links, %v", users, links, err)
		}
	})

	// API tokens came after query checks (0007) but keep version 0006: a
	// state database that has every other migration gets 0006 applied when
	// it opens, and keeps what it holds.
	t.Run("EarlierVersionAddedLater", func(t *testing.T) {
		db := mustCreateDatabase(t)
		pool, err := pgxpool.New(ctx, db.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		for _, m := range ms {
			if m.version == 6 {
				continue
			}
			if err := applyMigration(ctx, pool, m); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := pool.Exec(ctx, "INSERT INTO pglinks.users (email, role, password_hash) VALUES ('keep@example.com', 'admin', 'x')"); err != nil {
			t.Fatal(err)
		}
		if err := Migrate(ctx, pool); err != nil {
			t.Fatal(err)
		}
		if n := countVersions(t, pool); n != len(ms) {
			t.Fatalf("%d versions recorded, want %d", n, len(ms))
		}
		var name string
		var tokens, users int
		if err := pool.QueryRow(ctx, `SELECT (SELECT name FROM pglinks.schema_migrations WHERE version = 6),
			(SELECT count(*) FROM pglinks.api_tokens), (SELECT count(*) FROM pglinks.users)`).Scan(&name, &tokens, &users); err != nil {
			t.Fatal(err)
		}
		if name != "0006_api_tokens.sql" || tokens != 0 || users != 1 {
			t.Fatalf("after migrating: version 6 %q, %d tokens, %d users", name, tokens, users)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		db := mustCreateDatabase(t)
		const n = 4
		pools := make([]*pgxpool.Pool, n)
		for i := range pools {
			p, err := pgxpool.New(ctx, db.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			pools[i] = p
		}
		var wg sync.WaitGroup
		errc := make(chan error, n)
		start := make(chan struct{})
		for _, p := range pools {
			wg.Go(func() {
				<-start
				errc <- Migrate(ctx, p)
			})
		}
		close(start)
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Fatalf("concurrent migrate: %v", err)
			}
		}
		if got := countVersions(t, pools[0]); got != len(ms) {
			t.Fatalf("%d versions recorded, want %d", got, len(ms))
		}
	})

	t.Run("OrderedVersions", func(t *testing.T) {
		for i := 1; i < len(ms); i++ {
			if ms[i].version <= ms[i-1].version {
				t.Fatalf("migrations out of order: %s after %s", ms[i].name, ms[i-1].name)
			}
		}
	})
}
