package links

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// silentListener accepts TCP connections and never answers, like a remote
// host that is up but whose PostgreSQL hangs: the worst case for a probe.
func silentListener(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// linkFleet makes n links from the remote into the local database; the
// last one is pointed at a silent port when broken is set.
func linkFleet(t testing.TB, n int, broken bool) *fixture {
	t.Helper()
	f := newFixture(t)
	shortTimeouts(f.svc)
	for i := range n {
		if _, err := f.svc.CreateLink(context.Background(), CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: fmt.Sprintf("l%d", i), CopyEnums: true}); err != nil {
			t.Fatal(err)
		}
	}
	if broken {
		execAs(t, f.local.URL, fmt.Sprintf("ALTER SERVER l%d OPTIONS (SET port '%s')", n-1, silentListener(t)))
	}
	return f
}

// Page views never probe: a link never probed is "unknown" until Run
// (the lease holder's background work) probes it, the oldest record
// first; a silent remote costs Run its timeout, never a view.
func TestMonitorProbesInTheBackgroundOnly(t *testing.T) {
	t.Parallel()
	f := linkFleet(t, 3, true)
	mon := NewMonitor(f.svc)
	mon.SetWorkers(2)
	inv := f.svc.Inventory(context.Background())
	got := mon.Lookup(inv)
	if len(got) != 3 {
		t.Fatalf("lookup = %v", got)
	}
	for k, h := range got {
		if h.State != HealthUnknown {
			t.Fatalf("%q before any probe: %+v", k, h)
		}
	}
	if n := mon.Probes(); n != 0 {
		t.Fatalf("page views probed %d times", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go mon.Run(ctx, 50*time.Millisecond)
	eventually(t, 30*time.Second, "three probes", func() bool {
		for _, h := range mon.Lookup(inv) {
			if h.State == HealthUnknown {
				return false
			}
		}
		return true
	})
	got = mon.Lookup(inv)
	for i := range 3 {
		h := got[HealthKey("DATABASE_URL", fmt.Sprintf("l%d", i))]
		switch {
		case i < 2 && h.State != HealthHealthy:
			t.Errorf("l%d: %+v", i, h)
		case i == 2 && (h.State != HealthBroken || !strings.HasPrefix(h.Reason, "remote unreachable: not answering") || h.Cause != fleet.CauseTimeout):
			t.Errorf("silent remote l2: %+v", h)
		}
	}
	// Fresh results are not probed again.
	probes := mon.Probes()
	time.Sleep(200 * time.Millisecond)
	if n := mon.Probes(); n != probes {
		t.Fatalf("%d probes of fresh results", n-probes)
	}
	cancel()
	mon.Wait()
	// A destroyed link is forgotten when a check finds it gone.
	execAs(t, f.local.URL, "DROP SCHEMA l0 CASCADE; DROP SERVER l0 CASCADE")
	if _, err := mon.Check(context.Background(), "DATABASE_URL", "l0", false); err != nil {
		// Within MinInterval the cached result comes back: no error.
		t.Fatalf("check within MinInterval: %v", err)
	}
	mon.MinInterval = 0
	if _, err := mon.Check(context.Background(), "DATABASE_URL", "l0", false); err == nil {
		t.Fatal("check of a destroyed link should fail")
	}
	if h := mon.Get("DATABASE_URL", "l0"); h.State != HealthUnknown {
		t.Fatalf("destroyed link still cached: %+v", h)
	}
}

// pglinks' own create, refresh and destroy of a link record its health
// at once: a new link is never "not checked yet", and the link page and
// the inventory show the same record.
func TestLinkChangesRecordHealth(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	mon := NewMonitor(f.svc)
	createSales(t, f)
	h := mon.Get("DATABASE_URL", "sales")
	if h.State != HealthHealthy || h.CheckedAt.IsZero() {
		t.Fatalf("right after create: %+v", h)
	}
	inv := f.svc.Inventory(ctx)
	if got := mon.Lookup(inv)[HealthKey("DATABASE_URL", "sales")]; got != h {
		t.Fatalf("the inventory shows %+v, the link %+v", got, h)
	}
	execAs(t, f.remote.URL, "CREATE TABLE more (id int)")
	rp, err := f.svc.PlanRefresh(ctx, "DATABASE_URL", "sales")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RefreshLink(ctx, RefreshRequest{LocalVar: "DATABASE_URL", Name: "sales", Fingerprint: rp.Fingerprint}); err != nil {
		t.Fatal(err)
	}
	if after := mon.Get("DATABASE_URL", "sales"); !after.CheckedAt.After(h.CheckedAt) || after.State != HealthHealthy {
		t.Fatalf("after refresh: %+v (before %+v)", after, h)
	}
	dp, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", "sales")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "sales", Confirm: "sales", Fingerprint: dp.Fingerprint}); err != nil {
		t.Fatal(err)
	}
	if after := mon.Get("DATABASE_URL", "sales"); after.State != HealthUnknown {
		t.Fatalf("after destroy: %+v", after)
	}
}

func TestReadBy(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "HEROKU_POSTGRESQL_ORANGE_URL="+newDB(t, clusterB, "other", pgtest.DBOptions{}).URL)
	createSales(t, f)
	if _, err := f.svc.CreateLink(context.Background(), CreateRequest{RemoteVar: "DATABASE_URL", LocalVar: "HEROKU_POSTGRESQL_ORANGE_URL", Name: "back"}); err != nil {
		t.Fatal(err)
	}
	rb := ReadBy(f.svc.Inventory(context.Background()))
	names := func(v string) string {
		var out []string
		for _, l := range rb[v] {
			out = append(out, l.Name+" in "+l.LocalConfigVar)
		}
		return strings.Join(out, ", ")
	}
	if got := names("HEROKU_POSTGRESQL_BLUE_URL"); got != "sales in DATABASE_URL" {
		t.Errorf("BLUE read by %q", got)
	}
	if got := names("DATABASE_URL"); got != "back in HEROKU_POSTGRESQL_ORANGE_URL" {
		t.Errorf("DATABASE_URL read by %q", got)
	}
	if got := names("HEROKU_POSTGRESQL_ORANGE_URL"); got != "" {
		t.Errorf("ORANGE read by %q", got)
	}
}

// BenchmarkInventoryHealth is the inventory's request path (catalog reads,
// cached health, stale comparison) with every link healthy and with one link whose
// remote accepts connections and never answers. Probes are refreshed in
// the background on every lookup with TTL 0 (the worst case: probes keep
// competing for the CPU) and once a minute with the default TTL; the
// request path never waits for them, so healthy and broken figures should
// be close.
func BenchmarkInventoryHealth(b *testing.B) {
	for _, ttl := range []time.Duration{0, DefaultHealthTTL} {
		for _, broken := range []bool{false, true} {
			name := "all-healthy"
			if broken {
				name = "one-broken"
			}
			b.Run(fmt.Sprintf("ttl=%v/%s", ttl, name), func(b *testing.B) {
				benchInventoryHealth(b, ttl, broken)
			})
		}
	}
}

func benchInventoryHealth(b *testing.B, ttl time.Duration, broken bool) {
	{
		{
			f := linkFleet(b, 4, broken)
			mon := NewMonitor(f.svc)
			mon.TTL = ttl
			ctx := context.Background()
			for b.Loop() {
				inv := f.svc.Inventory(ctx)
				if h := mon.Lookup(inv); len(h) != 4 {
					b.Fatalf("%d results", len(h))
				}
				for _, l := range inv[0].Links {
					if l.Stale == nil {
						b.Fatalf("link %s not compared", l.Name)
					}
				}
			}
			b.StopTimer()
			mon.Wait()
		}
	}
}

// Every link of the inventory carries its comparison with its remote's
// config var, made from the card's one catalog read.
func TestStaleReportsForInventory(t *testing.T) {
	t.Parallel()
	f := linkFleet(t, 2, false)
	execAs(t, f.local.URL, "ALTER SERVER l1 OPTIONS (SET host 'localhost')")
	got := map[string]*StaleReport{}
	for _, l := range f.svc.Inventory(context.Background())[0].Links {
		got[HealthKey("DATABASE_URL", l.Name)] = l.Stale
	}
	if len(got) != 2 || got[HealthKey("DATABASE_URL", "l0")] == nil {
		t.Fatalf("reports = %v", got)
	}
	if r := got[HealthKey("DATABASE_URL", "l0")]; r.Stale() {
		t.Errorf("l0 stale: %s", r.Summary())
	}
	d, _ := f.svc.Fleet.Get("HEROKU_POSTGRESQL_BLUE_URL")
	if r := got[HealthKey("DATABASE_URL", "l1")]; r.Summary() != "host/port changed from localhost:"+d.Port+" to "+d.HostPort() {
		t.Errorf("l1: %q", r.Summary())
	}
}

// Run probes the links of the inventory's cards with nobody looking:
// after a restart, health is known without a page view.
func TestMonitorRunProbesWithoutViews(t *testing.T) {
	t.Parallel()
	f := linkFleet(t, 2, false)
	mon := NewMonitor(f.svc)
	for k, h := range mon.Lookup(f.svc.CachedInventory()) {
		if h.State != HealthUnknown {
			t.Fatalf("%q before Run: %+v", k, h)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go mon.Run(ctx, 50*time.Millisecond)
	deadline := time.Now().Add(15 * time.Second)
	for {
		mon.mu.Lock()
		h0, ok0 := mon.results[HealthKey("DATABASE_URL", "l0")]
		h1, ok1 := mon.results[HealthKey("DATABASE_URL", "l1")]
		mon.mu.Unlock()
		if ok0 && ok1 {
			if h0.State != HealthHealthy || h1.State != HealthHealthy {
				t.Fatalf("probes: %+v, %+v", h0, h1)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no probe results after 15 s of Run")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	mon.Wait()
}

// A link that turns broken or stale is logged at WARN, once, with its
// database and name (and at INFO when it recovers), from the probes and
// the inventory reads the monitor sees: the log tells an operator of a
// rotation or failover without anyone opening a page.
func TestMonitorLogsLinksGoingBrokenOrStale(t *testing.T) {
	t.Parallel()
	f := linkFleet(t, 2, false)
	var logs lockedLog
	f.svc.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	mon := NewMonitor(f.svc)
	mon.MinInterval = 0
	ctx := context.Background()
	for _, name := range []string{"l0", "l1"} {
		if h, err := mon.Check(ctx, "DATABASE_URL", name, true); err != nil || h.State != HealthHealthy {
			t.Fatalf("%s: %+v, %v", name, h, err)
		}
	}
	mon.Lookup(f.svc.Inventory(ctx))
	if s := logs.String(); strings.Contains(s, "level=WARN") {
		t.Fatalf("healthy links logged a warning:\n%s", s)
	}

	// l1 points at a silent port: broken, logged once however often probed.
	execAs(t, f.local.URL, fmt.Sprintf("ALTER SERVER l1 OPTIONS (SET port '%s')", silentListener(t)))
	for range 2 {
		if h, _ := mon.Check(ctx, "DATABASE_URL", "l1", true); h.State != HealthBroken {
			t.Fatalf("l1 on a silent port: %+v", h)
		}
	}
	if n := strings.Count(logs.String(), `level=WARN msg="link broken" database=DATABASE_URL link=l1 reason=`); n != 1 {
		t.Errorf("%d broken warnings for l1, want 1:\n%s", n, logs.String())
	}
	// The inventory now finds it stale (its port no longer the remote's).
	mon.Lookup(f.svc.Inventory(ctx))
	mon.Lookup(f.svc.Inventory(ctx))
	if n := strings.Count(logs.String(), `level=WARN msg="link stale" database=DATABASE_URL link=l1 remote=HEROKU_POSTGRESQL_BLUE_URL change="host/port changed`); n != 1 {
		t.Errorf("%d stale warnings for l1, want 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "link=l0") {
		t.Errorf("l0, healthy and matching, was logged:\n%s", logs.String())
	}

	// Pointed back: it matches and works again, said at INFO.
	d, _ := f.svc.Fleet.Get("HEROKU_POSTGRESQL_BLUE_URL")
	execAs(t, f.local.URL, fmt.Sprintf("ALTER SERVER l1 OPTIONS (SET port '%s')", d.Port))
	if h, _ := mon.Check(ctx, "DATABASE_URL", "l1", true); h.State != HealthHealthy {
		t.Fatalf("l1 pointed back: %+v", h)
	}
	mon.Lookup(f.svc.Inventory(ctx))
	for _, want := range []string{`level=INFO msg="link healthy again" database=DATABASE_URL link=l1`, `level=INFO msg="link matches its remote again" database=DATABASE_URL link=l1`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no %q in:\n%s", want, logs.String())
		}
	}
	mon.Wait()
}

// lockedLog collects log lines written from several goroutines.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
