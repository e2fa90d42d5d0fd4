package demo

import (
	"context"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/pgversion"
	"github.com/pglinks/pglinks/internal/replication"
)

// checkDemoReplication walks the README's replication path on the demo:
// the subscription runs with its table ready, managed as the reporting
// database's own role on PostgreSQL 16 and later and as a superuser
// before; disabling it leaves a warning and an inactive slot holding WAL,
// an alarm once PGLINKS_SLOT_ORPHAN_AFTER has passed; dropping it cleans
// the slot up.
func checkDemoReplication(t *testing.T, svc *links.Service) {
	t.Helper()
	ctx := context.Background()
	repl := replication.New(svc.Fleet)
	var skew time.Duration
	repl.Now = func() time.Time { return time.Now().Add(skew) }
	find := func() (*replication.Overview, *replication.Subscription, *replication.Slot) {
		o := repl.Overview(ctx)
		var sub *replication.Subscription
		var slot *replication.Slot
		for i := range o.Databases {
			d := &o.Databases[i]
			for j := range d.Subscriptions {
				if d.DB.ConfigVar == ReportingVar && d.Subscriptions[j].Name == Subscription {
					sub = &d.Subscriptions[j]
				}
			}
			for j := range d.Slots {
				if d.DB.ConfigVar == "HEROKU_POSTGRESQL_ORANGE_URL" && d.Slots[j].Name == Subscription {
					slot = &d.Slots[j]
				}
			}
		}
		return o, sub, slot
	}
	wait := func(what string, cond func(*replication.Overview, *replication.Subscription, *replication.Slot) bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			o, sub, slot := find()
			if cond(o, sub, slot) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("demo replication: timed out waiting for %s: sub %+v slot %+v warnings %+v", what, sub, slot, o.Warnings)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	wait("a running subscription with its table ready", func(o *replication.Overview, s *replication.Subscription, sl *replication.Slot) bool {
		return s != nil && s.WorkerRunning && s.Tables.Ready == 1 && (s.PublisherVar == "HEROKU_POSTGRESQL_ORANGE_URL" || s.SlotOn == "HEROKU_POSTGRESQL_ORANGE_URL") &&
			sl != nil && sl.Active && !sl.Orphaned && len(o.Warnings) == 0
	})
	o, _, _ := find()
	for _, d := range o.Databases {
		if d.DB.ConfigVar != ReportingVar {
			continue
		}
		// PostgreSQL 16 lets the database's own role manage its
		// subscription; before, only a superuser can.
		if newer := pgversion.AtLeast(d.Version, 16); d.Superuser == newer || !d.CanManageSubscriptions() {
			t.Errorf("reporting on PostgreSQL %d: superuser %v, manage %q", d.Version, d.Superuser, d.ManageReason)
		}
	}
	if _, err := repl.SetEnabled(ctx, ReportingVar, Subscription, false); err != nil {
		t.Fatal(err)
	}
	kinds := func(o *replication.Overview) map[string]bool {
		kinds := map[string]bool{}
		for _, w := range o.Warnings {
			kinds[w.Kind] = true
		}
		return kinds
	}
	wait("a disabled subscription and its inactive slot holding WAL", func(o *replication.Overview, s *replication.Subscription, sl *replication.Slot) bool {
		return s != nil && !s.WorkerRunning && sl != nil && !sl.Active && sl.RetainedBytes != nil && kinds(o)["disabled"] && !kinds(o)["inactive_slot"]
	})
	skew = replication.DefaultOrphanAfter
	if o, _, sl := find(); !kinds(o)["inactive_slot"] || !sl.DropOffered() || sl.Breaks() != ReportingVar+"/"+Subscription {
		t.Errorf("disabled for %s: slot %+v warnings %+v", skew, sl, o.Warnings)
	}
	res, err := repl.DropSubscription(ctx, replication.DropSubscriptionRequest{ConfigVar: ReportingVar, Name: Subscription, Confirm: Subscription})
	if err != nil {
		t.Fatal(err)
	}
	if res.SafePath {
		t.Errorf("the demo's publisher is up, yet the safe path was taken: %+v", res)
	}
	if o, s, sl := find(); s != nil || sl != nil || len(o.Warnings) != 0 {
		t.Errorf("after the drop: sub %+v slot %+v warnings %+v", s, sl, o.Warnings)
	}
}
