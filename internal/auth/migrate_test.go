package auth

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
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
		s, _ := mustOpen(t)
		if n := countVersions(t, s.Pool()); n != len(ms) {
			t.Fatalf("%d versions recorded, want %d", n, len(ms))
		}
		for _, table := range []string{"users", "sessions", "audit"} {
			var ok bool
			if err := s.Pool().QueryRow(ctx, "SELECT to_regclass('pglinks.' || $1) IS NOT NULL", table).Scan(&ok); err != nil || !ok {
				t.Fatalf("table pglinks.%s missing (err %v)", table, err)
			}
		}
	})

	t.Run("Idempotent", func(t *testing.T) {
		s, _ := mustOpen(t)
		mustAddUser(t, s, "keep@example.com", RoleAdmin)
		for range 2 {
			if err := Migrate(ctx, s.Pool()); err != nil {
				t.Fatal(err)
			}
		}
		if n := countVersions(t, s.Pool()); n != len(ms) {
			t.Fatalf("%d versions recorded, want %d", n, len(ms))
		}
		if users, err := s.ListUsers(ctx); err != nil || len(users) != 1 {
			t.Fatalf("users after re-migrating: %v, %v", users, err)
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
