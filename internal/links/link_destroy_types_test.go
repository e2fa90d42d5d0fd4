package links

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestDestroyCopiedEnums(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, used := range []bool{false, true} {
		f := newFixture(t)
		if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "crm", CopyEnums: true}); err != nil {
			t.Fatal(err)
		}
		if used {
			execAs(t, f.local.URL, "CREATE TABLE public.mine (s public.order_status)")
		}
		plan, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", "crm")
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Types) != 1 || plan.Types[0].Type != `"public"."order_status"` || plan.Types[0].Drop == used {
			t.Fatalf("used=%v: types = %+v", used, plan.Types)
		}
		if used && !strings.Contains(plan.Types[0].Reason, "column s of table public.mine") {
			t.Errorf("kept because %q", plan.Types[0].Reason)
		}
		hasDrop := slices.Contains(plan.SQL, `DROP TYPE "public"."order_status"`)
		if hasDrop == used || plan.SQL[0] != `DROP SCHEMA "crm" CASCADE` {
			t.Errorf("used=%v: plan SQL %q", used, plan.SQL)
		}
		res, err := f.svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "crm", Confirm: "crm", Fingerprint: plan.Fingerprint})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.DDL, plan.SQL) {
			t.Errorf("ran %q, planned %q", res.DDL, plan.SQL)
		}
		n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_type WHERE typname = 'order_status'")
		if used && n != 1 || !used && n != 0 {
			t.Errorf("used=%v: %d order_status types left", used, n)
		}
		assertNothingLeft(t, f.local.URL, "crm")
	}
}
