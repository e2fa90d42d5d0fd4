package links

import (
	"context"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// The app role of a local database forges a link: a hand-made server and a
// hand-made schema holding a real table, both carrying a comment copied
// from a real link. It must never show as a link, and destroy must never
// drop it.
func TestForgedLinkIsNotALink(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	createSales(t, f)
	comment := queryString(t, f.local.URL, "SELECT obj_description('sales'::regnamespace, 'pg_namespace')")
	forged := strings.Replace(comment, `"link":"sales"`, `"link":"reporting"`, 1)
	execAs(t, f.local.URL, `CREATE SERVER reporting FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'x');
		CREATE SCHEMA reporting; CREATE TABLE reporting.revenue (amount int); INSERT INTO reporting.revenue VALUES (42)`)
	for _, obj := range []string{"SERVER reporting", "SCHEMA reporting"} {
		execAs(t, f.local.URL, "COMMENT ON "+obj+" IS "+quoteLit(forged))
	}
	// Even a copy of the real link's own comment on a server named after it
	// elsewhere matches no record.
	inv := f.svc.Inventory(ctx)
	var names []string
	for _, l := range inv[0].Links {
		names = append(names, l.Name)
	}
	if strings.Join(names, ",") != "sales" {
		t.Fatalf("inventory links = %v, want only sales", names)
	}
	if strings.Join(inv[0].Unrecorded, ",") != "reporting" {
		t.Fatalf("unrecorded = %v, want reporting", inv[0].Unrecorded)
	}
	if _, err := f.svc.GetLink(ctx, "DATABASE_URL", "reporting"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("GetLink(reporting) err = %v", err)
	}
	if _, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", "reporting"); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("PlanDestroy(reporting) err = %v", err)
	}
	_, err := f.svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "reporting", Confirm: "reporting"})
	if !errs.Is(err, errs.Forbidden) {
		t.Fatalf("DestroyLink(reporting) err = %v", err)
	}
	if n := queryInt(t, f.local.URL, "SELECT amount FROM reporting.revenue"); n != 42 {
		t.Fatal("the forged schema's data is gone")
	}
}

// A real link whose schema was swapped for a hand-made one with the same
// name and a copied comment: the schema's oid no longer matches the record.
func TestSwappedSchemaIsNotDropped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	createSales(t, f)
	comment := queryString(t, f.local.URL, "SELECT obj_description('sales'::regnamespace, 'pg_namespace')")
	execAs(t, f.local.URL, `ALTER SCHEMA sales RENAME TO sales_old; CREATE SCHEMA sales; CREATE TABLE sales.ledger (x int);
		COMMENT ON SCHEMA sales IS `+quoteLit(comment))
	if _, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", "sales"); !errs.Is(err, errs.Forbidden) {
		t.Fatalf("PlanDestroy err = %v", err)
	}
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM sales.ledger"); n != 0 {
		t.Fatal("unexpected rows")
	}
}

// Something that is not part of a link, put into the link's schema, blocks
// destroy, and the plan says what it is.
func TestDestroyRefusesSchemaWithOtherObjects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct{ name, sql, want string }{
		{"Table", "CREATE TABLE sales.notes (body text); INSERT INTO sales.notes VALUES ('keep me')", "table sales.notes"},
		{"Function", "CREATE FUNCTION sales.f() RETURNS int LANGUAGE sql AS 'SELECT 1'", "function sales.f()"},
		{"Type", "CREATE TYPE sales.mood AS ENUM ('ok')", "type sales.mood"},
		{"Sequence", "CREATE SEQUENCE sales.seq", "sequence sales.seq"},
		{"MaterializedView", "CREATE MATERIALIZED VIEW sales.mv AS SELECT 1 AS one", "materialized view sales.mv"},
		{"ForeignTableOtherServer", "CREATE SERVER other FOREIGN DATA WRAPPER postgres_fdw; CREATE FOREIGN TABLE sales.alien (x int) SERVER other", "foreign table sales.alien"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			createSales(t, f)
			execAs(t, f.local.URL, "CREATE VIEW sales.allowed AS SELECT id FROM sales.customers; "+tc.sql)
			plan, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", "sales")
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.Blockers) != 1 || !strings.Contains(plan.Blockers[0], tc.want) {
				t.Fatalf("blockers = %q, want one naming %q", plan.Blockers, tc.want)
			}
			_, err = f.svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "sales", Confirm: "sales", Fingerprint: plan.Fingerprint})
			if !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), tc.want) {
				t.Fatalf("err = %v", err)
			}
			if s, sv, m := linkObjects(t, f.local.URL, "sales"); s != 1 || sv != 1 || m != 1 {
				t.Fatal("destroyed despite what else the schema holds")
			}
		})
	}
}

// Everything DROP SCHEMA ... CASCADE takes from outside the schema is
// listed, down to single columns, and destroy takes nothing else.
func TestDestroyListsColumnsAndOddDependents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name, setup string
		want        []string // descriptions that must be listed
		blocked     bool     // the setup also puts a non-link object in the schema
		check       string   // a query that must work after destroy (or its refusal)
	}{
		{"Collation",
			`CREATE COLLATION sales.c_coll FROM "C"; CREATE TABLE public.keep (id int, note text COLLATE sales.c_coll)`,
			[]string{"column note of table public.keep"}, true, "SELECT id, note FROM public.keep"},
		{"TextSearchConfig",
			`CREATE TEXT SEARCH CONFIGURATION sales.cfg (COPY = pg_catalog.simple);
			 CREATE TABLE public.docs (id int, body text, tsv tsvector GENERATED ALWAYS AS (to_tsvector('sales.cfg'::regconfig, body)) STORED)`,
			[]string{"column tsv of table public.docs"}, true, "SELECT id, body, tsv FROM public.docs"},
		{"Domain",
			`CREATE DOMAIN sales.positive AS int CHECK (VALUE > 0); CREATE TABLE public.amounts (id int, amount sales.positive)`,
			[]string{"column amount of table public.amounts"}, true, "SELECT id, amount FROM public.amounts"},
		{"Operator",
			`CREATE FUNCTION sales.same(int, int) RETURNS bool LANGUAGE sql IMMUTABLE AS 'SELECT $1 = $2';
			 CREATE OPERATOR sales.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = sales.same);
			 CREATE VIEW public.same_ids AS SELECT 1 OPERATOR(sales.===) 1 AS same`,
			[]string{"view public.same_ids"}, true, "SELECT same FROM public.same_ids"},
		{"SequenceDefault",
			`CREATE SEQUENCE sales.ids; CREATE TABLE public.tickets (id int DEFAULT nextval('sales.ids'), title text)`,
			[]string{"default value for column id of table public.tickets"}, true, "INSERT INTO public.tickets (title) VALUES ('x')"},
		{"ViewOnForeignTable",
			`CREATE VIEW public.big AS SELECT * FROM sales.customers; CREATE VIEW public.bigger AS SELECT name FROM public.big`,
			[]string{"view public.big", "view public.bigger"}, false, "SELECT to_regclass('public.big') IS NULL AND to_regclass('public.bigger') IS NULL"},
		{"RowTypeColumn",
			`CREATE TABLE public.snap (id int, c sales.customers); INSERT INTO public.snap (id) VALUES (1)`,
			[]string{"column c of table public.snap"}, false, "SELECT id FROM public.snap WHERE NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'public.snap'::regclass AND attname = 'c' AND NOT attisdropped)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			createSales(t, f)
			execAs(t, f.local.URL, tc.setup)
			plan, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", "sales")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range plan.Dependents {
				got = append(got, d.Description)
			}
			for _, w := range tc.want {
				found := false
				for _, g := range got {
					found = found || g == w
				}
				if !found {
					t.Fatalf("dependents %q do not list %q", got, w)
				}
			}
			if tc.blocked {
				// What the outside objects use lives in the link's schema
				// but is not part of the link: listed, and refused.
				_, err := f.svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "sales", Confirm: "sales", Fingerprint: plan.Fingerprint})
				if len(plan.Blockers) == 0 || !errs.Is(err, errs.Conflict) {
					t.Fatalf("blockers %q, err %v: want a refusal", plan.Blockers, err)
				}
				execAs(t, f.local.URL, tc.check)
				return
			}
			if len(plan.Blockers) != 0 {
				t.Fatalf("blockers: %q", plan.Blockers)
			}
			if _, err := f.svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "sales", Confirm: "sales", Fingerprint: plan.Fingerprint}); err != nil {
				t.Fatal(err)
			}
			execAs(t, f.local.URL, tc.check)
		})
	}
}

func queryString(t testing.TB, url, sql string) string {
	t.Helper()
	return pgtest.MustQueryString(t, url, sql)
}

func quoteLit(s string) string {
	q, err := fleet.QuoteLiteral(s)
	if err != nil {
		panic(err)
	}
	return q
}
