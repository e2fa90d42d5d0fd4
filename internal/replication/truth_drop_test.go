package replication

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// The drop confirmation names the slot DROP SUBSCRIPTION takes with it on
// the publisher. When the subscription was pointed at another slot after
// the page was shown (a DBA's ALTER SUBSCRIPTION ... SET (slot_name)), the
// confirmed drop takes that other slot, one the admin never saw named: it
// must refuse and show the new plan instead.
func TestDropSubscriptionDropsOnlyTheSlotItsConfirmationNamed(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.waitReady(t)
	ctx := context.Background()
	plan, err := w.svc.PlanDropSubscription(ctx, subVar, w.subName)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Sub.SlotName != w.subName || !plan.PublisherReachable {
		t.Fatalf("plan: slot %q, publisher reachable %v", plan.Sub.SlotName, plan.PublisherReachable)
	}
	// Another consumer's slot on the publisher, idle right now.
	other := "cdc_" + w.subName
	pgtest.MustExec(t, w.pubSuperURL, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", other)
	t.Cleanup(func() {
		pubCluster.Exec(context.Background(), "postgres", `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, other)
	})
	pgtest.MustExec(t, w.subSuperURL, fmt.Sprintf("ALTER SUBSCRIPTION %s DISABLE", w.subName))
	pgtest.MustExec(t, w.subSuperURL, fmt.Sprintf("ALTER SUBSCRIPTION %s SET (slot_name = '%s')", w.subName, other))

	res, err := w.svc.DropSubscription(ctx, DropSubscriptionRequest{ConfigVar: subVar, Name: w.subName, Confirm: w.subName, Fingerprint: plan.Fingerprint})
	if n := pgtest.MustQueryInt(t, w.pubSuperURL, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", other); n == 0 {
		t.Fatalf("the confirmation named slot %s; the drop took slot %s on the publisher: %v", plan.Sub.SlotName, other, res)
	}
	if !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), other) {
		t.Fatalf("err = %v, want a conflict naming the new slot %s", err, other)
	}
	// The new plan names the new slot, and its fingerprint drops it.
	plan, err = w.svc.PlanDropSubscription(ctx, subVar, w.subName)
	if err != nil || plan.Sub.SlotName != other {
		t.Fatalf("new plan: %v, %+v", err, plan)
	}
	if _, err := w.svc.DropSubscription(ctx, DropSubscriptionRequest{ConfigVar: subVar, Name: w.subName, Confirm: w.subName, Fingerprint: plan.Fingerprint}); err != nil {
		t.Fatal(err)
	}
}
