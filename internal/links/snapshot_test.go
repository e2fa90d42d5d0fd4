package links

import (
	"context"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
)

// A database that accepts connections and never answers costs the first
// inventory its StatusTimeout; the views after it are served from the
// remembered failure, with since-when and next-try, until the back-off ends.
func TestInventoryBacksOffSilentDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	proxy, err := clusterB.NewProxy()
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	svc := newService(t, []string{
		"DATABASE_URL=" + f.local.URL,
		"HEROKU_POSTGRESQL_BLUE_URL=" + proxy.URL(f.remote.URL),
	})
	svc.Fleet.Deadlines.Status = 2 * time.Second
	svc.Fleet.SnapshotMaxAge = 30 * time.Second
	proxy.Stall("pglinks", "pg_") // every statement of pglinks' own connections

	first := svc.Inventory(ctx)
	if first[1].Reachable || first[1].RetryAt.IsZero() || first[1].FailingSince.IsZero() {
		t.Fatalf("first view: %+v", first[1])
	}
	if !first[0].Reachable {
		t.Fatalf("the healthy database: %s", first[0].Error)
	}
	start := time.Now()
	for range 5 {
		inv := svc.Inventory(ctx)
		if inv[1].Reachable || !inv[1].FailingSince.Equal(first[1].FailingSince) {
			t.Fatalf("later view: %+v", inv[1])
		}
	}
	// Five views in far less than one StatusTimeout: none waited.
	if took := time.Since(start); took >= svc.Fleet.Deadlines.Status {
		t.Fatalf("5 views took %v: the silent database was asked again", took)
	}
	// A forced refresh asks again (and fails again, doubling the back-off).
	st, err := svc.RefreshStatus(ctx, "HEROKU_POSTGRESQL_BLUE_URL")
	if err != nil || st.Reachable || !st.RetryAt.After(first[1].RetryAt) {
		t.Fatalf("refresh: %+v, %v", st, err)
	}
	// Once it answers, a refresh shows it healthy and clears the back-off.
	proxy.Unstall()
	st, err = svc.RefreshStatus(ctx, "HEROKU_POSTGRESQL_BLUE_URL")
	if err != nil || !st.Reachable || !st.RetryAt.IsZero() {
		t.Fatalf("after the remote came back: %+v, %v", st, err)
	}
}

// pglinks' own writes show at once, whatever the snapshot's age.
func TestInventorySnapshotInvalidatedByCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	f.svc.Fleet.SnapshotMaxAge = time.Hour
	if n := len(f.svc.Inventory(ctx)[0].Links); n != 0 {
		t.Fatalf("%d links before", n)
	}
	createSales(t, f)
	if n := len(f.svc.Inventory(ctx)[0].Links); n != 1 {
		t.Fatalf("%d links right after create", n)
	}
	// A change made by hand shows after the snapshot's age, or a refresh.
	execAs(t, f.local.URL, "CREATE SERVER handmade FOREIGN DATA WRAPPER postgres_fdw")
	if _, err := f.svc.RefreshStatus(ctx, "DATABASE_URL"); err != nil {
		t.Fatal(err)
	}
	if n := len(f.svc.Inventory(ctx)[0].Links); n != 1 {
		t.Fatalf("%d links after refresh", n)
	}
}

// Run keeps snapshots fresh in the background.
func TestRunRefreshesInTheBackground(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.svc.Fleet.SnapshotMaxAge = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.svc.Run(ctx, 100*time.Millisecond, 2)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if sn, ok := f.svc.statuses().Get("DATABASE_URL"); ok && sn.Val.Reachable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no snapshot after 10 s of Run")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A page view never waits for a database it has a card of: once the card
// is older than SnapshotMaxAge it is served as it is while a background
// read runs, and the view after that read shows what it found.
func TestInventoryServesOldCardWhileReading(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	proxy, err := clusterB.NewProxy()
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	svc := newService(t, []string{
		"DATABASE_URL=" + f.local.URL,
		"HEROKU_POSTGRESQL_BLUE_URL=" + proxy.URL(f.remote.URL),
	})
	svc.Fleet.Deadlines.Status = 2 * time.Second
	svc.Fleet.SnapshotMaxAge = 200 * time.Millisecond
	first := svc.Inventory(ctx)
	if !first[1].Reachable {
		t.Fatalf("first view: %s", first[1].Error)
	}

	// From now on the remote's new connections never answer.
	proxy.Stall("pglinks", "pg_")
	d, _ := svc.Fleet.Get("HEROKU_POSTGRESQL_BLUE_URL")
	svc.Fleet.Discard(d, fleet.ClassStatus)
	time.Sleep(300 * time.Millisecond)

	start := time.Now()
	inv := svc.Inventory(ctx)
	if took := time.Since(start); took >= time.Second {
		t.Fatalf("the view waited %v for a database it had a card of", took)
	}
	if !inv[1].Reachable || !inv[1].AsOf.Equal(first[1].AsOf) {
		t.Fatalf("old card not served: reachable=%v as of %v, first as of %v", inv[1].Reachable, inv[1].AsOf, first[1].AsOf)
	}
	deadline := time.Now().Add(2*svc.Fleet.Deadlines.Status + time.Second)
	for {
		inv = svc.Inventory(ctx)
		if !inv[1].Reachable && !inv[1].RetryAt.IsZero() {
			break // the background read failed and says so
		}
		if time.Now().After(deadline) {
			t.Fatalf("the background read's failure never showed: %+v", inv[1])
		}
		time.Sleep(100 * time.Millisecond)
	}
}
