package replication

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// The drop-slot confirmation says whether a fleet subscription names the
// slot ("dropping it breaks that subscription") or none does. When a
// subscription starts naming the slot after the page was shown (a DBA
// attaches a disabled subscription to it with ALTER SUBSCRIPTION ... SET
// (slot_name) or CREATE SUBSCRIPTION ... WITH (slot_name, create_slot =
// false)), the confirmed drop breaks a subscription the admin was told
// nothing of: it must refuse and show the new plan, as the subscription
// drop does when its slot changed.
func TestDropSlotBreaksOnlyWhatItsConfirmationShowed(t *testing.T) {
	w := newWorld(t, worldOpts{NoSubscription: true})
	ctx := context.Background()
	slot := fmt.Sprintf("spare_%d", seq.Add(1))
	pgtest.MustExec(t, w.pubSuperURL, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", slot)
	t.Cleanup(func() {
		pubCluster.Exec(context.Background(), "postgres", "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", slot)
	})
	w.overview(t) // pglinks first sees it inactive
	w.clock.Advance(w.svc.OrphanAfter + time.Minute)

	// The page the admin confirms: no subscription names the slot.
	plan, err := w.svc.PlanDropSlot(ctx, pubVar, slot)
	if err != nil || plan.Refusal != "" || plan.Slot.UsedBy != nil {
		t.Fatalf("plan: %+v, %v", plan, err)
	}

	// Meanwhile a subscription is attached to the slot, disabled until its
	// owner enables it.
	w.subName = fmt.Sprintf("sub_spare_%d", seq.Add(1))
	pgtest.MustExec(t, w.subSuperURL, fmt.Sprintf("CREATE SUBSCRIPTION %s CONNECTION '%s' PUBLICATION %s WITH (connect = false, slot_name = '%s')", w.subName, w.pubSuperURL, w.pubName, slot))
	t.Cleanup(func() { w.cleanupSubscription(t) })
	if sl := findSlot(w.overview(t), pubVar, slot); sl == nil || sl.Breaks() != subVar+"/"+w.subName {
		t.Fatalf("the overview does not tie the slot to the new subscription: %+v", sl)
	}

	res, err := w.svc.DropSlot(ctx, DropSlotRequest{ConfigVar: pubVar, Name: slot, Confirm: slot, Fingerprint: plan.Fingerprint})
	if n := pgtest.MustQueryInt(t, w.pubSuperURL, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", slot); n == 0 {
		msg := ""
		if res != nil {
			msg = res.Message
		}
		t.Fatalf("the confirmation said no subscription names slot %s; the drop went ahead and broke subscription %s/%s (%q, err %v)", slot, subVar, w.subName, msg, err)
	}
	if !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), w.subName) {
		t.Fatalf("err = %v, want a conflict naming subscription %s", err, w.subName)
	}
}
