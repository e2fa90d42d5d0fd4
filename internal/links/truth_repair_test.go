package links

import (
	"context"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/errs"
)

// The repair confirmation shows the exact statements it will run. When the
// server or mapping changed again after the page was shown, the repair
// runs other statements than the ones confirmed: it must refuse and show
// the new plan instead, as destroy and refresh do.
func TestRepairRunsOnlyTheStatementsItsPlanShowed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	createSales(t, f)
	execAs(t, f.local.URL, "ALTER SERVER sales OPTIONS (SET dbname 'moved')")
	plan, err := f.svc.PlanRepair(ctx, "DATABASE_URL", "sales")
	if err != nil {
		t.Fatal(err)
	}
	// A DBA points the mapping at another role before the admin confirms.
	execAs(t, f.local.URL, "ALTER USER MAPPING FOR CURRENT_USER SERVER sales OPTIONS (SET user 'someone_else')")
	res, err := f.svc.RepairLink(ctx, RepairRequest{LocalVar: "DATABASE_URL", Name: "sales", Fingerprint: plan.Fingerprint})
	if err == nil {
		t.Fatalf("confirmed:\n  %s\nran:\n  %s", strings.Join(plan.DDL, "; "), strings.Join(res.DDL, "; "))
	}
	if !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), "changed since the confirmation page was shown") {
		t.Fatalf("err = %v, want the conflict of a plan changed since", err)
	}
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_foreign_server WHERE srvname = 'sales' AND 'dbname=moved' = ANY(srvoptions)"); n != 1 {
		t.Fatal("the refused repair changed the server")
	}
	// The new plan shows both statements, and its fingerprint repairs.
	plan, err = f.svc.PlanRepair(ctx, "DATABASE_URL", "sales")
	if err != nil || len(plan.DDL) != 2 {
		t.Fatalf("new plan: %v %q", err, plan.DDL)
	}
	if _, err := f.svc.RepairLink(ctx, RepairRequest{LocalVar: "DATABASE_URL", Name: "sales", Fingerprint: plan.Fingerprint}); err != nil {
		t.Fatal(err)
	}
}
