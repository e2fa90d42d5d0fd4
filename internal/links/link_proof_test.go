package links

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/errs"
)

// Two pglinks processes on one state database, as in a rolling restart
// after a rotation: the one started with the new config var repairs the
// link; the one still holding the old config var must neither call the
// working link stale nor write its refused password back into it, from
// the plan or from a repair asked for anyway.
func TestRepairNeverWritesRefusedCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	shortTimeouts(f.svc)
	createSales(t, f)
	NewMonitor(f.svc) // process 1's health record
	newURL := rotate(t, clusterB, f.remote)

	svc2 := newService(t, []string{"DATABASE_URL=" + f.local.URL, "HEROKU_POSTGRESQL_BLUE_URL=" + newURL})
	svc2.Registry = f.svc.Registry
	shortTimeouts(svc2)
	if r := staleOf(t, svc2, "DATABASE_URL", "sales"); !r.Stale() || !r.Repairable() || r.EnvNote() != "" {
		t.Fatalf("process 2 before its repair: stale %v, repairable %v, %q", r.Stale(), r.Repairable(), r.EnvNote())
	}
	if _, err := repairConfirmed(ctx, svc2, "DATABASE_URL", "sales"); err != nil {
		t.Fatal(err)
	}
	works := func() {
		t.Helper()
		if n := queryInt(t, f.local.URL, "SELECT count(*) FROM sales.customers"); n != 2 {
			t.Fatalf("customers through the link = %d", n)
		}
	}
	works()

	// Process 1: its config var is refused, the link is not stale.
	r := staleOf(t, f.svc, "DATABASE_URL", "sales")
	if r.Stale() || r.Repairable() || !r.EnvRefused() || !r.Differs() {
		t.Fatalf("process 1: stale %v, repairable %v, env refused %v", r.Stale(), r.Repairable(), r.EnvRefused())
	}
	// The link page probes the link to say which side is newer.
	if want := "while the link's own credentials work: its environment is older than the link's; restart it with the current config var"; !strings.Contains(r.EnvNote(), want) {
		t.Errorf("process 1's link page: %q, want %q", r.EnvNote(), want)
	}
	for _, st := range f.svc.Inventory(ctx) {
		for _, l := range st.Links {
			if l.Name == "sales" && (l.Stale.Stale() || l.Stale.Repairable()) {
				// The card is judged with a proof made in the background;
				// the link page's proof above is reused.
				t.Errorf("process 1's card: stale %v, repairable %v (%s)", l.Stale.Stale(), l.Stale.Repairable(), l.Stale.EnvNote())
			}
		}
	}
	_, err := f.svc.PlanRepair(ctx, "DATABASE_URL", "sales")
	if !errs.Is(err, errs.Conflict) || !errors.Is(err, ErrEnvRefused) || !strings.Contains(errs.MessageOf(err), "its environment is older than the link's") {
		t.Fatalf("process 1's plan: %v", err)
	}
	_, err = f.svc.RepairLink(ctx, RepairRequest{LocalVar: "DATABASE_URL", Name: "sales"})
	if !errs.Is(err, errs.Conflict) || !errors.Is(err, ErrEnvRefused) {
		t.Fatalf("process 1's repair: %v", err)
	}
	works()

	// Proven again inside the repair: the config var is refused between
	// the plan and the repair (rotated once more), and nothing is written.
	f3 := newFixture(t)
	shortTimeouts(f3.svc)
	createSales(t, f3)
	rotated := rotate(t, clusterB, f3.remote)
	svc3 := newService(t, []string{"DATABASE_URL=" + f3.local.URL, "HEROKU_POSTGRESQL_BLUE_URL=" + rotated})
	svc3.Registry = f3.svc.Registry
	plan3, err := svc3.PlanRepair(ctx, "DATABASE_URL", "sales")
	if err != nil {
		t.Fatalf("plan with the current config var: %v", err)
	}
	rotate(t, clusterB, f3.remote)
	before := queryInt(t, f3.local.URL, "SELECT count(*) FROM pg_user_mappings WHERE srvname = 'sales' AND umoptions::text LIKE '%"+rotated[strings.LastIndex(rotated[:strings.Index(rotated, "@")], ":")+1:strings.Index(rotated, "@")]+"%'")
	_, err = svc3.RepairLink(ctx, RepairRequest{LocalVar: "DATABASE_URL", Name: "sales", Fingerprint: plan3.Fingerprint})
	if !errors.Is(err, ErrEnvRefused) {
		t.Fatalf("repair after a second rotation: %v", err)
	}
	after := queryInt(t, f3.local.URL, "SELECT count(*) FROM pg_user_mappings WHERE srvname = 'sales' AND umoptions::text LIKE '%"+rotated[strings.LastIndex(rotated[:strings.Index(rotated, "@")], ":")+1:strings.Index(rotated, "@")]+"%'")
	if before != 0 || after != 0 {
		t.Fatalf("the refused password was written into the mapping (%d, %d)", before, after)
	}
}
