package app

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
)

// share wires a's background results to the state database, as cmd/web
// does: what it keeps is written there, and what any process wrote is
// applied to it every 50 ms.
func share(t *testing.T, e *env) {
	t.Helper()
	sh := fleet.NewShared(e.state.Shared(), slog.New(slog.DiscardHandler))
	sh.Poll = 50 * time.Millisecond
	fleet.Share(sh, e.app.cfg.Links.Cards())
	fleet.Share(sh, e.app.cfg.Replication.States())
	e.app.cfg.Health.Share(sh)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sh.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func within(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A link has one health record, shown alike on its page and on the
// inventory, by two processes over one state database; a create and a
// repair probe the link at once, so neither leaves it "not checked yet",
// and a destroy forgets it in both.
func TestHealthOneRecordInEveryProcess(t *testing.T) {
	e := newEnv(t)
	other := secondProcess(t, e, nil)
	share(t, e)
	share(t, other)
	c := e.client(t)
	c.signIn(adminEmail)
	c2 := &client{t: t, e: other, http: c.http, csrf: c.csrf}
	if r := c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"sales"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("create: %d", r.Status)
	}
	rec := func(e *env) links.LinkHealth { return e.app.cfg.Health.Get("DATABASE_URL", "sales") }
	same := func(a, b links.LinkHealth) bool {
		return a.State == b.State && a.Reason == b.Reason && a.RTT == b.RTT && a.CheckedAt.Equal(b.CheckedAt)
	}
	created := rec(e)
	if created.State != links.HealthHealthy || created.CheckedAt.IsZero() {
		t.Fatalf("right after the create: %+v", created)
	}
	within(t, "the other process showing the create's probe", func() bool { return same(rec(other), created) })
	for _, cl := range []*client{c, c2} {
		page := cl.get("/databases/DATABASE_URL/links/sales").Body
		inv := cl.get("/").Body
		if !strings.Contains(page, `data-testid="health-badge" title="healthy`) || strings.Contains(page, "not checked yet") {
			t.Fatalf("link page of process %s: health not shown as probed", cl.e.srv.URL)
		}
		if !strings.Contains(inv, `data-testid="health-badge" title="healthy`) {
			t.Fatalf("inventory of process %s: health not shown as probed", cl.e.srv.URL)
		}
	}

	// Moved by hand: broken and stale. The other process repairs it, and
	// its probe is the record both show.
	execSQL(t, e.local.URL, "ALTER SERVER sales OPTIONS (SET port '1')")
	if r := c.post("/databases/DATABASE_URL/links/sales/check", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("check: %d", r.Status)
	}
	if h := rec(e); h.State != links.HealthBroken {
		t.Fatalf("after the move: %+v", h)
	}
	within(t, "the check shown by the other process", func() bool { return rec(other).State == links.HealthBroken })
	confirm := c2.get("/databases/DATABASE_URL/links/sales/repair")
	if r := c2.post("/databases/DATABASE_URL/links/sales/repair", url.Values{"fingerprint": {fingerprintOf(t, confirm.Body)}}); r.Status != http.StatusSeeOther {
		t.Fatalf("repair: %d %.300s", r.Status, r.Body)
	}
	repaired := rec(other)
	if repaired.State != links.HealthHealthy || !repaired.CheckedAt.After(created.CheckedAt) {
		t.Fatalf("after the repair: %+v", repaired)
	}
	within(t, "the repair's probe shown by the first process", func() bool { return same(rec(e), repaired) })

	// Destroyed through the first: forgotten by both.
	page := c.get("/databases/DATABASE_URL/links/sales/destroy").Body
	fp := regexpMust(`name="fingerprint" value="([^"]*)"`).FindStringSubmatch(page)
	if fp == nil {
		t.Fatal("no fingerprint on the destroy page")
	}
	if r := c.post("/databases/DATABASE_URL/links/sales/destroy", url.Values{"confirm": {"sales"}, "fingerprint": {fp[1]}}); r.Status != http.StatusSeeOther {
		t.Fatalf("destroy: %d", r.Status)
	}
	within(t, "the record gone in both", func() bool {
		return rec(e).State == links.HealthUnknown && rec(other).State == links.HealthUnknown
	})
}

// Right after start, before the background sweep read anything, the
// inventory answers at once and says which cards are not read yet.
func TestInventoryNotReadYet(t *testing.T) {
	e := newEnv(t)
	e.app.cfg.Fleet.SnapshotMaxAge = time.Hour
	c := e.client(t)
	c.signIn(viewerEmail)
	start := time.Now()
	r := c.get("/")
	if took := time.Since(start); r.Status != http.StatusOK || took > 2*time.Second {
		t.Fatalf("first view: %d in %v", r.Status, took)
	}
	if n := strings.Count(r.Body, `data-testid="status">not read yet<`); n != 2 {
		t.Fatalf("%d cards not read yet, want both", n)
	}
}

// A replication change reads the replication state of the databases it
// names again, so the inventory's warnings show it at once: here a refused
// one, which still reads it.
func TestReplicationChangeReadsStateAgain(t *testing.T) {
	e := newEnv(t)
	e.app.cfg.Fleet.SnapshotMaxAge = time.Hour
	c := e.client(t)
	c.signIn(adminEmail)
	if _, ok := e.app.cfg.Replication.States().Get("DATABASE_URL"); ok {
		t.Fatal("read before any change")
	}
	if r := c.post("/replication/subscriptions/disable", url.Values{"db": {"DATABASE_URL"}, "name": {"nope"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("disable: %d", r.Status)
	}
	if sn, ok := e.app.cfg.Replication.States().Get("DATABASE_URL"); !ok || !sn.Val.Reachable {
		t.Fatalf("not read again after the change: %+v", sn)
	}
	if _, ok := e.app.cfg.Replication.States().Get("HEROKU_POSTGRESQL_BLUE_URL"); ok {
		t.Fatal("a database the change did not name was read")
	}
}
