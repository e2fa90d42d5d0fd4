package links

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
)

func TestImportTables(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	const db = "DATABASE_URL"
	if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: db, Name: "few", Tables: []string{"customers"}}); err != nil {
		t.Fatal(err)
	}
	execAs(t, f.remote.URL, `CREATE TABLE "Extra ""x""" (id int); INSERT INTO "Extra ""x""" VALUES (7)`)
	d, err := f.svc.LinkDrift(ctx, db, "few")
	if err != nil || !slices.Equal(d.Available, []string{"<script>alert(1)</script>", `Extra "x"`, "orders"}) {
		t.Fatalf("drift = %+v, %v", d, err)
	}
	nothingChanged := func(t *testing.T) {
		t.Helper()
		if n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid WHERE c.relnamespace = 'few'::regnamespace"); n != 1 {
			t.Errorf("the link has %d foreign tables, want 1", n)
		}
		if n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_type WHERE typname = 'order_status'"); n != 0 {
			t.Error("order_status was created")
		}
		recs, _ := f.svc.Registry.Links(ctx, db)
		if len(recs) != 1 || !slices.Equal(recs[0].Tables, []string{"customers"}) {
			t.Errorf("record = %+v", recs)
		}
	}

	t.Run("ErrRefused", func(t *testing.T) {
		many := make([]string, MaxImportTables+1)
		for i := range many {
			many[i] = fmt.Sprint("t", i)
		}
		for _, c := range []struct {
			name   string
			tables []string
			want   string
		}{
			{"nothing", nil, "Choose at least one table"},
			{"too many", many, "At most 200 tables"},
			{"not a name", []string{"orders", ""}, "not a table name"},
			{"too long", []string{strings.Repeat("x", 64)}, "not a table name"},
			{"twice", []string{"orders", "orders"}, "chosen twice"},
			{"not on the remote", []string{"orders", "nope"}, `has no table "nope"`},
			{"imported already", []string{"customers"}, `imports "customers" already`},
		} {
			_, err := f.svc.PlanImport(ctx, db, "few", c.tables)
			if errs.KindOf(err) != errs.Invalid || errs.FieldOf(err) != "tables" || !strings.Contains(errs.MessageOf(err), c.want) {
				t.Errorf("%s: plan err = %v, want Invalid on tables with %q", c.name, err, c.want)
			}
			_, err = f.svc.ImportTables(ctx, ImportRequest{LocalVar: db, Name: "few", Tables: c.tables, Fingerprint: "x"})
			if errs.KindOf(err) != errs.Invalid {
				t.Errorf("%s: import err = %v", c.name, err)
			}
		}
		nothingChanged(t)
	})

	t.Run("ErrEveryTableLink", func(t *testing.T) {
		f2 := newFixture(t)
		if _, err := f2.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: db, Name: "all", CopyEnums: true}); err != nil {
			t.Fatal(err)
		}
		_, err := f2.svc.PlanImport(ctx, db, "all", []string{"orders"})
		if errs.KindOf(err) != errs.Invalid || !strings.Contains(errs.MessageOf(err), "imports every table") {
			t.Errorf("plan on an every-table link: %v", err)
		}
	})

	t.Run("OK", func(t *testing.T) {
		p, err := f.svc.PlanImport(ctx, db, "few", []string{"orders", `Extra "x"`})
		if err != nil {
			t.Fatal(err)
		}
		wantSQL := []string{
			`CREATE TYPE "public"."order_status" AS ENUM ('pending', 'paid', 'shipped')`,
			`IMPORT FOREIGN SCHEMA "public" LIMIT TO ("Extra ""x""", "orders") FROM SERVER "few" INTO "few"`,
		}
		if !slices.Equal(p.SQL, wantSQL) || len(p.Blockers) != 0 || !slices.Equal(p.Tables, []string{`Extra "x"`, "orders"}) || !slices.Equal(p.CopiedTypes, []string{"public.order_status"}) {
			t.Fatalf("plan SQL %q blockers %q tables %q copied %q", p.SQL, p.Blockers, p.Tables, p.CopiedTypes)
		}
		nothingChanged(t) // planning changed nothing

		// The remote moves on after the confirmation page: refused.
		execAs(t, f.remote.URL, `ALTER TYPE order_status ADD VALUE 'refunded'`)
		if _, err := f.svc.ImportTables(ctx, ImportRequest{LocalVar: db, Name: "few", Tables: p.Tables, Fingerprint: p.Fingerprint}); !errs.Is(err, errs.Conflict) {
			t.Fatalf("import with a stale plan: %v", err)
		}
		nothingChanged(t)

		p, err = f.svc.PlanImport(ctx, db, "few", []string{"orders", `Extra "x"`})
		if err != nil {
			t.Fatal(err)
		}
		res, err := f.svc.ImportTables(ctx, ImportRequest{LocalVar: db, Name: "few", Tables: []string{`Extra "x"`, "orders"}, Fingerprint: p.Fingerprint})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.DDL, p.SQL) {
			t.Errorf("ran %q, planned %q", res.DDL, p.SQL)
		}
		if n := queryInt(t, f.local.URL, `SELECT count(*) FROM few."Extra ""x""" WHERE id = 7`); n != 1 {
			t.Errorf("Extra through the link: %d", n)
		}
		if n := queryInt(t, f.local.URL, "SELECT count(*) FROM few.orders WHERE status = 'paid'"); n != 1 {
			t.Errorf("orders through the link: %d", n)
		}
		recs, _ := f.svc.Registry.Links(ctx, db)
		if len(recs) != 1 || !slices.Equal(recs[0].Tables, []string{"customers", `Extra "x"`, "orders"}) || !slices.Equal(recs[0].CopiedTypes, []string{`"public"."order_status"`}) {
			t.Fatalf("record = %+v", recs)
		}
		l, err := f.svc.GetLink(ctx, db, "few")
		if err != nil || len(l.Tables) != 3 {
			t.Fatalf("link = %+v, %v", l, err)
		}
		d, err := f.svc.LinkDrift(ctx, db, "few")
		if err != nil || !d.InStep() || !slices.Equal(d.Available, []string{"<script>alert(1)</script>"}) {
			t.Fatalf("drift after import = %+v, %v", d, err)
		}
	})

	t.Run("ErrNameTakenInSchema", func(t *testing.T) {
		execAs(t, f.local.URL, `CREATE TABLE few."<script>alert(1)</script>" (x int)`)
		p, err := f.svc.PlanImport(ctx, db, "few", []string{"<script>alert(1)</script>"})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Blockers) != 1 || !strings.Contains(p.Blockers[0], "already holds a relation") {
			t.Fatalf("blockers = %q", p.Blockers)
		}
		if _, err := f.svc.ImportTables(ctx, ImportRequest{LocalVar: db, Name: "few", Tables: p.Tables, Fingerprint: p.Fingerprint}); !errs.Is(err, errs.Conflict) {
			t.Fatalf("import past a blocker: %v", err)
		}
	})
}

func TestImportConnectSystemTables(t *testing.T) {
	t.Parallel()
	f := connectFixture(t)
	ctx := context.Background()
	if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "sf", RemoteSchema: "salesforce", Tables: []string{"account"}}); err != nil {
		t.Fatal(err)
	}
	for _, sys := range []string{"_hcmeta", "_trigger_log_archive", "_trigger_log"} {
		_, err := f.svc.PlanImport(ctx, "DATABASE_URL", "sf", []string{"contact", sys})
		if errs.KindOf(err) != errs.Invalid || errs.FieldOf(err) != "tables" || !strings.Contains(errs.MessageOf(err), sys+" is") || !strings.HasSuffix(errs.MessageOf(err), "Nothing was changed.") {
			t.Errorf("%s: plan err = %v", sys, err)
		}
	}
	l, err := f.svc.GetLink(ctx, "DATABASE_URL", "sf")
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.svc.LinkDrift(ctx, "DATABASE_URL", "sf")
	if err != nil {
		t.Fatal(err)
	}
	if got := Importable(l, d); !slices.Equal(got, []string{"contact", "notes", "opportunity"}) {
		t.Errorf("importable = %q (available %q)", got, d.Available)
	}
	p, err := f.svc.PlanImport(ctx, "DATABASE_URL", "sf", []string{"contact"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ImportTables(ctx, ImportRequest{LocalVar: "DATABASE_URL", Name: "sf", Tables: []string{"contact"}, Fingerprint: p.Fingerprint}); err != nil {
		t.Fatal(err)
	}
}

// A remote that stops answering once the import's IMPORT FOREIGN SCHEMA
// starts: the import gives up within the statement timeout, changes
// nothing, and holds no lock; once the remote answers it goes through.
func TestImportStalledRemote(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	proxy, err := clusterB.NewProxy()
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	svc := newService(t, []string{
		"DATABASE_URL=" + f.local.URL,
		"HEROKU_POSTGRESQL_BLUE_URL=" + proxy.URL(f.remote.URL),
	})
	svc.Fleet.Deadlines.Statement = 2 * time.Second
	svc.Fleet.Deadlines.Keepalive = time.Second
	if _, err := svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "few", Tables: []string{"customers"}}); err != nil {
		t.Fatal(err)
	}
	p, err := svc.PlanImport(ctx, "DATABASE_URL", "few", []string{"orders"})
	if err != nil {
		t.Fatal(err)
	}
	proxy.Stall("pglinks/", "pg_class")
	start := time.Now()
	_, err = svc.ImportTables(ctx, ImportRequest{LocalVar: "DATABASE_URL", Name: "few", Tables: []string{"orders"}, Fingerprint: p.Fingerprint})
	took := time.Since(start)
	if proxy.Stalled() == 0 {
		t.Fatal("the proxy never stalled the import: the test reproduces nothing")
	}
	if !errs.Is(err, errs.Unavailable) || !strings.Contains(errs.MessageOf(err), "stopped answering") {
		t.Fatalf("err = %v, want a clear unavailable message", err)
	}
	if limit := svc.Fleet.Deadlines.Statement + 8*time.Second; took > limit {
		t.Fatalf("import took %v, more than %v", took, limit)
	}
	if n := advisoryLocks(t, svc, f.local.URL); n != 0 {
		t.Fatalf("%d advisory locks still held", n)
	}
	if n := queryInt(t, f.local.URL, "SELECT (SELECT count(*) FROM pg_class WHERE relname = 'orders') + (SELECT count(*) FROM pg_type WHERE typname = 'order_status')"); n != 0 {
		t.Fatalf("a stalled import left %d objects", n)
	}
	proxy.Unstall()
	if _, err := svc.ImportTables(ctx, ImportRequest{LocalVar: "DATABASE_URL", Name: "few", Tables: []string{"orders"}, Fingerprint: p.Fingerprint}); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM few.orders"); n != 1 {
		t.Errorf("orders through the link: %d", n)
	}
}
