package links

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// shortTimeouts makes a Service give up fast on a halted remote.
func shortTimeouts(svc *Service) {
	svc.Fleet.Deadlines.Connect = 2 * time.Second
	svc.Fleet.Deadlines.Status = 2 * time.Second
	svc.Fleet.Deadlines.RemoteConnect = 2 * time.Second
}

func probe(t *testing.T, svc *Service, name string) LinkHealth {
	t.Helper()
	start := time.Now()
	h, err := svc.ProbeLink(context.Background(), "DATABASE_URL", name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("probe %s: %s %v %q (in %v)", name, h.State, h.RTT, h.Reason, time.Since(start).Round(time.Millisecond))
	return h
}

func TestProbeHealthy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	shortTimeouts(f.svc)
	createSales(t, f)
	h := probe(t, f.svc, "sales")
	if h.State != HealthHealthy || h.RTT <= 0 || h.Reason != "" || h.CheckedAt.IsZero() {
		t.Fatalf("health = %+v", h)
	}
	if r := staleOf(t, f.svc, "DATABASE_URL", "sales"); r.Stale() {
		t.Fatalf("fresh link reported stale: %s", r.Summary())
	}
	// The probe leaves nothing behind.
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_class WHERE relname = $1", probeTableName); n != 0 {
		t.Fatalf("probe table left behind: %d", n)
	}
}

func TestProbeLinkWithoutTables(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	shortTimeouts(f.svc)
	execAs(t, f.remote.URL, "CREATE SCHEMA empty")
	if _, err := f.svc.CreateLink(context.Background(), CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "nothing", RemoteSchema: "empty"}); err != nil {
		t.Fatal(err)
	}
	if h := probe(t, f.svc, "nothing"); h.State != HealthHealthy {
		t.Fatalf("health = %+v", h)
	}
	// With its schema gone the probe still goes through the server.
	execAs(t, f.local.URL, "DROP SCHEMA nothing")
	if h := probe(t, f.svc, "nothing"); h.State != HealthHealthy {
		t.Fatalf("schema-less health = %+v", h)
	}
}

func TestProbeBrokenReasons(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	shortTimeouts(f.svc)
	createSales(t, f)

	// A remote table dropped after the link was made: found whichever
	// it is.
	execAs(t, f.remote.URL, `DROP TABLE orders`)
	if h := probe(t, f.svc, "sales"); h.State != HealthBroken || h.Reason != `remote table missing: public.orders` {
		t.Fatalf("dropped table: %+v", h)
	}
	execAs(t, f.remote.URL, `DROP TABLE "<script>alert(1)</script>"`)
	if h := probe(t, f.svc, "sales"); h.State != HealthBroken || h.Reason != `remote table missing: public."<script>alert(1)</script>", public.orders` {
		t.Fatalf("dropped tables: %+v", h)
	}
	// A foreign table made by hand on the link's server counts too.
	execAs(t, f.remote.URL, `CREATE TABLE orders (id int)`)
	execAs(t, f.local.URL, `CREATE FOREIGN TABLE public.mine (id int) SERVER sales OPTIONS (schema_name 'public', table_name 'gone')`)
	if h := probe(t, f.svc, "sales"); h.State != HealthBroken || h.Reason != `remote table missing: public."<script>alert(1)</script>", public.gone` {
		t.Fatalf("hand-made foreign table: %+v", h)
	}
	execAs(t, f.local.URL, `DROP FOREIGN TABLE public.mine; DROP FOREIGN TABLE sales."<script>alert(1)</script>"`)
	if h := probe(t, f.svc, "sales"); h.State != HealthHealthy {
		t.Fatalf("all tables there again: %+v", h)
	}

	// The remote database renamed away.
	ctx := context.Background()
	f.svc.Fleet.Close() // its pool is connected to the remote too
	rename := fmt.Sprintf("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'; ALTER DATABASE %s RENAME TO %s",
		f.remote.Name, fleet.Ident(f.remote.Name), fleet.Ident(f.remote.Name+"_x"))
	if err := clusterB.Exec(ctx, "postgres", rename); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		clusterB.Exec(ctx, "postgres", fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", fleet.Ident(f.remote.Name+"_x"), fleet.Ident(f.remote.Name)))
	})
	if h := probe(t, f.svc, "sales"); h.State != HealthBroken || !strings.HasPrefix(h.Reason, "database does not exist") || h.Cause != fleet.CauseNoDatabase {
		t.Fatalf("renamed database: %+v", h)
	}
}

// rotate gives the remote's role a new password and returns the new URL.
func rotate(t *testing.T, c *pgtest.Cluster, db *pgtest.Database) string {
	t.Helper()
	newPassword := pgtest.RandomToken(16)
	if err := c.Exec(context.Background(), "postgres", fmt.Sprintf("ALTER ROLE %s PASSWORD '%s'", fleet.Ident(db.Owner), newPassword)); err != nil {
		t.Fatal(err)
	}
	return c.URL(db.Owner, newPassword, db.Name)
}

func TestRotationBreaksLinkAndRepairFixesIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	shortTimeouts(f.svc)
	createSales(t, f)
	// A view elsewhere on the link's tables must survive the repair.
	execAs(t, f.local.URL, "CREATE SCHEMA reports; CREATE VIEW reports.paid AS SELECT count(*) AS n FROM sales.orders WHERE status = 'paid'")

	// A session that used the link before the rotation keeps its cached
	// remote connection: the probe must not be fooled by it.
	cached, err := pgx.Connect(ctx, f.local.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer cached.Close(ctx)
	var n int
	if err := cached.QueryRow(ctx, "SELECT count(*) FROM sales.customers").Scan(&n); err != nil || n != 2 {
		t.Fatalf("before rotation: %d, %v", n, err)
	}

	newURL := rotate(t, clusterB, f.remote)
	if err := cached.QueryRow(ctx, "SELECT count(*) FROM sales.customers").Scan(&n); err != nil {
		t.Fatalf("the cached connection should still work (as measured in FACTS.md): %v", err)
	}

	// pglinks restarted with the new URL.
	svc := newService(t, []string{"DATABASE_URL=" + f.local.URL, "HEROKU_POSTGRESQL_BLUE_URL=" + newURL})
	svc.Registry = f.svc.Registry // the same state database: a restart
	shortTimeouts(svc)
	h := probe(t, svc, "sales")
	if h.State != HealthBroken || !strings.HasPrefix(h.Reason, "password refused") {
		t.Fatalf("after rotation: %+v", h)
	}
	if report := staleOf(t, svc, "DATABASE_URL", "sales"); report.Summary() != "credentials changed (user or password)" || !report.Repairable() {
		t.Fatalf("stale = %+v", report)
	}

	plan, err := svc.PlanRepair(ctx, "DATABASE_URL", "sales")
	if err != nil {
		t.Fatal(err)
	}
	// Only what changed: the user is the same, the password is not.
	want := `ALTER USER MAPPING FOR CURRENT_USER SERVER "sales" OPTIONS (SET password '***')`
	if len(plan.DDL) != 1 || plan.DDL[0] != want {
		t.Fatalf("plan DDL = %q", plan.DDL)
	}
	res, err := svc.RepairLink(ctx, RepairRequest{LocalVar: "DATABASE_URL", Name: "sales", Fingerprint: plan.Fingerprint, Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if r := staleOf(t, svc, "DATABASE_URL", "sales"); res.Health.State != HealthHealthy || r.Stale() || res.Link.Stale.Summary() != "credentials changed (user or password)" {
		t.Fatalf("after repair: %+v (%s)", res.Health, r.Summary())
	}
	for _, s := range append(res.DDL, plan.DDL...) {
		if strings.Contains(s, f.remote.Password) || strings.Contains(s, newURL[strings.Index(newURL, ":")+3:strings.Index(newURL, "@")]) {
			t.Fatalf("DDL shows a password: %s", s)
		}
	}
	// A new session of the local app role reads through the link, and the
	// view on it still works.
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM sales.customers"); n != 2 {
		t.Fatalf("customers = %d", n)
	}
	if n := queryInt(t, f.local.URL, "SELECT n FROM reports.paid"); n != 1 {
		t.Fatalf("view = %d", n)
	}
	// Nothing left to repair.
	if _, err := svc.RepairLink(ctx, RepairRequest{LocalVar: "DATABASE_URL", Name: "sales"}); err == nil {
		t.Fatal("repairing a link that is not stale should be refused")
	}
}
