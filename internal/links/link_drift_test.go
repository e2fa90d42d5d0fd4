package links

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

func TestDriftAndRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "crm", CopyEnums: true}); err != nil {
		t.Fatal(err)
	}
	d, err := f.svc.LinkDrift(ctx, "DATABASE_URL", "crm")
	if err != nil || !d.InStep() {
		t.Fatalf("fresh link drift = %+v, %v", d, err)
	}
	// Local objects written against the link: one on an untouched column of
	// a table that changes, one on a table the remote drops.
	execAs(t, f.local.URL, `CREATE VIEW public.cust_names AS SELECT name FROM crm.customers;
		CREATE VIEW public."<i>script view</i>" AS SELECT * FROM crm."<script>alert(1)</script>"`)

	hostileCol := `<b>new</b> "q"`
	longCol := "c" + strings.Repeat("y", 62)
	execAs(t, f.remote.URL, `CREATE TABLE tickets (id int, title text); INSERT INTO tickets VALUES (1, 'help');
		ALTER TABLE customers ADD COLUMN phone text, ADD COLUMN `+fleet.Ident(hostileCol)+` int, ADD COLUMN `+fleet.Ident(longCol)+` int;
		ALTER TABLE customers ALTER COLUMN email TYPE varchar(200);
		ALTER TABLE orders RENAME COLUMN total TO total_usd;
		DROP TABLE "<script>alert(1)</script>";
		ALTER TYPE order_status ADD VALUE 'refunded'`)

	d, err = f.svc.LinkDrift(ctx, "DATABASE_URL", "crm")
	if err != nil {
		t.Fatal(err)
	}
	if d.Error != "" || !slices.Equal(d.NewTables, []string{"tickets"}) || !slices.Equal(d.GoneTables, []string{"<script>alert(1)</script>"}) || len(d.Tables) != 2 {
		t.Fatalf("drift = %+v", d)
	}
	cust, ord := d.Tables[0], d.Tables[1]
	if cust.Table != "customers" || len(cust.Added) != 3 || cust.Added[1].Name != hostileCol || cust.Added[2].Name != longCol ||
		len(cust.TypeChanged) != 1 || cust.TypeChanged[0] != (TypeChange{"email", "text", "character varying(200)"}) || len(cust.Gone) != 0 {
		t.Errorf("customers drift = %+v", cust)
	}
	if ord.Table != "orders" || len(ord.Gone) != 1 || ord.Gone[0].Name != "total" || len(ord.Added) != 1 || ord.Added[0].Name != "total_usd" {
		t.Errorf("orders drift = %+v", ord)
	}
	if len(d.Enums) != 1 || d.Enums[0].Type != `"public"."order_status"` || !slices.Equal(d.Enums[0].NewLabels, []string{"refunded"}) {
		t.Errorf("enum drift = %+v", d.Enums)
	}

	p, err := f.svc.PlanRefresh(ctx, "DATABASE_URL", "crm")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Blockers) != 0 || len(p.Dependents) != 1 || p.Dependents[0].Description != `view public."<i>script view</i>"` {
		t.Fatalf("plan blockers %q dependents %+v", p.Blockers, p.Dependents)
	}
	sql := strings.Join(p.SQL, ";\n")
	for _, want := range []string{
		`ALTER TYPE "public"."order_status" ADD VALUE IF NOT EXISTS 'refunded'`,
		`ALTER FOREIGN TABLE "crm"."customers" ADD COLUMN "<b>new</b> ""q""" integer OPTIONS (column_name '<b>new</b> "q"')`,
		`ALTER FOREIGN TABLE "crm"."customers" ALTER COLUMN "email" TYPE character varying(200)`,
		`ALTER FOREIGN TABLE "crm"."orders" DROP COLUMN "total" CASCADE`,
		`DROP FOREIGN TABLE "crm"."<script>alert(1)</script>" CASCADE`,
		`IMPORT FOREIGN SCHEMA "public" LIMIT TO ("tickets") FROM SERVER "crm" INTO "crm"`,
	} {
		if !strings.Contains(sql, want) {
			t.Errorf("plan lacks %s\n%s", want, sql)
		}
	}
	if got := p.Summary.String(); got != "1 table added, 6 columns changed, 1 table removed, 1 enum type updated" {
		t.Errorf("summary = %q", got)
	}
	// The plan changed nothing.
	if n := queryInt(t, f.local.URL, `SELECT count(*) FROM pg_views WHERE viewname = '<i>script view</i>'`); n != 1 {
		t.Fatal("planning dropped the dependent view")
	}

	// The remote moves on after the confirmation page: refused, nothing changed.
	execAs(t, f.remote.URL, "CREATE TABLE late (x int)")
	_, err = f.svc.RefreshLink(ctx, RefreshRequest{LocalVar: "DATABASE_URL", Name: "crm", Fingerprint: p.Fingerprint})
	if !errs.Is(err, errs.Conflict) {
		t.Fatalf("refresh with a stale plan: %v", err)
	}
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_class WHERE relname IN ('tickets', 'late')"); n != 0 {
		t.Fatalf("a refused refresh imported %d tables", n)
	}

	p, err = f.svc.PlanRefresh(ctx, "DATABASE_URL", "crm")
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.RefreshLink(ctx, RefreshRequest{LocalVar: "DATABASE_URL", Name: "crm", Fingerprint: p.Fingerprint})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.DDL, p.SQL) || res.Summary.TablesAdded != 2 {
		t.Errorf("ran %q (summary %+v)", res.DDL, res.Summary)
	}
	// Every refreshed table answers queries; the view on an untouched
	// column survived; the dependent view of the gone table went with it.
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM crm.tickets WHERE title = 'help'"); n != 1 {
		t.Errorf("tickets through the link: %d", n)
	}
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM crm.late"); n != 0 {
		t.Errorf("late: %d", n)
	}
	if n := queryInt(t, f.local.URL, `SELECT count(*) FROM crm.customers WHERE phone IS NULL AND `+fleet.Ident(hostileCol)+` IS NULL AND `+fleet.Ident(longCol)+` IS NULL AND length(email) > 0`); n != 1 {
		t.Errorf("customers through the link: %d", n)
	}
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM crm.orders WHERE total_usd = 10.50 AND status = 'paid'"); n != 1 {
		t.Errorf("orders through the link: %d", n)
	}
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM public.cust_names"); n != 2 {
		t.Errorf("view on the untouched column: %d rows", n)
	}
	if n := queryInt(t, f.local.URL, `SELECT count(*) FROM pg_views WHERE viewname = '<i>script view</i>'`); n != 0 {
		t.Error("the confirmed dependent view is still there")
	}
	execAs(t, f.remote.URL, "INSERT INTO orders (customer_id, total_usd, status) VALUES (1, 1, 'refunded')")
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM crm.orders WHERE status = 'refunded'"); n != 1 {
		t.Errorf("refunded orders through the link: %d", n)
	}
	d, err = f.svc.LinkDrift(ctx, "DATABASE_URL", "crm")
	if err != nil || !d.InStep() {
		t.Fatalf("after refresh drift = %+v, %v", d, err)
	}
	if _, err := f.svc.RefreshLink(ctx, RefreshRequest{LocalVar: "DATABASE_URL", Name: "crm", Fingerprint: p.Fingerprint}); !errs.Is(err, errs.Conflict) && !errs.Is(err, errs.Invalid) {
		t.Errorf("second refresh: %v", err)
	}
}

func TestDriftLimitToAndBlockers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "few", Tables: []string{"customers", "orders"}, CopyEnums: true}); err != nil {
		t.Fatal(err)
	}
	execAs(t, f.local.URL, "CREATE VIEW public.emails AS SELECT email FROM few.customers")
	execAs(t, f.remote.URL, `CREATE TABLE extra (x int); ALTER TABLE customers ALTER COLUMN email TYPE varchar(99); DROP TABLE orders`)
	d, err := f.svc.LinkDrift(ctx, "DATABASE_URL", "few")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.NewTables) != 0 || !slices.Equal(d.Available, []string{"<script>alert(1)</script>", "extra"}) || !slices.Equal(d.GoneTables, []string{"orders"}) {
		t.Fatalf("drift = %+v", d)
	}
	p, err := f.svc.PlanRefresh(ctx, "DATABASE_URL", "few")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Blockers) != 1 || !strings.Contains(p.Blockers[0], "used by a view") {
		t.Fatalf("blockers = %q", p.Blockers)
	}
	if _, err := f.svc.RefreshLink(ctx, RefreshRequest{LocalVar: "DATABASE_URL", Name: "few", Fingerprint: p.Fingerprint}); !errs.Is(err, errs.Conflict) {
		t.Fatalf("refresh past a blocker: %v", err)
	}
	execAs(t, f.local.URL, "DROP VIEW public.emails")
	p, err = f.svc.PlanRefresh(ctx, "DATABASE_URL", "few")
	if err != nil || len(p.Blockers) != 0 {
		t.Fatalf("plan = %+v, %v", p, err)
	}
	if _, err := f.svc.RefreshLink(ctx, RefreshRequest{LocalVar: "DATABASE_URL", Name: "few", Fingerprint: p.Fingerprint}); err != nil {
		t.Fatal(err)
	}
	recs, _ := f.svc.Registry.Links(ctx, "DATABASE_URL")
	if len(recs) != 1 || !slices.Equal(recs[0].Tables, []string{"customers"}) {
		t.Errorf("record after refresh = %+v", recs)
	}
	d, err = f.svc.LinkDrift(ctx, "DATABASE_URL", "few")
	if err != nil || !d.InStep() || len(d.Available) != 2 {
		t.Errorf("after refresh = %+v, %v", d, err)
	}
}

func TestDriftRemoteUnreachable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "gone", CopyEnums: true}); err != nil {
		t.Fatal(err)
	}
	// The remote refuses pglinks from now on.
	execAs(t, f.remote.URL, "ALTER ROLE CURRENT_USER PASSWORD 'rotated-password'")
	f.svc.Fleet.Close()
	d, err := f.svc.LinkDrift(ctx, "DATABASE_URL", "gone")
	if err != nil {
		t.Fatal(err)
	}
	if d.Error == "" || d.InStep() || !strings.Contains(d.Error, "HEROKU_POSTGRESQL_BLUE_URL") {
		t.Errorf("drift = %+v", d)
	}
	if _, err := f.svc.PlanRefresh(ctx, "DATABASE_URL", "gone"); err != nil {
		t.Errorf("plan with an unreachable remote: %v", err)
	}
}
