package links

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// A remote that lets pglinks' own pre-flight through, then stops answering
// on the postgres_fdw connection once IMPORT FOREIGN SCHEMA starts.
func TestCreateStalledRemote(t *testing.T) {
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
	// pglinks' own connections are named "pglinks"; the link's are
	// "pglinks/<id>/<name>". The import's catalog query names pg_class.
	proxy.Stall("pglinks/", "pg_class")

	start := time.Now()
	_, err = svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "stall", CopyEnums: true})
	took := time.Since(start)
	if proxy.Stalled() == 0 {
		t.Fatal("the proxy never stalled the import: the test reproduces nothing")
	}
	if !errs.Is(err, errs.Unavailable) || !strings.Contains(errs.MessageOf(err), "stopped answering") {
		t.Fatalf("err = %v, want a clear unavailable message", err)
	}
	t.Logf("stalled create failed after %v (statement_timeout %v)", took.Round(time.Millisecond), svc.Fleet.Deadlines.Statement)
	// The documented bound: statement_timeout plus the time to cut the
	// remote connection. Generous, to catch a hang, not to time the code.
	if limit := svc.Fleet.Deadlines.Statement + 8*time.Second; took > limit {
		t.Fatalf("create took %v, more than %v", took, limit)
	}

	// Nothing is left running in the local database: no backend still in
	// the import's transaction, no advisory lock held.
	if n := queryInt(t, f.local.URL, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'`); n != 0 {
		t.Fatalf("%d local backends still busy after the stalled create", n)
	}
	if n := advisoryLocks(t, svc, f.local.URL); n != 0 {
		t.Fatalf("%d advisory locks still held", n)
	}
	assertNothingLeft(t, f.local.URL, "stall")

	// A retry of the same name right away works once the remote answers.
	proxy.Unstall()
	res, err := svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "stall", CopyEnums: true})
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if res.Tables != 3 {
		t.Fatalf("retry imported %d tables, want 3", res.Tables)
	}
}

// The same stall behind a middlebox that keeps the local side of the socket
// open after the remote's side is cut: cutting the remote frees nothing,
// so pglinks ends the local backend and stops waiting for it. The create
// still fails about a second after statement_timeout; the backend itself,
// inside postgres_fdw's cleanup with interrupts held, goes only when that
// wait (30 s) ends or its socket closes.
func TestCreateStalledRemoteKeptOpen(t *testing.T) {
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
	proxy.KeepOpen()
	proxy.Stall("pglinks/", "pg_class")

	start := time.Now()
	_, err = svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "stall", CopyEnums: true})
	took := time.Since(start)
	if proxy.Stalled() == 0 {
		t.Fatal("the proxy never stalled the import: the test reproduces nothing")
	}
	if !errs.Is(err, errs.Unavailable) || !strings.Contains(errs.MessageOf(err), "stopped answering") {
		t.Fatalf("err = %v, want a clear unavailable message", err)
	}
	t.Logf("stalled create behind a middlebox failed after %v (statement_timeout %v)", took.Round(time.Millisecond), svc.Fleet.Deadlines.Statement)
	// README's bound. Without ending the local backend it took
	// statement_timeout + 30 s (postgres_fdw's cleanup wait).
	if limit := svc.Fleet.Deadlines.Statement + 8*time.Second; took > limit {
		t.Fatalf("create took %v, more than %v", took, limit)
	}
	// Nothing was created, whatever the backend still does.
	assertNothingLeft(t, f.local.URL, "stall")
	// The middlebox goes: the backend's socket closes and it is gone at
	// once, with its lock.
	proxy.Close()
	pgtest.Eventually(t, 10*time.Second, "the link's lock to go with the middlebox", func() bool {
		return advisoryLocks(t, svc, f.local.URL) == 0
	})
	if n := queryInt(t, f.local.URL, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'`); n != 0 {
		t.Fatalf("%d local backends still busy", n)
	}
	if _, err := newService(t, f.env).CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "stall", CopyEnums: true}); err != nil {
		t.Fatalf("retry: %v", err)
	}
}

// A context that ends (the browser went away, the request deadline passed)
// cancels the backend's statement: the lock is free again at once.
func TestCreateCancelledContext(t *testing.T) {
	t.Parallel()
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
	svc.Fleet.Deadlines.Statement = time.Minute // only the context can end it
	proxy.Stall("pglinks/", "pg_class")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err = svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "gone", CopyEnums: true})
	if err == nil || proxy.Stalled() == 0 {
		t.Fatalf("err = %v, stalled = %d", err, proxy.Stalled())
	}
	if took := time.Since(start); took > 12*time.Second {
		t.Fatalf("cancelled create took %v", took)
	}
	if n := queryInt(t, f.local.URL, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'`); n != 0 {
		t.Fatalf("%d local backends still busy after the cancelled create", n)
	}
	assertNothingLeft(t, f.local.URL, "gone")
	proxy.Unstall()
	if _, err := svc.CreateLink(context.Background(), CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "gone", CopyEnums: true}); err != nil {
		t.Fatalf("retry: %v", err)
	}
}

// A local database that accepts connections and stops answering: the link
// page's reads and the destroy plan say so within ReadTimeout instead of
// hanging the page.
func TestReadsSilentDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	createSales(t, f)
	proxy, err := clusterA.NewProxy()
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	svc := newService(t, []string{
		"DATABASE_URL=" + proxy.URL(f.local.URL),
		"HEROKU_POSTGRESQL_BLUE_URL=" + f.remote.URL,
	})
	svc.Fleet.Deadlines.Read = 2 * time.Second
	proxy.Stall("pglinks", "pg_foreign_server")
	for name, read := range map[string]func() error{
		"GetLink":     func() error { _, err := svc.GetLink(ctx, "DATABASE_URL", "sales"); return err },
		"LinkPage":    func() error { _, _, err := svc.LinkPage(ctx, "DATABASE_URL", "sales", "", 0, 50); return err },
		"PlanDestroy": func() error { _, err := svc.PlanDestroy(ctx, "DATABASE_URL", "sales"); return err },
	} {
		start := time.Now()
		err := read()
		took := time.Since(start)
		if !errs.Is(err, errs.Unavailable) || !strings.Contains(errs.MessageOf(err), "DATABASE_URL") {
			t.Errorf("%s: err = %v, want unavailable naming the database", name, err)
		}
		if took > svc.Fleet.Deadlines.Read+5*time.Second {
			t.Errorf("%s took %v", name, took)
		}
	}
	if proxy.Stalled() == 0 {
		t.Fatal("nothing stalled: the test proves nothing")
	}
}

// When the operation a guard watches returns (stop), no cut it started is
// still under way and none starts later: a cut that outlived its operation
// would end connections opened through the link after it, by sessions
// that have nothing to do with the stall.
func TestGuardStopLeavesNoCutBehind(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var logs lockedLog
	f.svc.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	f.svc.Fleet.Deadlines.Statement = time.Minute // only the context ends the watch
	local, remote := mustDB(t, f.svc, "DATABASE_URL"), mustDB(t, f.svc, "HEROKU_POSTGRESQL_BLUE_URL")
	const cut = "abandoned stalled remote connections"
	for i := range 10 {
		ctx, cancel := context.WithCancel(context.Background())
		// The context ends (the request was cancelled): the guard starts
		// its cut as the operation returns. No tx: that path never ends
		// the local backend.
		stop := f.svc.guardRemote(ctx, nil, local, remote, "pglinks/guardtest/x")
		cancel()
		stop()
		before := strings.Count(logs.String(), cut)
		time.Sleep(150 * time.Millisecond)
		if after := strings.Count(logs.String(), cut); after != before {
			t.Fatalf("round %d: a cut finished after stop returned (%d cuts logged before, %d after)", i, before, after)
		}
	}
	// Stopped first, a guard never cuts.
	ctx, cancel := context.WithCancel(context.Background())
	stop := f.svc.guardRemote(ctx, nil, local, remote, "pglinks/guardtest/y")
	stop()
	n := strings.Count(logs.String(), cut)
	cancel()
	time.Sleep(150 * time.Millisecond)
	if strings.Count(logs.String(), cut) != n {
		t.Fatal("a stopped guard cut connections when its context ended")
	}
}
