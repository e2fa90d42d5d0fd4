package links

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

const blue = "HEROKU_POSTGRESQL_BLUE_URL"

// hostileSchema is a remote schema name with HTML, quotes, mixed case.
const hostileSchema = `Sales "Q1" <b>x</b>`

// long63 is a 63-byte table name, the longest PostgreSQL keeps.
var long63 = "T" + strings.Repeat("x", 61) + "Z"

func TestCreateOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("ChosenSchemaAndCatalog", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		execAs(t, f.remote.URL, `CREATE SCHEMA `+fleet.Ident(hostileSchema)+`;
			CREATE TABLE `+fleet.Ident(hostileSchema, "Mixed'Case")+` (id int, "<i>v</i>" text);
			CREATE TABLE `+fleet.Ident(hostileSchema, long63)+` (a int);
			CREATE VIEW `+fleet.Ident(hostileSchema, "v")+` AS SELECT 1 AS one;
			INSERT INTO `+fleet.Ident(hostileSchema, "Mixed'Case")+` VALUES (1, 'x')`)
		cat, err := f.svc.ReadRemoteCatalog(ctx, blue, hostileSchema)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(cat.Schemas, hostileSchema) || !slices.Contains(cat.Schemas, "public") || slices.Contains(cat.Schemas, "pg_catalog") || slices.Contains(cat.Schemas, "information_schema") {
			t.Errorf("schemas = %q", cat.Schemas)
		}
		if len(cat.Tables) != 3 || cat.Tables[0].Name != "Mixed'Case" || cat.Tables[1].Name != long63 || cat.Tables[2].Kind != "view" {
			t.Errorf("tables = %+v", cat.Tables)
		}
		res, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "q1", RemoteSchema: hostileSchema, Tables: []string{"Mixed'Case", long63}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Tables != 2 || res.Link.RemoteSchema != hostileSchema || !slices.Equal(res.Link.Tables, []string{"Mixed'Case", long63}) {
			t.Fatalf("created %+v", res)
		}
		last := res.DDL[len(res.DDL)-1]
		want := `IMPORT FOREIGN SCHEMA "Sales ""Q1"" <b>x</b>" LIMIT TO ("Mixed'Case", "` + long63 + `") FROM SERVER "q1" INTO "q1"`
		if last != want {
			t.Errorf("import = %s\nwant     %s", last, want)
		}
		if n := queryInt(t, f.local.URL, `SELECT count(*) FROM q1."Mixed'Case" WHERE "<i>v</i>" = 'x'`); n != 1 {
			t.Errorf("rows through the link = %d", n)
		}
		// The choice is in pglinks' record, read back with the link.
		recs, err := f.svc.Registry.Links(ctx, "DATABASE_URL")
		if err != nil || len(recs) != 1 || !slices.Equal(recs[0].Tables, []string{"Mixed'Case", long63}) || recs[0].ReadOnly {
			t.Fatalf("records = %+v, %v", recs, err)
		}
	})

	t.Run("LimitToAndCopiedTypes", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		res, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "few", Tables: []string{"orders"}, CopyEnums: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Tables != 1 || !slices.Equal(res.CopiedTypes, []string{"public.order_status"}) {
			t.Fatalf("created %+v", res)
		}
		recs, _ := f.svc.Registry.Links(ctx, "DATABASE_URL")
		if len(recs) != 1 || !slices.Equal(recs[0].CopiedTypes, []string{`"public"."order_status"`}) {
			t.Fatalf("records = %+v", recs)
		}
		// Only the chosen table's types are needed: customers alone needs none.
		f2 := newFixture(t)
		if _, err := f2.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "cust", Tables: []string{"customers"}}); err != nil {
			t.Fatalf("customers alone needs no enum: %v", err)
		}
	})

	t.Run("ReadOnly", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		ro, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "ro", Tables: []string{"customers"}, ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if !ro.Link.ReadOnly {
			t.Error("read-only link reads back read-write")
		}
		if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "rw", Tables: []string{"customers"}}); err != nil {
			t.Fatal(err)
		}
		err = execErr(f.local.URL, "INSERT INTO ro.customers (id, name) VALUES (100, 'Eve')")
		if err == nil || !strings.Contains(err.Error(), "does not allow inserts") {
			t.Errorf("insert through a read-only link: %v", err)
		}
		execAs(t, f.local.URL, "INSERT INTO rw.customers (id, name) VALUES (101, 'Eve')")
		if n := queryInt(t, f.remote.URL, "SELECT count(*) FROM customers WHERE id = 101"); n != 1 {
			t.Errorf("insert through the read-write link reached %d rows", n)
		}
		if n := queryInt(t, f.remote.URL, "SELECT count(*) FROM customers WHERE id = 100"); n != 0 {
			t.Errorf("insert through the read-only link reached the remote")
		}
		l, err := f.svc.GetLink(ctx, "DATABASE_URL", "rw")
		if err != nil || l.ReadOnly {
			t.Errorf("read-write link = %+v, %v", l, err)
		}
	})

	t.Run("TamperedNamesCreateNothing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		for _, req := range []CreateRequest{
			{Name: "bad", Tables: []string{"customers", "nope<script>"}},
			{Name: "bad", Tables: []string{"customers", "customers"}},
			{Name: "bad", Tables: []string{}},
			{Name: "bad", RemoteSchema: "nope"},
			{Name: "bad", Token: "0123.456"},
		} {
			req.RemoteVar, req.LocalVar = blue, "DATABASE_URL"
			_, err := f.svc.CreateLink(ctx, req)
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("%+v: err = %v", req, err)
			}
			if _, err := f.svc.PreviewCreate(ctx, req); !errs.Is(err, errs.Invalid) {
				t.Errorf("preview %+v: err = %v", req, err)
			}
		}
		assertNothingLeft(t, f.local.URL, "bad")
	})

	t.Run("PreviewIsWhatRuns", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		req := CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "pv", CopyEnums: true, ReadOnly: true}
		p, err := f.svc.PreviewCreate(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		assertNothingLeft(t, f.local.URL, "pv")
		if n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_type WHERE typname = 'order_status'"); n != 0 {
			t.Fatal("preview created the enum")
		}
		if !slices.Equal(p.Tables, []string{"<script>alert(1)</script>", "customers", "orders"}) {
			t.Errorf("preview tables = %q", p.Tables)
		}
		all := strings.Join(p.Statements, "\n")
		if strings.Contains(all, f.remote.Password) || !strings.Contains(all, "password '***'") || !strings.Contains(all, "updatable 'false'") {
			t.Errorf("preview:\n%s", all)
		}
		req.Token = p.Token
		res, err := f.svc.CreateLink(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.DDL, p.Statements) {
			t.Errorf("ran:\n%s\npreviewed:\n%s", strings.Join(res.DDL, "\n"), all)
		}
		// The same preview cannot make a second link.
		req.Name = "pv2"
		if _, err := f.svc.CreateLink(ctx, req); !errs.Is(err, errs.Conflict) {
			t.Errorf("second create from one preview: %v", err)
		}
		assertNothingLeft(t, f.local.URL, "pv2")

		// The remote changes after a preview: the create refuses.
		req.Name, req.Token = "pv3", ""
		if p, err = f.svc.PreviewCreate(ctx, req); err != nil {
			t.Fatal(err)
		}
		execAs(t, f.remote.URL, "CREATE TABLE after_preview (x int)")
		req.Token = p.Token
		if _, err := f.svc.CreateLink(ctx, req); !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), "changed since the preview") {
			t.Errorf("create after the remote changed: %v", err)
		}
		assertNothingLeft(t, f.local.URL, "pv3")
	})
}

// execErr runs sql on url and returns its error.
func execErr(url, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
