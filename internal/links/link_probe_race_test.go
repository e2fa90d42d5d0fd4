package links

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pglinks/pglinks/internal/errs"
)

// racingProbes probes link name of svc from three goroutines until stop
// is called. A probe may stand aside (busy) or find the link gone; it must
// never fail with an internal error.
func racingProbes(t *testing.T, svc *Service, name string) (stop func()) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := svc.ProbeLink(context.Background(), "DATABASE_URL", name); err != nil && errs.KindOf(err) == errs.Internal {
					t.Errorf("probe racing a change: %v", err)
				}
			}
		})
	}
	return func() { close(done); wg.Wait() }
}

// pglinks' own probes never deadlock with its own changes to the same link:
// destroy, refresh, import and repair each race a stream of probes of that
// link, many rounds, and each change succeeds (its plan is taken under the
// same lock, and a collision with other work would be retried).
func TestChangesRacingProbes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const rounds = 10
	pause := func(round int) { time.Sleep(time.Duration(round%5) * 15 * time.Millisecond) }

	t.Run("Destroy", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		for round := range rounds {
			createSales(t, f)
			plan, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", "sales")
			if err != nil {
				t.Fatal(err)
			}
			stop := racingProbes(t, f.svc, "sales")
			pause(round)
			_, err = f.svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "sales", Confirm: "sales", Fingerprint: plan.Fingerprint})
			stop()
			if err != nil {
				t.Fatalf("round %d: destroy: %v (kind %s)", round, err, errs.KindOf(err))
			}
			assertNothingLeft(t, f.local.URL, "sales")
		}
	})

	t.Run("Refresh", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		createSales(t, f)
		stop := racingProbes(t, f.svc, "sales")
		defer stop()
		for round := range rounds {
			execAs(t, f.remote.URL, fmt.Sprintf("CREATE TABLE extra_%d (x int)", round))
			p, err := f.svc.PlanRefresh(ctx, "DATABASE_URL", "sales")
			if err != nil {
				t.Fatalf("round %d: plan: %v", round, err)
			}
			pause(round)
			if _, err := f.svc.RefreshLink(ctx, RefreshRequest{LocalVar: "DATABASE_URL", Name: "sales", Fingerprint: p.Fingerprint}); err != nil {
				t.Fatalf("round %d: refresh: %v (kind %s)", round, err, errs.KindOf(err))
			}
		}
		if n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid WHERE c.relname LIKE 'extra_%'"); n != rounds {
			t.Fatalf("%d new tables imported, want %d", n, rounds)
		}
	})

	t.Run("Import", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		for round := range rounds {
			execAs(t, f.remote.URL, fmt.Sprintf("CREATE TABLE more_%d (x int)", round))
		}
		if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "few", Tables: []string{"customers"}}); err != nil {
			t.Fatal(err)
		}
		stop := racingProbes(t, f.svc, "few")
		defer stop()
		for round := range rounds {
			tables := []string{fmt.Sprintf("more_%d", round)}
			p, err := f.svc.PlanImport(ctx, "DATABASE_URL", "few", tables)
			if err != nil {
				t.Fatalf("round %d: plan: %v", round, err)
			}
			pause(round)
			if _, err := f.svc.ImportTables(ctx, ImportRequest{LocalVar: "DATABASE_URL", Name: "few", Tables: p.Tables, Fingerprint: p.Fingerprint}); err != nil {
				t.Fatalf("round %d: import: %v (kind %s)", round, err, errs.KindOf(err))
			}
		}
	})

	t.Run("Repair", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		createSales(t, f)
		for round := range rounds {
			// Rotate the remote's password; a pglinks restarted with it repairs.
			pw := fmt.Sprintf("rotated-%d-%s", round, f.remote.Password)
			execAs(t, f.remote.URL, fmt.Sprintf("ALTER ROLE %q PASSWORD '%s'", f.remote.Owner, pw))
			f.remote.Password, f.remote.URL = pw, clusterB.URL(f.remote.Owner, pw, f.remote.Name)
			svc := newService(t, []string{"DATABASE_URL=" + f.local.URL, "HEROKU_POSTGRESQL_BLUE_URL=" + f.remote.URL})
			svc.Registry = f.svc.Registry
			stop := racingProbes(t, svc, "sales")
			pause(round)
			res, err := repairConfirmed(ctx, svc, "DATABASE_URL", "sales")
			stop()
			if err != nil {
				t.Fatalf("round %d: repair: %v (kind %s)", round, err, errs.KindOf(err))
			}
			if res.Health.State != HealthHealthy {
				t.Fatalf("round %d: after repair: %+v", round, res.Health)
			}
		}
	})
}

// A deadlock or serialization failure is tried again a bounded number of
// times, then answered as a retryable conflict, never an internal error.
func TestRetryCollisions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	deadlock := fmt.Errorf("links: destroy x: %w", &pgconn.PgError{Code: codeDeadlock, Message: "deadlock detected"})
	calls := 0
	v, err := retryCollisions(ctx, "destroy", "x", func() (int, error) {
		calls++
		if calls < 2 {
			return 0, deadlock
		}
		return 7, nil
	})
	if err != nil || v != 7 || calls != 2 {
		t.Fatalf("one collision: v=%d err=%v calls=%d", v, err, calls)
	}
	calls = 0
	_, err = retryCollisions(ctx, "destroy", "x", func() (int, error) { calls++; return 0, deadlock })
	if calls != collisionAttempts || !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), "nothing was changed") {
		t.Fatalf("always colliding: calls=%d err=%v", calls, err)
	}
	calls = 0
	other := errors.New("boom")
	if _, err := retryCollisions(ctx, "destroy", "x", func() (int, error) { calls++; return 0, other }); err != other || calls != 1 {
		t.Fatalf("other error: calls=%d err=%v", calls, err)
	}
}
