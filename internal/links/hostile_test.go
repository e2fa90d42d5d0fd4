package links

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/pgtest"
)

// noLeak fails t when an intruder's code ran as another role, or its
// secret shows in any of seen.
func noLeak(t *testing.T, seen []any, ins ...*pgtest.Intruder) {
	t.Helper()
	b, _ := json.Marshal(seen)
	text := string(b) + fmt.Sprintf("%+v", seen)
	for _, in := range ins {
		if ran := in.Ran(t); len(ran) > 0 {
			t.Errorf("the intruder's code ran as another role: %v", ran)
		}
		if strings.Contains(text, in.Secret) || strings.Contains(text, "LEAKED") {
			t.Errorf("the intruder's secret leaked: %.2000s", text)
		}
	}
}

// addIntruder adds an intruder to d on c.
func addIntruder(t *testing.T, c *pgtest.Cluster, d *pgtest.Database) *pgtest.Intruder {
	t.Helper()
	in, err := c.AddIntruder(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// Every read pglinks makes of a local or a remote database resolves names
// to PostgreSQL's own functions and operators, whatever another role put
// on the default search_path: here a schema named after pglinks' role on
// each side, holding aggregates, functions and operators that are closer
// matches than the built-in ones and leak what only pglinks' role can read.
func TestReadsIgnoreAHijackedSearchPath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	shortTimeouts(f.svc)
	sql, err := os.ReadFile("../connect/testdata/salesforce.sql")
	if err != nil {
		t.Fatal(err)
	}
	execAs(t, f.remote.URL, string(sql))
	// Links made before the intruder comes: reading them is hijackable too.
	if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "lnk", CopyEnums: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "sf", RemoteSchema: "salesforce", Tables: []string{"account"}, ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	inR := addIntruder(t, clusterB, f.remote)
	inR.HijackSearchPath(t, f.remote.Owner)
	inL := addIntruder(t, clusterA, f.local)
	inL.HijackSearchPath(t, f.local.Owner)

	var seen []any
	must := func(what string, v any, err error) {
		t.Helper()
		seen = append(seen, v)
		if err != nil {
			noLeak(t, seen, inR, inL)
			t.Fatalf("%s: %v", what, err)
		}
	}
	for _, v := range []string{"DATABASE_URL", blue} {
		st, err := f.svc.RefreshStatus(ctx, v)
		must("status of "+v, st, err)
		if st.Error != "" {
			t.Fatalf("status of %s: %s", v, st.Error)
		}
	}
	if st, _ := f.svc.CachedStatus(blue); len(st.Connect) != 1 || strings.Join(st.Connect[0].Mapped, ",") != "account,contact,opportunity" {
		t.Errorf("Connect schemas = %+v", st.Connect)
	}
	if st, _ := f.svc.CachedStatus("DATABASE_URL"); len(st.Links) != 2 {
		t.Errorf("links = %+v", st.Links)
	}
	for _, sch := range []string{"public", "salesforce"} {
		cat, err := f.svc.ReadRemoteCatalog(ctx, blue, sch)
		must("remote catalog", cat, err)
	}
	req := CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "lnk2", CopyEnums: true}
	pv, err := f.svc.PreviewCreate(ctx, req)
	must("preview", pv, err)
	res, err := f.svc.CreateLink(ctx, req)
	must("create", res, err)
	sf, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "sf2",
		RemoteSchema: "salesforce", Tables: []string{"account"}, ReadOnly: true})
	must("create from Connect", sf, err)
	l, page, err := f.svc.LinkPage(ctx, "DATABASE_URL", "lnk", "", 0, 50)
	must("link page", []any{l, page}, err)
	d, err := f.svc.LinkDrift(ctx, "DATABASE_URL", "lnk")
	must("drift", d, err)
	h, err := f.svc.ProbeLink(ctx, "DATABASE_URL", "lnk")
	must("probe", h, err)
	if h.State != HealthHealthy {
		t.Errorf("probe = %+v", h)
	}
	ip, err := f.svc.PlanImport(ctx, "DATABASE_URL", "sf", []string{"contact"})
	must("import plan", ip, err)
	execAs(t, f.remote.URL, `CREATE TABLE public.tickets (id int, status public.order_status); ALTER TYPE public.order_status ADD VALUE 'refunded'`)
	rp, err := f.svc.PlanRefresh(ctx, "DATABASE_URL", "lnk")
	must("refresh plan", rp, err)
	rr, err := f.svc.RefreshLink(ctx, RefreshRequest{LocalVar: "DATABASE_URL", Name: "lnk", Fingerprint: rp.Fingerprint})
	must("refresh", rr, err)
	sl, _, err := f.svc.LinkPage(ctx, "DATABASE_URL", "lnk", "", 0, 1)
	must("stale check", sl, err)
	dp, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", "lnk")
	must("destroy plan", dp, err)
	seen = append(seen, f.svc.Inventory(ctx))
	noLeak(t, seen, inR, inL)
}

// The health probe reads one row through the link, from a table the
// remote's catalog says is an ordinary table without row-level security:
// never from a view (whose functions would run as pglinks' remote role) or
// from a table whose policies would.
func TestProbeReadsNoRemoteCode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	shortTimeouts(f.svc)
	in := addIntruder(t, clusterB, f.remote)
	in.MustExec(t, `
CREATE SCHEMA open;
GRANT USAGE ON SCHEMA open TO PUBLIC;
CREATE VIEW open.a_view AS SELECT 1 AS x WHERE trap.boom('view');
CREATE TABLE open.b_rls (x int);
INSERT INTO open.b_rls VALUES (1);
ALTER TABLE open.b_rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY everyone ON open.b_rls USING (trap.boom('policy'));
CREATE TABLE open.c_plain (x int);
GRANT SELECT ON ALL TABLES IN SCHEMA open TO PUBLIC;`)
	if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "open", RemoteSchema: "open"}); err != nil {
		t.Fatal(err)
	}
	h := probe(t, f.svc, "open")
	noLeak(t, []any{h}, in)
	if h.State != HealthHealthy {
		t.Fatalf("health = %+v", h)
	}
	// The one table it may read is still read: a privilege lost on it
	// breaks the link.
	in.MustExec(t, `REVOKE SELECT ON open.c_plain FROM PUBLIC`)
	if h := probe(t, f.svc, "open"); h.State != HealthBroken || !strings.Contains(h.Reason, "permission denied") {
		t.Fatalf("health without the privilege = %+v", h)
	}
	noLeak(t, nil, in)
}
