package links

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/pgtest"
)

// TestRemoteHaltedThenMoved stops the remote's cluster (broken within the
// timeout), starts it again (healthy), then moves it to another port as a
// failover would (stale host/port, repaired in place, healthy). It has its
// own cluster so halting it disturbs no other test.
func TestRemoteHaltedThenMoved(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := pgtest.Start(ctx, pgtest.Options{ForTests: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	local := newDB(t, clusterA, "local", pgtest.DBOptions{})
	remote := newDB(t, c, "remote", pgtest.DBOptions{})
	execAs(t, remote.URL, remoteSchemaSQL)
	env := []string{"DATABASE_URL=" + local.URL, "HEROKU_POSTGRESQL_BLUE_URL=" + remote.URL}
	svc := newService(t, env)
	shortTimeouts(svc)
	f := &fixture{svc: svc, local: local, remote: remote, env: env}
	createSales(t, f)
	execAs(t, local.URL, "CREATE SCHEMA reports; CREATE VIEW reports.customers AS SELECT name FROM sales.customers")
	mon := NewMonitor(svc)

	if h, err := mon.Check(ctx, "DATABASE_URL", "sales", false); err != nil || h.State != HealthHealthy {
		t.Fatalf("before halt: %+v, %v", h, err)
	}

	c.Halt()
	mon.MinInterval = 0
	start := time.Now()
	h, err := mon.Check(ctx, "DATABASE_URL", "sales", false)
	took := time.Since(start)
	if err != nil || h.State != HealthBroken || !strings.HasPrefix(h.Reason, "remote unreachable") {
		t.Fatalf("halted: %+v, %v", h, err)
	}
	// Bounded by the server's connect_timeout plus the statement timeout.
	if limit := svc.Fleet.Deadlines.RemoteConnect + svc.Fleet.Deadlines.Status + svc.Fleet.Deadlines.Connect; took > limit {
		t.Fatalf("probe of a halted remote took %v (limit %v)", took, limit)
	}
	if r := staleOf(t, svc, "DATABASE_URL", "sales"); r.Stale() {
		t.Fatalf("a halted remote is not a stale link: %s", r.Summary())
	}

	if err := c.Resume(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if h, _ := mon.Check(ctx, "DATABASE_URL", "sales", false); h.State != HealthHealthy {
		t.Fatalf("resumed: %+v", h)
	}

	// Failover: same data, another port, a new URL; pglinks restarted.
	c.Halt()
	port, err := pgtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Resume(ctx, port); err != nil {
		t.Fatal(err)
	}
	moved := c.URL(remote.Owner, remote.Password, remote.Name)
	svc2 := newService(t, []string{"DATABASE_URL=" + local.URL, "HEROKU_POSTGRESQL_BLUE_URL=" + moved})
	svc2.Registry = svc.Registry // the same state database: a restart, not a new install
	shortTimeouts(svc2)
	h = probe(t, svc2, "sales")
	if h.State != HealthBroken {
		t.Fatalf("moved, not repaired: %+v", h)
	}
	d, _ := svc.Fleet.Get("HEROKU_POSTGRESQL_BLUE_URL")
	d2, _ := svc2.Fleet.Get("HEROKU_POSTGRESQL_BLUE_URL")
	want := "host/port changed from " + d.HostPort() + " to " + d2.HostPort()
	if got := staleOf(t, svc2, "DATABASE_URL", "sales").Summary(); got != want {
		t.Fatalf("stale = %q, want %q", got, want)
	}
	plan, err := svc2.PlanRepair(ctx, "DATABASE_URL", "sales")
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.DDL) != 1 || plan.DDL[0] != `ALTER SERVER "sales" OPTIONS (SET port '`+d2.Port+`')` {
		t.Fatalf("plan = %q", plan.DDL)
	}
	res, err := svc2.RepairLink(ctx, RepairRequest{LocalVar: "DATABASE_URL", Name: "sales", Fingerprint: plan.Fingerprint})
	if err != nil {
		t.Fatal(err)
	}
	if res.Health.State != HealthHealthy || res.Link.Stale.Summary() != want || staleOf(t, svc2, "DATABASE_URL", "sales").Stale() {
		t.Fatalf("after repair: %+v", res.Health)
	}
	if n := queryInt(t, local.URL, "SELECT count(*) FROM reports.customers"); n != 2 {
		t.Fatalf("view through the repaired link = %d", n)
	}
	// Options pglinks does not compare were left alone.
	opts := queryInt(t, local.URL, `SELECT count(*) FROM pg_foreign_server, unnest(srvoptions) o
		WHERE srvname = 'sales' AND (o LIKE 'connect_timeout=%' OR o LIKE 'application_name=%')`)
	if opts != 2 {
		t.Fatalf("repair changed options it should not: %d left", opts)
	}
}

func TestStaleIgnoresTuningOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	createSales(t, f)
	execAs(t, f.local.URL, `ALTER SERVER sales OPTIONS (SET connect_timeout '9', SET application_name 'other', SET keepalives '1', SET keepalives_idle '30', SET keepalives_count '9')`)
	if r := staleOf(t, f.svc, "DATABASE_URL", "sales"); r.Stale() {
		t.Fatalf("tuning options made the link stale: %q", r.Summary())
	}
	// sslmode does count.
	execAs(t, f.local.URL, `ALTER SERVER sales OPTIONS (SET sslmode 'require')`)
	if r := staleOf(t, f.svc, "DATABASE_URL", "sales"); r.Summary() != "sslmode changed from require to disable" {
		t.Fatalf("stale = %q", r.Summary())
	}
	plan, err := f.svc.PlanRepair(ctx, "DATABASE_URL", "sales")
	if err != nil || len(plan.DDL) != 1 || plan.DDL[0] != `ALTER SERVER "sales" OPTIONS (SET sslmode 'disable')` || plan.Link.Stale.Summary() != "sslmode changed from require to disable" {
		t.Fatalf("plan = %+v, %v", plan, err)
	}
}

func TestRemoteNoLongerInFleet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	createSales(t, f)
	svc := newService(t, []string{"DATABASE_URL=" + f.local.URL})
	svc.Registry = f.svc.Registry
	r := staleOf(t, svc, "DATABASE_URL", "sales")
	if !r.RemoteGone || r.Repairable() {
		t.Fatalf("report = %+v", r)
	}
	if got := r.Summary(); got != "remote HEROKU_POSTGRESQL_BLUE_URL is not in this fleet any more" {
		t.Fatalf("summary = %q", got)
	}
	if _, err := svc.PlanRepair(ctx, "DATABASE_URL", "sales"); err == nil || !strings.Contains(err.Error(), "Destroy it instead") {
		t.Fatalf("plan err = %v", err)
	}
	if _, err := svc.RepairLink(ctx, RepairRequest{LocalVar: "DATABASE_URL", Name: "sales"}); err == nil {
		t.Fatal("repair of a link whose remote left the fleet should be refused")
	}
}

func TestStaleWithoutMappingIsNotRepairable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	createSales(t, f)
	execAs(t, f.local.URL, "DROP USER MAPPING FOR CURRENT_USER SERVER sales; ALTER SERVER sales OPTIONS (SET port '1')")
	r := staleOf(t, f.svc, "DATABASE_URL", "sales")
	if !r.NoMapping || r.Repairable() || !strings.Contains(r.Summary(), "has no user mapping") {
		t.Fatalf("report = %q %+v", r.Summary(), r)
	}
	if _, err := f.svc.RepairLink(ctx, RepairRequest{LocalVar: "DATABASE_URL", Name: "sales"}); err == nil || !strings.Contains(err.Error(), "Destroy and recreate it") {
		t.Fatalf("repair err = %v", err)
	}
}
