package links

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/pglinks/pglinks/internal/errs"
)

func createSales(t *testing.T, f *fixture) {
	t.Helper()
	if _, err := f.svc.CreateLink(context.Background(), CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "sales", CopyEnums: true}); err != nil {
		t.Fatal(err)
	}
}

func TestDestroyLink(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		createSales(t, f)
		// Something else in the database that must survive.
		execAs(t, f.local.URL, "CREATE TABLE public.keep (id int); CREATE SCHEMA mine; CREATE TABLE mine.t (id int)")
		plan, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", "sales")
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Tables) != 3 || len(plan.Dependents) != 0 || len(plan.Blockers) != 0 {
			t.Fatalf("plan = %+v", plan)
		}
		res, err := f.svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "sales", Confirm: "sales", Fingerprint: plan.Fingerprint})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(res.DDL, "; "); got != `DROP SCHEMA "sales" CASCADE; DROP USER MAPPING IF EXISTS FOR "`+f.local.Owner+`" SERVER "sales"; DROP SERVER "sales"; DROP TYPE "public"."order_status"` {
			t.Errorf("DDL = %s", got)
		}
		assertNothingLeft(t, f.local.URL, "sales")
		if n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_class WHERE relname IN ('keep', 't')"); n != 2 {
			t.Fatal("destroy touched other tables")
		}
		// The remote is untouched.
		if n := queryInt(t, f.remote.URL, "SELECT count(*) FROM customers"); n != 2 {
			t.Fatal("remote changed")
		}
		if _, err := f.svc.GetLink(ctx, "DATABASE_URL", "sales"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("after destroy GetLink err = %v", err)
		}
	})

	t.Run("ErrConfirmMismatch", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		createSales(t, f)
		plan, _ := f.svc.PlanDestroy(ctx, "DATABASE_URL", "sales")
		for _, typed := range []string{"", "Sales", "sale", "sales2"} {
			_, err := f.svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "sales", Confirm: typed, Fingerprint: plan.Fingerprint})
			if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "confirm" || !strings.Contains(errs.MessageOf(err), "Nothing was destroyed") {
				t.Fatalf("typed %q: err = %v", typed, err)
			}
		}
		if s, sv, m := linkObjects(t, f.local.URL, "sales"); s != 1 || sv != 1 || m != 1 {
			t.Fatal("a mismatched confirmation destroyed something")
		}
	})

	t.Run("ErrNotALink", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		createSales(t, f)
		execAs(t, f.local.URL, `CREATE SCHEMA mine; CREATE TABLE mine.t (id int);
			CREATE SERVER handmade FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'x');
			CREATE SCHEMA handmade;
			CREATE USER MAPPING FOR CURRENT_USER SERVER handmade OPTIONS (user 'u', password 'p');
			CREATE SERVER forged FOREIGN DATA WRAPPER postgres_fdw;
			CREATE SCHEMA forged;
			COMMENT ON SERVER forged IS '{"pglinks":{"v":1,"id":"abc","link":"forged","mapping_role":"x"}}'`)
		before := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_class")
		for _, name := range []string{"public", "pg_catalog", "information_schema", "pg_toast", "mine", "handmade", "forged", `sales" CASCADE; --`, "../sales", ""} {
			_, err := f.svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: name, Confirm: name})
			if !errs.Is(err, errs.Forbidden) && !errs.Is(err, errs.NotFound) {
				t.Errorf("%q: err = %v, want a refusal", name, err)
			}
			if _, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", name); err == nil {
				t.Errorf("%q: PlanDestroy accepted it", name)
			}
		}
		if after := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_class"); after != before {
			t.Fatalf("pg_class went from %d to %d rows", before, after)
		}
		for _, name := range []string{"handmade", "forged"} {
			if s, sv, _ := linkObjects(t, f.local.URL, name); s != 1 || sv != 1 {
				t.Fatalf("%s was touched", name)
			}
		}
		if s, sv, m := linkObjects(t, f.local.URL, "sales"); s != 1 || sv != 1 || m != 1 {
			t.Fatal("the real link was touched")
		}
	})

	t.Run("DependentsListedAndGuarded", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		createSales(t, f)
		execAs(t, f.local.URL, `CREATE VIEW public.big_customers AS SELECT * FROM sales.customers WHERE id > 0;
			CREATE VIEW public.bigger AS SELECT name FROM public.big_customers;
			CREATE MATERIALIZED VIEW public.order_totals AS SELECT sum(total) FROM sales.orders WITH NO DATA;
			CREATE VIEW sales.inside AS SELECT 1 AS one FROM sales.orders;
			CREATE TABLE public.unrelated (id int)`)
		plan, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", "sales")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range plan.Dependents {
			got = append(got, d.Type+" "+d.Identity)
		}
		want := "materialized view public.order_totals|view public.big_customers|view public.bigger"
		if strings.Join(got, "|") != want {
			t.Fatalf("dependents = %q, want %q", strings.Join(got, "|"), want)
		}
		// Stale confirmation page: a new dependent appears after it was shown.
		execAs(t, f.local.URL, "CREATE VIEW public.late AS SELECT id FROM sales.customers")
		_, err = f.svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "sales", Confirm: "sales", Fingerprint: plan.Fingerprint})
		if !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), "changed") {
			t.Fatalf("err = %v", err)
		}
		if s, _, _ := linkObjects(t, f.local.URL, "sales"); s != 1 {
			t.Fatal("destroyed despite the stale plan")
		}
		plan, _ = f.svc.PlanDestroy(ctx, "DATABASE_URL", "sales")
		if _, err := f.svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "sales", Confirm: "sales", Fingerprint: plan.Fingerprint}); err != nil {
			t.Fatal(err)
		}
		assertNothingLeft(t, f.local.URL, "sales")
		if n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_class WHERE relname IN ('big_customers','bigger','order_totals','late')"); n != 0 {
			t.Fatalf("%d dependents survived", n)
		}
		if n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_class WHERE relname = 'unrelated'"); n != 1 {
			t.Fatal("unrelated table dropped")
		}
	})

	// postgres_fdw imports a generated column with its expression, a
	// column default of the foreign table: inside the link, never listed as
	// something the drop takes elsewhere. A default outside that depends
	// on the link still is, and its column, which stays, is not.
	t.Run("GeneratedColumnsStayInside", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		execAs(t, f.remote.URL, `CREATE TABLE invoices (id int, net numeric, gross numeric GENERATED ALWAYS AS (net * 1.2) STORED)`)
		createSales(t, f)
		if n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_attrdef WHERE adrelid = 'sales.invoices'::regclass"); n != 1 {
			t.Fatalf("the imported generated column has %d defaults, want 1", n)
		}
		execAs(t, f.local.URL, `CREATE TABLE public.keep (id int, note text DEFAULT (NULL::sales.customers)::text)`)
		plan, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", "sales")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range plan.Dependents {
			got = append(got, d.Description)
		}
		if want := "default value for column note of table public.keep"; strings.Join(got, "|") != want {
			t.Fatalf("dependents = %q, want %q", got, want)
		}
		if _, err := f.svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "sales", Confirm: "sales", Fingerprint: plan.Fingerprint}); err != nil {
			t.Fatal(err)
		}
		assertNothingLeft(t, f.local.URL, "sales")
		if n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_attrdef WHERE adrelid = 'public.keep'::regclass"); n != 0 {
			t.Fatal("the listed default survived")
		}
		if n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.keep'::regclass AND attname = 'note' AND NOT attisdropped"); n != 1 {
			t.Fatal("the column whose default went was dropped too")
		}
	})

	t.Run("ErrBlockedByForeignTableElsewhere", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		createSales(t, f)
		execAs(t, f.local.URL, "CREATE FOREIGN TABLE public.stray (id int) SERVER sales OPTIONS (table_name 'customers')")
		plan, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", "sales")
		if err != nil || len(plan.Blockers) != 1 || plan.Blockers[0] != "foreign table public.stray uses the link's server" {
			t.Fatalf("plan = %+v, err = %v", plan, err)
		}
		_, err = f.svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "sales", Confirm: "sales", Fingerprint: plan.Fingerprint})
		if !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), "public.stray") {
			t.Fatalf("err = %v", err)
		}
		if s, sv, m := linkObjects(t, f.local.URL, "sales"); s != 1 || sv != 1 || m != 1 {
			t.Fatal("destroyed despite a blocker")
		}
	})

	t.Run("ConcurrentDestroy", func(t *testing.T) {
		t.Parallel()
		// Two pglinks processes destroy the same link at once: one wins, the
		// other is told there is nothing left to destroy.
		f := newFixture(t)
		createSales(t, f)
		other := newService(t, f.env)
		other.Registry = f.svc.Registry // two processes share one state database
		plan, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", "sales")
		if err != nil {
			t.Fatal(err)
		}
		results := make([]error, 2)
		var wg sync.WaitGroup
		for i, svc := range []*Service{f.svc, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, results[i] = svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "sales", Confirm: "sales", Fingerprint: plan.Fingerprint})
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range results {
			switch {
			case err == nil:
				wins++
			case !errs.Is(err, errs.NotFound) && !errs.Is(err, errs.Conflict):
				t.Errorf("loser got %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d destroys won: %v", wins, results)
		}
		assertNothingLeft(t, f.local.URL, "sales")
	})
}
