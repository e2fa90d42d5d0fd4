package links

import (
	"context"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
)

// sweep runs the background sweep of svc's cards until the test ends.
func sweep(t testing.TB, svc *Service) *fleet.Sweeper {
	t.Helper()
	sw := &fleet.Sweeper{Fleet: svc.Fleet, Facets: []fleet.Facet{svc.Cards()}, Recheck: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sw.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return sw
}

// eventually polls cond every 20 ms for up to limit.
func eventually(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A page view never waits for a database: before the sweep read one, its
// card says "not read yet" at once. A database that accepts connections
// and never answers costs the sweep its Status deadline once; its card
// then shows the failure, since when and the next try, and the sweep
// leaves it alone until the back-off ends.
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

	start := time.Now()
	first := svc.Inventory(ctx)
	if took := time.Since(start); took > time.Second || !first[0].Pending || !first[1].Pending || first[1].Error != fleet.NotReadYet {
		t.Fatalf("first view (%v): %+v / %+v", took, first[0], first[1])
	}
	sweep(t, svc)
	var inv []DatabaseStatus
	eventually(t, 10*time.Second, "the silent database shown failing", func() bool {
		inv = svc.Inventory(ctx)
		return !inv[1].Pending && !inv[1].RetryAt.IsZero()
	})
	if inv[1].Reachable || inv[1].FailingSince.IsZero() {
		t.Fatalf("silent database: %+v", inv[1])
	}
	if !inv[0].Reachable {
		t.Fatalf("the healthy database: %s", inv[0].Error)
	}
	// A forced refresh asks again (and fails again, doubling the back-off).
	st, err := svc.RefreshStatus(ctx, "HEROKU_POSTGRESQL_BLUE_URL")
	if err != nil || st.Reachable || !st.RetryAt.After(inv[1].RetryAt) || !st.FailingSince.Equal(inv[1].FailingSince) {
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
	if n := len(mustStatus(t, f.svc, "DATABASE_URL").Links); n != 0 {
		t.Fatalf("%d links before", n)
	}
	before := f.svc.Inventory(ctx)[0].AsOf
	createSales(t, f)
	inv := f.svc.Inventory(ctx)
	if n := len(inv[0].Links); n != 1 || !inv[0].AsOf.After(before) {
		t.Fatalf("%d links right after create (card as of %v, before %v)", n, inv[0].AsOf, before)
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

// The sweep reads every card in the background, and again once it is
// older than RefreshAfter; views meanwhile serve the card they have, at
// once, and show what the next read found.
func TestSweepKeepsCardsFresh(t *testing.T) {
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
	svc.Fleet.Deadlines.Connect = time.Second
	svc.Fleet.SnapshotMaxAge = 4 * time.Second // RefreshAfter: 2 s
	sweep(t, svc)
	var first []DatabaseStatus
	eventually(t, 10*time.Second, "both cards read", func() bool {
		first = svc.Inventory(ctx)
		return first[0].Reachable && first[1].Reachable
	})

	// From now on the remote's statements never answer.
	proxy.Stall("pglinks", "pg_")
	d, _ := svc.Fleet.Get("HEROKU_POSTGRESQL_BLUE_URL")
	svc.Fleet.Discard(d, fleet.ClassStatus)
	start := time.Now()
	inv := svc.Inventory(ctx)
	if took := time.Since(start); took >= time.Second || !inv[1].Reachable {
		t.Fatalf("the view (%v) did not serve the card it had: %+v", took, inv[1])
	}
	eventually(t, 15*time.Second, "the failing read shown", func() bool {
		inv = svc.Inventory(ctx)
		return !inv[1].Reachable && !inv[1].RetryAt.IsZero()
	})
	if !inv[0].AsOf.After(first[0].AsOf) {
		t.Fatalf("the healthy card was not read again: as of %v, first %v", inv[0].AsOf, first[0].AsOf)
	}
}
