package links

import (
	"context"
	"testing"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// A destroy confirmed on a page that named one link must not destroy a
// different link that took the same name after the page was shown: the
// page said "the remote database BLUE is not changed", listed BLUE's
// tables, and the operator typed the name against that.
func TestDestroyRefusesALinkRecreatedSinceThePlan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	green := newDB(t, clusterB, "green", pgtest.DBOptions{})
	execAs(t, green.URL, "CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped'); CREATE TABLE payroll (id int, salary numeric, status order_status)")
	f := newFixture(t, "HEROKU_POSTGRESQL_GREEN_URL="+green.URL)
	createSales(t, f)
	plan, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", "sales")
	if err != nil {
		t.Fatal(err)
	}
	if plan.Link.RemoteConfigVar != "HEROKU_POSTGRESQL_BLUE_URL" {
		t.Fatalf("plan remote = %q", plan.Link.RemoteConfigVar)
	}
	// Another admin destroys it and makes a link of the same name to GREEN.
	p2, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", "sales")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "sales", Confirm: "sales", Fingerprint: p2.Fingerprint}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_GREEN_URL", LocalVar: "DATABASE_URL", Name: "sales", CopyEnums: true}); err != nil {
		t.Fatal(err)
	}
	// The first admin confirms the page that showed the BLUE link.
	_, err = f.svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "sales", Confirm: "sales", Fingerprint: plan.Fingerprint})
	if !errs.Is(err, errs.Conflict) {
		t.Fatalf("destroy confirmed against the BLUE link's page: err = %v; the GREEN link (remote %s, table payroll), never shown on that page, is gone: %v",
			err, "HEROKU_POSTGRESQL_GREEN_URL", queryInt(t, f.local.URL, "SELECT count(*) FROM pg_foreign_server WHERE srvname = 'sales'") == 0)
	}
}

// The confirmation lists what is in the link's schema ("In the schema
// (N)"); a view someone puts there after the page was shown is dropped by
// DROP SCHEMA ... CASCADE without ever having been listed.
func TestDestroyRefusesWhenTheSchemaGainedAViewSinceThePlan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	createSales(t, f)
	plan, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", "sales")
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range plan.Tables {
		if tb == "monthly_report" {
			t.Fatal("view listed before it exists")
		}
	}
	// A DBA keeps a report next to the link's tables.
	execAs(t, f.local.URL, "CREATE VIEW sales.monthly_report AS SELECT count(*) AS n FROM sales.customers")
	_, err = f.svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "sales", Confirm: "sales", Fingerprint: plan.Fingerprint})
	if !errs.Is(err, errs.Conflict) {
		t.Fatalf("destroy with the plan that listed %v: err = %v; view sales.monthly_report, never listed, dropped: %v",
			plan.Tables, err, queryInt(t, f.local.URL, "SELECT count(*) FROM pg_class WHERE relname = 'monthly_report'") == 0)
	}
}
