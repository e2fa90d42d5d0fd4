package links

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// capFleet is a fleet of n databases on clusterA (DATABASE_URL and
// HEROKU_POSTGRESQL_DB<i>_URL) and a service over it capped at maxConns,
// with a unique application_name so its connections can be counted.
func capFleet(t *testing.T, n, maxConns int) (*Service, []string, func() int) {
	t.Helper()
	var env, vars []string
	for i := range n {
		d := newDB(t, clusterA, "cap", pgtest.DBOptions{})
		v := fmt.Sprintf("HEROKU_POSTGRESQL_DB%02d_URL", i)
		env = append(env, v+"="+d.URL)
		vars = append(vars, v)
	}
	svc := newService(t, env)
	svc.Fleet.MaxConns = maxConns
	// Counted by database name: every database of this fleet is named
	// cap_<n>, and no other test uses that prefix.
	var dbs []string
	for _, d := range svc.Fleet.Databases {
		dbs = append(dbs, d.DBName)
	}
	count := func() int {
		return queryInt(t, clusterA.SuperURL("postgres"),
			`SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pglinks' AND datname = ANY($1)`, dbs)
	}
	return svc, vars, count
}

// Many concurrent inventory reads of a fleet larger than pglinks'
// connection cap read every database, never show one unreachable, and
// never hold more connections than the cap.
func TestConnCapInventory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _, count := capFleet(t, 10, 4) // 2 for status reads, 2 for users
	svc.Fleet.Deadlines.Status = 3 * time.Second

	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n := int64(count()); n > peak.Load() {
				peak.Store(n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	results := make([][]DatabaseStatus, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2 {
				results[i] = svc.Inventory(ctx)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled

	for i, inv := range results {
		for _, st := range inv {
			if !st.Reachable || st.Pending || st.Error != "" {
				t.Fatalf("load %d: %s: reachable=%v pending=%v %q", i, st.DB.ConfigVar, st.Reachable, st.Pending, st.Error)
			}
		}
	}
	stats := svc.Fleet.Stats()
	if stats.Max != 4 {
		t.Fatalf("cap = %d, want 4", stats.Max)
	}
	for _, c := range stats.Class {
		if c.Peak > c.Limit {
			t.Fatalf("class %s: peak %d over its limit %d", c.Name, c.Peak, c.Limit)
		}
	}
	if p := peak.Load(); p > 4 || p == 0 {
		t.Fatalf("pglinks held %d connections at once (cap 4; 0 means the count is wrong)", p)
	}
	t.Logf("peak connections seen in pg_stat_activity: %d; classes %+v", peak.Load(), stats.Class)
}

// Users' connections and the inventory's are capped apart: holding every
// user connection leaves the inventory readable, a further user request
// gets a "busy" answer naming the setting (not "unreachable"), and once a
// connection is released another database's request takes its place by
// closing the idle one.
func TestConnCapClasses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, vars, count := capFleet(t, 4, 8) // 4 for status reads, 4 for users
	var held []*pgxpool.Conn
	release := func() {
		for _, c := range held {
			c.Release()
		}
		held = nil
	}
	defer release()
	for i := range 4 {
		c, err := acquire(ctx, svc, vars[i%3])
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}

	for _, st := range svc.Inventory(ctx) {
		if !st.Reachable || st.Error != "" {
			t.Fatalf("inventory while users hold their share: %s: %q", st.DB.ConfigVar, st.Error)
		}
	}

	rctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err := acquire(rctx, svc, vars[3])
	cancel()
	if !errors.Is(err, fleet.ErrConnCap) || !fleet.IsBusy(err) {
		t.Fatalf("fifth user connection: err = %v, want the cap", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "PGLINKS_MAX_CONNECTIONS=8") || strings.Contains(msg, "unreachable") {
		t.Fatalf("message %q", msg)
	}

	release()
	c, err := acquire(ctx, svc, vars[3])
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	c.Release()
	if n := count(); n > 8 {
		t.Fatalf("%d connections open, cap 8", n)
	}
}

// A status read that finds the inventory's share of connections all in
// use is not a failure of the database: the card says it is not read
// yet, with no back-off; a database read before keeps its last snapshot.
func TestConnCapStatusBusy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, vars, _ := capFleet(t, 3, 4) // 2 for status reads
	svc.Fleet.SnapshotMaxAge = time.Hour
	svc.Fleet.Deadlines.Status = 500 * time.Millisecond
	before := mustStatus(t, svc, vars[2])
	if !before.Reachable {
		t.Fatalf("first read: %q", before.Error)
	}

	// Both status connections taken (as two slow reads would).
	var held []*pgxpool.Conn
	for _, v := range vars[:2] {
		d, _ := svc.Fleet.Get(v)
		svc.invalidate(d)
		c, err := svc.Fleet.Acquire(ctx, d, fleet.ClassStatus)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()

	st, err := svc.RefreshStatus(ctx, vars[2])
	if err != nil {
		t.Fatal(err)
	}
	if !st.Reachable || !st.AsOf.Equal(before.AsOf) {
		t.Fatalf("read before: got reachable=%v as of %v (%q), want the snapshot of %v", st.Reachable, st.AsOf, st.Error, before.AsOf)
	}
	d2, _ := svc.Fleet.Get(vars[2])
	svc.invalidate(d2)
	st, _ = svc.RefreshStatus(ctx, vars[2])
	if !st.Pending || st.Reachable || !st.RetryAt.IsZero() || !strings.Contains(st.Error, "PGLINKS_MAX_CONNECTIONS") {
		t.Fatalf("never read: pending=%v reachable=%v retry=%v %q", st.Pending, st.Reachable, st.RetryAt, st.Error)
	}
	if _, ok := svc.statuses().Get(vars[2]); ok {
		t.Fatal("a busy read was kept as a snapshot")
	}
}
