package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/state"
)

// secondProcess is another pglinks process over the same state database:
// its own connections to it (its own auth.Store), its own app, its own
// listener. via rewrites the state database's URL (to go through a proxy);
// nil keeps it.
func secondProcess(t *testing.T, e *env, via func(string) string) *env {
	t.Helper()
	stateURL := e.store.Pool().Config().ConnString()
	if via != nil {
		stateURL = via(stateURL)
	}
	db, err := state.Open(context.Background(), stateURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	store := auth.NewStore(db)
	svc := newLinks(t, []string{"DATABASE_URL=" + e.local.URL, "HEROKU_POSTGRESQL_BLUE_URL=" + e.remote.URL}, db)
	a, err := New(testConfig(svc, store, e.keys))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &env{app: a, srv: srv, state: db, store: store, local: e.local, remote: e.remote, keys: e.keys}
}

// Wrong passwords alternated over two processes count against one limit:
// five failures in all, and the sixth is refused by either process. The
// correct password is refused too while the account is locked.
func TestSignInLimitSharedAcrossProcesses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := secondProcess(t, e, nil)
	clients := []*client{e.client(t), other.client(t)}
	for i := range auth.DefaultAccountFailures {
		c := clients[i%2]
		if r := c.login(viewerEmail, fmt.Sprintf("wrong guess number %d", i), ""); r.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d on process %d: %d", i+1, i%2+1, r.Status)
		}
	}
	for i, c := range clients {
		r := c.login(viewerEmail, password, "")
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("6th attempt on process %d answered %d, want 429: the limit is per process", i+1, r.Status)
		}
		if !strings.Contains(r.Body, "Too many failed sign-in attempts. Try again in 15 minutes.") || r.Header.Get("Retry-After") == "" {
			t.Fatalf("process %d: refusal without its message or Retry-After: %.300s", i+1, r.Body)
		}
	}
	// Another account is not locked by these.
	clients[1].signIn(adminEmail)
}

// A process whose state database stops answering while it checks the
// sign-in limit answers 503 naming that database, within the call timeout:
// never a sign-in let through unchecked.
func TestSignInLimitStateDatabaseSilent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	proxy, err := cluster.NewProxy()
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	other := secondProcess(t, e, proxy.URL)
	other.store.CallTimeout = 2 * time.Second
	c := other.client(t)
	c.get("/login")
	proxy.Stall("pglinks", "sign_in_attempts")
	other.store.Pool().Reset() // new connections, which the proxy now watches
	start := time.Now()
	r := c.login(viewerEmail, password, "")
	if r.Status != http.StatusServiceUnavailable || !strings.Contains(r.Body, "state database") {
		t.Fatalf("sign-in with the limit unreadable: %d %.400s", r.Status, r.Body)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("answer took %v", took)
	}
	if proxy.Stalled() == 0 {
		t.Fatal("the proxy stalled nothing: the test proves nothing")
	}
}
