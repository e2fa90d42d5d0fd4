package compat

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/connect"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/pgtest"
)

const (
	localVar  = "DATABASE_URL"
	remoteVar = "HEROKU_POSTGRESQL_BLUE_URL"
)

// remoteSQL is the remote's public schema: an enum column the local side
// lacks, a generated column and an identity (postgres_fdw imports their
// definitions), a table name that needs quoting, and rows to read back.
const remoteSQL = `
CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped');
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text, tags text[], seen timestamptz DEFAULT now());
CREATE TABLE orders (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer_id int REFERENCES customers, net numeric(10,2),
	gross numeric(10,2) GENERATED ALWAYS AS (net * 1.2) STORED, status order_status NOT NULL DEFAULT 'pending', extra jsonb);
CREATE TABLE "Order Items (2024) <draft>" (order_id int, sku text, qty int);
INSERT INTO customers (name, email, tags) VALUES ('Ada', 'ada@example.com', '{a,b}'), ('Grace', NULL, NULL);
INSERT INTO orders (customer_id, net, status, extra) VALUES (1, 10.00, 'paid', '{"k": 1}');
`

// linkWorld is one pair's local and remote databases (the remote also
// holding a Heroku Connect schema) and a Service over them.
type linkWorld struct {
	p             pair
	local, remote *pgtest.Database
	svc           *links.Service
}

func newLinkWorld(t *testing.T, p pair) *linkWorld {
	t.Helper()
	w := &linkWorld{p: p, local: newDB(t, p.local, "local", pgtest.DBOptions{}), remote: newDB(t, p.remote, "remote", pgtest.DBOptions{})}
	sf, err := os.ReadFile("../connect/testdata/salesforce.sql")
	if err != nil {
		t.Fatal(err)
	}
	execAs(t, w.remote.URL, remoteSQL+string(sf))
	w.svc = newService(t, w.env(w.remote.URL), p.local, nil)
	return w
}

func (w *linkWorld) env(remoteURL string) []string {
	return []string{localVar + "=" + w.local.URL, remoteVar + "=" + remoteURL}
}

// TestLinks runs every link path with each supported major as the local
// side and another as the remote, the way the handlers call the domain.
func TestLinks(t *testing.T) {
	forEachPair(t, func(t *testing.T, p pair) {
		ctx := ctxFor(t)
		w := newLinkWorld(t, p)
		svc := w.svc

		t.Run("Cards", func(t *testing.T) {
			inv := svc.Inventory(ctx)
			if len(inv) != 2 {
				t.Fatalf("inventory has %d cards", len(inv))
			}
			for _, st := range inv {
				want := p.local
				if st.DB.ConfigVar == remoteVar {
					want = p.remote
				}
				if !st.Reachable || st.Error != "" || !st.Support.OK {
					t.Errorf("%s: reachable %v, error %q, support %+v", st.DB.ConfigVar, st.Reachable, st.Error, st.Support)
				}
				if st.Support.Major() != want || st.Support.VersionNote() != "" {
					t.Errorf("%s: major %d (note %q), want %d", st.DB.ConfigVar, st.Support.Major(), st.Support.VersionNote(), want)
				}
			}
			html := renderInventory(t, inv)
			for _, want := range []string{versionBadge(p.local), versionBadge(p.remote)} {
				if !strings.Contains(html, want) {
					t.Errorf("the cards lack %q", want)
				}
			}
			if strings.Contains(html, `data-testid="version-note"`) {
				t.Error("a supported server got the version note")
			}
			if svc.ConnectSchema(remoteVar, "salesforce") == nil {
				t.Error("the remote's Heroku Connect schema was not recognised")
			}
		})

		t.Run("CreateWithPreflightAndEnumCopy", func(t *testing.T) {
			cat, err := svc.ReadRemoteCatalog(ctx, remoteVar, "")
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tb := range cat.Tables {
				names = append(names, tb.Name)
			}
			if !slices.Equal(names, []string{"Order Items (2024) <draft>", "customers", "orders"}) || !slices.Contains(cat.Schemas, "salesforce") {
				t.Fatalf("remote catalog: schemas %v, tables %v", cat.Schemas, names)
			}
			// Without the enum copy the pre-flight names the missing type.
			_, err = svc.PreviewCreate(ctx, links.CreateRequest{RemoteVar: remoteVar, LocalVar: localVar, Name: "sales"})
			if errs.KindOf(err) != errs.Invalid || !strings.Contains(errs.MessageOf(err), "order_status") {
				t.Fatalf("pre-flight without the enum copy: %v", err)
			}
			prev, err := svc.PreviewCreate(ctx, links.CreateRequest{RemoteVar: remoteVar, LocalVar: localVar, Name: "sales", CopyEnums: true})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(prev.Statements, `CREATE TYPE "public"."order_status" AS ENUM ('pending', 'paid', 'shipped')`) {
				t.Fatalf("preview: %q", prev.Statements)
			}
			res, err := svc.CreateLink(ctx, links.CreateRequest{RemoteVar: remoteVar, LocalVar: localVar, Name: "sales", CopyEnums: true, Token: prev.Token})
			if err != nil {
				t.Fatal(err)
			}
			if res.Tables != 3 || !slices.Equal(res.CopiedTypes, []string{"public.order_status"}) {
				t.Fatalf("created %d tables, copied %v", res.Tables, res.CopiedTypes)
			}
			if n := queryInt(t, w.local.URL, "SELECT count(*) FROM sales.orders WHERE status = 'paid' AND gross = 12.00 AND extra->>'k' = '1'"); n != 1 {
				t.Errorf("orders through the link: %d", n)
			}
			if n := queryInt(t, w.local.URL, "SELECT count(*) FROM sales.customers WHERE 'b' = ANY(tags)"); n != 1 {
				t.Errorf("customers through the link: %d", n)
			}
		})

		t.Run("ForeignTables", func(t *testing.T) {
			l, tp, err := svc.LinkPage(ctx, localVar, "sales", "", 0, 50)
			if err != nil {
				t.Fatal(err)
			}
			if l.RemoteConfigVar != remoteVar || l.Stale.Stale() || tp.Matches != 3 {
				t.Fatalf("link %+v, stale %+v, %d tables", l, l.Stale, tp.Matches)
			}
			cols := map[string]string{}
			for _, ft := range tp.Tables {
				if ft.Schema != "sales" || ft.Server != "sales" {
					t.Errorf("table %+v", ft)
				}
				for _, c := range ft.Columns {
					cols[ft.Name+"."+c.Name] = c.Type
				}
			}
			for col, typ := range map[string]string{
				"orders.status": "public.order_status", "orders.gross": "numeric(10,2)", "orders.extra": "jsonb",
				"customers.tags": "text[]", "customers.seen": "timestamp with time zone", "Order Items (2024) <draft>.qty": "integer",
			} {
				if cols[col] != typ {
					t.Errorf("column %s is %q, want %q", col, cols[col], typ)
				}
			}
			_, tp, err = svc.LinkPage(ctx, localVar, "sales", "draft", 0, 50)
			if err != nil || tp.Matches != 1 || tp.Tables[0].Name != "Order Items (2024) <draft>" {
				t.Fatalf("filtered page: %+v, %v", tp, err)
			}
			h, err := links.NewMonitor(svc).Check(ctx, localVar, "sales", true)
			if err != nil || h.State != links.HealthHealthy {
				t.Fatalf("health: %+v, %v", h, err)
			}
		})

		t.Run("DriftAndRefresh", func(t *testing.T) {
			execAs(t, w.remote.URL, `CREATE TABLE tickets (id int, title text); INSERT INTO tickets VALUES (1, 'help');
				ALTER TABLE customers ADD COLUMN phone text, ALTER COLUMN email TYPE varchar(200);
				ALTER TABLE orders DROP COLUMN extra;
				DROP TABLE "Order Items (2024) <draft>";
				ALTER TYPE order_status ADD VALUE 'refunded'`)
			d, err := svc.LinkDrift(ctx, localVar, "sales")
			if err != nil || d.Error != "" {
				t.Fatalf("drift: %+v, %v", d, err)
			}
			if !slices.Equal(d.NewTables, []string{"tickets"}) || !slices.Equal(d.GoneTables, []string{"Order Items (2024) <draft>"}) || len(d.Tables) != 2 || len(d.Enums) != 1 {
				t.Fatalf("drift: new %v, gone %v, tables %+v, enums %+v", d.NewTables, d.GoneTables, d.Tables, d.Enums)
			}
			l, err := svc.GetLink(ctx, localVar, "sales")
			if err != nil {
				t.Fatal(err)
			}
			pd, err := svc.PageDrift(ctx, l, true)
			if err != nil || !slices.Equal(pd.NewTables, d.NewTables) {
				t.Fatalf("page drift: %+v, %v", pd, err)
			}
			plan, err := svc.PlanRefresh(ctx, localVar, "sales")
			if err != nil || len(plan.Blockers) != 0 {
				t.Fatalf("plan: %+v, %v", plan, err)
			}
			if got := plan.Summary.String(); got != "1 table added, 3 columns changed, 1 table removed, 1 enum type updated" {
				t.Errorf("summary = %q", got)
			}
			res, err := svc.RefreshLink(ctx, links.RefreshRequest{LocalVar: localVar, Name: "sales", Fingerprint: plan.Fingerprint})
			if err != nil || !slices.Equal(res.DDL, plan.SQL) {
				t.Fatalf("refresh: %+v, %v", res, err)
			}
			if d, err := svc.LinkDrift(ctx, localVar, "sales"); err != nil || !d.InStep() {
				t.Fatalf("after refresh: %+v, %v", d, err)
			}
			execAs(t, w.remote.URL, `INSERT INTO orders (customer_id, net, status) VALUES (2, 1, 'refunded')`)
			if n := queryInt(t, w.local.URL, "SELECT count(*) FROM sales.tickets t JOIN sales.customers c ON c.id = t.id WHERE c.phone IS NULL"); n != 1 {
				t.Errorf("refreshed tables: %d", n)
			}
			if n := queryInt(t, w.local.URL, "SELECT count(*) FROM sales.orders WHERE status = 'refunded'"); n != 1 {
				t.Errorf("the new enum label through the link: %d", n)
			}
		})

		t.Run("ImportIntoChosenTablesLink", func(t *testing.T) {
			if _, err := svc.CreateLink(ctx, links.CreateRequest{RemoteVar: remoteVar, LocalVar: localVar, Name: "few", Tables: []string{"customers"}, ReadOnly: true}); err != nil {
				t.Fatal(err)
			}
			d, err := svc.LinkDrift(ctx, localVar, "few")
			if err != nil || !slices.Equal(d.Available, []string{"orders", "tickets"}) {
				t.Fatalf("available: %+v, %v", d, err)
			}
			plan, err := svc.PlanImport(ctx, localVar, "few", []string{"orders", "tickets"})
			if err != nil || len(plan.Blockers) != 0 {
				t.Fatalf("plan: %+v, %v", plan, err)
			}
			if _, err := svc.ImportTables(ctx, links.ImportRequest{LocalVar: localVar, Name: "few", Tables: plan.Tables, Fingerprint: plan.Fingerprint}); err != nil {
				t.Fatal(err)
			}
			if n := queryInt(t, w.local.URL, "SELECT count(*) FROM few.orders o JOIN few.tickets t ON t.id = o.customer_id"); n != 1 {
				t.Errorf("imported tables: %d", n)
			}
			l, err := svc.GetLink(ctx, localVar, "few")
			if err != nil || !slices.Equal(l.Tables, []string{"customers", "orders", "tickets"}) || !l.ReadOnly {
				t.Fatalf("link after import: %+v, %v", l, err)
			}
		})

		t.Run("ConnectSyncState", func(t *testing.T) {
			mapped := []string{"account", "contact", "opportunity"}
			if _, err := svc.CreateLink(ctx, links.CreateRequest{RemoteVar: remoteVar, LocalVar: localVar, Name: "sf", RemoteSchema: "salesforce", Tables: mapped, ReadOnly: true}); err != nil {
				t.Fatal(err)
			}
			if n := queryInt(t, w.local.URL, "SELECT count(*) FROM sf.account WHERE _hc_lastop = 'FAILED'"); n != 1 {
				t.Errorf("FAILED accounts through the link: %d", n)
			}
			st, err := connect.ReadFleetSyncState(ctx, svc.Fleet, remoteVar, "salesforce", mapped, connect.DefaultOptions)
			if err != nil || st == nil || len(st.Tables) != 3 || st.TriggerLogErr != "" || len(st.TriggerLog) != 2 {
				t.Fatalf("sync state: %+v, %v", st, err)
			}
			acc := st.Tables[0]
			if acc.Name != "account" || acc.Err != "" || acc.Count("FAILED") == nil || acc.Count("FAILED").N != 1 || len(acc.Failed) != 1 || acc.Failed[0].Err.Op != "CREATE" {
				t.Errorf("account: %+v", acc)
			}
		})

		t.Run("RepairAfterRotation", func(t *testing.T) {
			execAs(t, clusters[p.remote].SuperURL("postgres"), "ALTER ROLE "+pgIdent(w.remote.Owner)+" PASSWORD 'rotated-Secret-42'")
			rotated := clusters[p.remote].URL(w.remote.Owner, "rotated-Secret-42", w.remote.Name)
			// pglinks restarted with the new URL, same state database.
			svc2 := newService(t, w.env(rotated), 0, svc.Registry)
			w.svc = svc2
			h, err := links.NewMonitor(svc2).Check(ctx, localVar, "sales", true)
			if err != nil || h.State != links.HealthBroken || !strings.Contains(h.Reason, "password refused") {
				t.Fatalf("after the rotation: %+v, %v", h, err)
			}
			l, _, err := svc2.LinkPage(ctx, localVar, "sales", "", 0, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(l.Stale.Changes, "; "); got != "credentials changed (user or password)" {
				t.Errorf("stale = %q", got)
			}
			plan, err := svc2.PlanRepair(ctx, localVar, "sales")
			if err != nil || len(plan.DDL) != 1 || strings.Contains(plan.DDL[0], "rotated-Secret-42") {
				t.Fatalf("repair plan: %+v, %v", plan, err)
			}
			res, err := svc2.RepairLink(ctx, links.RepairRequest{LocalVar: localVar, Name: "sales", Fingerprint: plan.Fingerprint})
			if err != nil || res.Health.State != links.HealthHealthy {
				t.Fatalf("repair: %+v, %v", res, err)
			}
			if l, _, err := svc2.LinkPage(ctx, localVar, "sales", "", 0, 1); err != nil || l.Stale.Stale() {
				t.Fatalf("after the repair: %+v, %v", l, err)
			}
			if n := queryInt(t, w.local.URL, "SELECT count(*) FROM sales.customers"); n != 2 {
				t.Errorf("through the repaired link: %d", n)
			}
		})

		t.Run("DestroyWithImpactList", func(t *testing.T) {
			svc := w.svc
			execAs(t, w.local.URL, `CREATE VIEW public.paid AS SELECT id, gross FROM sales.orders WHERE status = 'paid';
				CREATE TABLE public.keep (id int, note text); CREATE VIEW public.names AS SELECT name FROM sales.customers`)
			plan, err := svc.PlanDestroy(ctx, localVar, "sales")
			if err != nil || len(plan.Blockers) != 0 {
				t.Fatalf("plan: %+v, %v", plan, err)
			}
			var deps []string
			for _, d := range plan.Dependents {
				deps = append(deps, d.Description)
			}
			slices.Sort(deps)
			if !slices.Equal(deps, []string{"view public.names", "view public.paid"}) {
				t.Fatalf("dependents = %q", deps)
			}
			// The copied enum stays: the link few still uses it.
			if len(plan.Types) != 1 || plan.Types[0].Drop {
				t.Errorf("types: %+v", plan.Types)
			}
			if _, err := svc.DestroyLink(ctx, links.DestroyRequest{LocalVar: localVar, Name: "sales", Confirm: "sale", Fingerprint: plan.Fingerprint}); !errs.Is(err, errs.Invalid) {
				t.Fatalf("a mistyped confirmation: %v", err)
			}
			res, err := svc.DestroyLink(ctx, links.DestroyRequest{LocalVar: localVar, Name: "sales", Confirm: "sales", Fingerprint: plan.Fingerprint})
			if err != nil || len(res.Dependents) != 2 {
				t.Fatalf("destroy: %+v, %v", res, err)
			}
			left := queryInt(t, w.local.URL, `SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'sales') + (SELECT count(*) FROM pg_foreign_server WHERE srvname = 'sales')
				+ (SELECT count(*) FROM pg_views WHERE viewname IN ('paid', 'names'))`)
			if left != 0 {
				t.Errorf("%d objects of the link left", left)
			}
			if n := queryInt(t, w.local.URL, "SELECT count(*) FROM pg_class WHERE relname = 'keep'"); n != 1 {
				t.Error("destroy took a table that did not depend on the link")
			}
			if _, err := svc.GetLink(ctx, localVar, "few"); err != nil {
				t.Errorf("the other link: %v", err)
			}
		})
	})
}
