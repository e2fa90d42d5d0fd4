package replication

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// warningKinds lists the warnings of configVar about object.
func warningKinds(o *Overview, configVar, object string) []string {
	var out []string
	for _, w := range o.WarningsFor(configVar) {
		if w.Object == object {
			out = append(out, w.Kind)
		}
	}
	return out
}

// Right after Disable and Enable the page tells the truth: a subscription
// whose worker has not started yet is "starting", not "worker stopped"; a
// disabled one whose worker still runs is "stopping"; its slot, inactive
// for less than OrphanAfter or about to be used, raises no "disk fills"
// alarm and is not offered for dropping. Once the thresholds pass (the
// clock is moved, not waited for), the alarms come, naming what a drop
// would break.
func TestTransitionsAreNotAlarms(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.waitReady(t)
	ctx := context.Background()

	if _, err := w.svc.SetEnabled(ctx, subVar, w.subName, false); err != nil {
		t.Fatal(err)
	}
	check := func(o *Overview, when string) {
		t.Helper()
		sub, sl := findSub(o, subVar, w.subName), findSlot(o, pubVar, w.subName)
		if sub == nil || sl == nil {
			t.Fatalf("%s: subscription %+v slot %+v", when, sub, sl)
		}
		for _, k := range append(warningKinds(o, subVar, w.subName), warningKinds(o, pubVar, w.subName)...) {
			if k == "worker_stopped" || k == "inactive_slot" || k == "orphaned_slot" || k == "worker_stopping" {
				t.Errorf("%s: warning %s: %+v", when, k, o.Warnings)
			}
		}
		if sl.DropOffered() {
			t.Errorf("%s: slot %s (%s) offered for dropping", when, sl.Name, sl.State)
		}
	}
	// Disabled: "stopping" while the worker still runs, the slot active
	// or inactive for moments only.
	o := w.overview(t)
	check(o, "right after Disable")
	if s := findSub(o, subVar, w.subName); s.State != SubStopping && s.State != SubDisabled {
		t.Errorf("right after Disable: state %q", s.State)
	} else if s.WorkerRunning && s.State != SubStopping {
		t.Errorf("disabled with its worker running: %q, want stopping", s.State)
	}
	pgtest.Eventually(t, 15*time.Second, "worker stopped and slot inactive", func() bool {
		o = w.overview(t)
		return findSub(o, subVar, w.subName).State == SubDisabled && !findSlot(o, pubVar, w.subName).Active
	})
	check(o, "slot inactive for moments")
	if sl := findSlot(o, pubVar, w.subName); sl.State != SlotInactive || sl.InactiveSince == nil {
		t.Errorf("slot %s, inactive since %v", sl.State, sl.InactiveSince)
	}

	// Past the threshold, the inactive slot is an alarm and may be
	// dropped, saying which subscription that breaks.
	w.clock.Advance(w.svc.OrphanAfter + time.Minute)
	o = w.overview(t)
	sl := findSlot(o, pubVar, w.subName)
	if !hasWarning(o, pubVar, "inactive_slot", w.subName) || !sl.DropOffered() || sl.Breaks() != subVar+"/"+w.subName {
		t.Fatalf("after %s: slot %s breaks %q, warnings %+v", w.svc.OrphanAfter, sl.State, sl.Breaks(), o.Warnings)
	}
	if plan, err := w.svc.PlanDropSlot(ctx, pubVar, w.subName); err != nil || plan.Refusal != "" || plan.Slot.Breaks() != subVar+"/"+w.subName {
		t.Fatalf("drop slot plan: %+v, %v", plan, err)
	}

	// Enabled towards a publisher that is not there: the worker cannot
	// run, but for Settle it is "starting" and its slot about to be used.
	port, err := pgtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	pgtest.MustExec(t, w.subSuperURL, fmt.Sprintf("ALTER SUBSCRIPTION %s CONNECTION 'host=127.0.0.1 port=%d dbname=gone user=gone connect_timeout=1'", w.subName, port))
	if _, err := w.svc.SetEnabled(ctx, subVar, w.subName, true); err != nil {
		t.Fatal(err)
	}
	o = w.overview(t)
	check(o, "right after Enable")
	if s := findSub(o, subVar, w.subName); s.State != SubStarting && s.State != SubRunning {
		t.Errorf("right after Enable: %q", s.State)
	}
	if sl := findSlot(o, pubVar, w.subName); sl.State != SlotStarting {
		t.Errorf("slot of a starting subscription: %s", sl.State)
	}
	if _, err := w.svc.DropSlot(ctx, DropSlotRequest{ConfigVar: pubVar, Name: w.subName, Confirm: w.subName}); !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), "about to be used") {
		t.Fatalf("drop of a slot about to be used: %v", err)
	}

	// Settle passed and still no worker: now it is a stopped worker, and
	// its slot an alarm again.
	w.clock.Advance(w.svc.Settle)
	pgtest.Eventually(t, 10*time.Second, "worker stopped (read between its retries)", func() bool {
		o = w.overview(t)
		return findSub(o, subVar, w.subName).State == SubStopped
	})
	if !hasWarning(o, subVar, "worker_stopped", w.subName) || !hasWarning(o, pubVar, "inactive_slot", w.subName) {
		t.Errorf("after Settle: %+v", o.Warnings)
	}
}

// Before PostgreSQL 17 servers do not date inactivity: a new orphaned slot
// is timed from when pglinks first saw it inactive, "at least" that long,
// and only past OrphanAfter is it an alarm and offered for dropping.
func TestOrphanedSlotWaitsForTheThreshold(t *testing.T) {
	w := newWorld(t, worldOpts{NoSubscription: true})
	ctx := context.Background()
	slot := fmt.Sprintf("stray_%d", seq.Add(1))
	pgtest.MustExec(t, w.pubSuperURL, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", slot)
	t.Cleanup(func() { pubCluster.Exec(context.Background(), "postgres", "SELECT pg_drop_replication_slot($1)", slot) })

	o := w.overview(t)
	sl := findSlot(o, pubVar, slot)
	if sl == nil || !sl.Orphaned || sl.State != SlotInactive || !sl.InactiveSinceSeen || hasWarning(o, pubVar, "orphaned_slot", slot) || sl.DropOffered() {
		t.Fatalf("a slot just seen inactive: %+v, warnings %+v", sl, o.Warnings)
	}
	p, err := w.svc.PlanDropSlot(ctx, pubVar, slot)
	if err != nil || !strings.Contains(p.Refusal, "PGLINKS_SLOT_ORPHAN_AFTER") {
		t.Fatalf("plan before the threshold: %+v, %v", p, err)
	}
	if _, err := w.svc.DropSlot(ctx, DropSlotRequest{ConfigVar: pubVar, Name: slot, Confirm: slot}); !errs.Is(err, errs.Conflict) {
		t.Fatalf("drop before the threshold: %v", err)
	}

	w.clock.Advance(w.svc.OrphanAfter + 2*time.Minute)
	o = w.overview(t)
	sl = findSlot(o, pubVar, slot)
	var msg string
	for _, wa := range o.WarningsFor(pubVar) {
		if wa.Kind == "orphaned_slot" && wa.Object == slot {
			msg = wa.Message
		}
	}
	if sl.State != SlotIdle || !sl.DropOffered() || !strings.Contains(msg, "inactive for at least 7 min") {
		t.Fatalf("past the threshold: %s, warning %q", sl.State, msg)
	}
	if _, err := w.svc.DropSlot(ctx, DropSlotRequest{ConfigVar: pubVar, Name: slot, Confirm: slot}); err != nil {
		t.Fatal(err)
	}
	if n := pgtest.MustQueryInt(t, w.pubSuperURL, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", slot); n != 0 {
		t.Fatal("slot still there")
	}
}

// After a change, no overview read before it is served: not one cached,
// and not one still being read when the change was made.
func TestOverviewAfterAChangeIsReadAfterIt(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.waitReady(t)
	ctx := context.Background()
	// A third fleet database whose read can be held up.
	slow, err := subCluster.CreateDatabase(ctx, fmt.Sprintf("slow_%d", seq.Add(1)), pgtest.DBOptions{NoFDW: true})
	if err != nil {
		t.Fatal(err)
	}
	fl, err := fleet.Load([]string{subVar + "=" + w.subSuperURL, pubVar + "=" + w.pub.URL, "HEROKU_POSTGRESQL_SLOW_URL=" + subCluster.SuperURL(slow.Name)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fl.Close)
	w.svc.Fleet = fl
	if o := w.svc.RecentOverview(ctx, time.Hour); !findSub(o, subVar, w.subName).Enabled {
		t.Fatal("not enabled to begin with")
	}

	// Hold the slow database's read on a catalog lock, and start reading
	// the fleet again in the background.
	fl.Deadlines.Status = time.Minute // the held read waits for the lock, not for a timeout
	lock, err := pgx.Connect(ctx, subCluster.SuperURL(slow.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close(context.Background())
	if _, err := lock.Exec(ctx, "BEGIN; LOCK TABLE pg_catalog.pg_publication IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Minute)
	w.svc.RecentOverview(ctx, time.Second) // old: served as it is, read again meanwhile
	pgtest.Eventually(t, 10*time.Second, "the background read waiting on the lock", func() bool {
		return pgtest.MustQueryInt(t, w.subSuperURL, "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'pg_publication'::regclass") > 0
	})

	if _, err := w.svc.SetEnabled(ctx, subVar, w.subName, false); err != nil {
		t.Fatal(err)
	}
	done := make(chan *Overview)
	go func() { done <- w.svc.RecentOverview(ctx, time.Hour) }()
	time.Sleep(200 * time.Millisecond) // let it join a read if it would
	if _, err := lock.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	o := <-done
	if s := findSub(o, subVar, w.subName); s == nil || s.Enabled {
		t.Fatalf("after Disable, the overview shows %+v: read before the change", s)
	}
	pgtest.Eventually(t, 10*time.Second, "the stale read finished", func() bool {
		return pgtest.MustQueryInt(t, w.subSuperURL, "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'pg_publication'::regclass") == 0
	})
	time.Sleep(200 * time.Millisecond)
	if s := findSub(w.svc.RecentOverview(ctx, time.Hour), subVar, w.subName); s.Enabled {
		t.Fatal("the read begun before the change replaced the one after it")
	}
}
