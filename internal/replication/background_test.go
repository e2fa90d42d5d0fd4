package replication

import (
	"context"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// The inventory's replication warnings come from each database's
// replication state as the background sweep reads it, on the session of
// the database's round; a change pglinks makes is read again at once.
func TestBackgroundOverview(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.waitReady(t)
	w.svc.Fleet.SnapshotMaxAge = time.Hour
	o := w.svc.BackgroundOverview()
	if !o.Incomplete || o.Databases[0].Error != fleet.NotReadYet {
		t.Fatalf("before any read: incomplete=%v %q", o.Incomplete, o.Databases[0].Error)
	}
	sw := &fleet.Sweeper{Fleet: w.svc.Fleet, Facets: []fleet.Facet{w.svc.States()}, Recheck: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sw.Run(ctx); close(done) }()
	pgtest.Eventually(t, 15*time.Second, "both databases read in the background", func() bool {
		o = w.svc.BackgroundOverview()
		return !o.Incomplete
	})
	cancel()
	<-done
	if s := findSub(o, subVar, w.subName); s == nil || !s.Enabled {
		t.Fatalf("subscription: %+v", s)
	}
	if sl := findSlot(o, pubVar, w.subName); sl == nil || sl.UsedBy == nil || sl.UsedBy.ConfigVar != subVar || sl.UsedBy.Subscription != w.subName || sl.Orphaned {
		t.Fatalf("the subscription's slot: %+v", sl)
	}
	// Disabled by pglinks: its state is read again at once (the sweep is
	// stopped and the snapshots are an hour fresh).
	if _, err := w.svc.SetEnabled(context.Background(), subVar, w.subName, false); err != nil {
		t.Fatal(err)
	}
	w.svc.RefreshState(context.Background(), subVar)
	o = w.svc.BackgroundOverview()
	if s := findSub(o, subVar, w.subName); s == nil || s.Enabled || !hasWarning(o, subVar, "disabled", w.subName) {
		t.Fatalf("after disable: %+v, warnings %+v", s, o.Warnings)
	}
	if _, err := w.svc.SetEnabled(context.Background(), subVar, w.subName, true); err != nil {
		t.Fatal(err)
	}
}
