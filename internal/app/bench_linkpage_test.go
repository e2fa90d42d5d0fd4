package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/state"
)

// BenchmarkLinkPage is a signed-in viewer's view of a link page through the
// real router (handler), and the link page's domain call alone (domain),
// for a link of 50 and of 10,000 foreign tables: the page's cost should
// not grow with the link.
func BenchmarkLinkPage(b *testing.B) {
	for _, n := range []int{50, 10000} {
		be := newBenchLinkEnv(b, n)
		// A large link is compared with its remote in the background: the
		// first view starts it; wait for it, so the loop measures the
		// views that follow (the comparison is at most DriftMaxAge old).
		drift := `data-testid="in-step"`
		if n > links.LargeLinkTables {
			drift = `data-testid="drift-remembered"`
		}
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
			if _, body := be.get(b, "/databases/DATABASE_URL/links/bench"); strings.Contains(body, drift) {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("the link was not compared with its remote within a minute")
			}
		}
		b.Run(fmt.Sprintf("tables=%d/handler", n), func(b *testing.B) {
			for b.Loop() {
				status, body := be.get(b, "/databases/DATABASE_URL/links/bench")
				if status != http.StatusOK || !strings.Contains(body, `data-testid="foreign-tables"`) || !strings.Contains(body, "t_00001") || !strings.Contains(body, drift) {
					b.Fatalf("link page: %d %.2000s", status, body)
				}
			}
		})
		b.Run(fmt.Sprintf("tables=%d/domain", n), func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				_, page, err := be.svc.LinkPage(ctx, "DATABASE_URL", "bench", "", 0, 50)
				if err != nil || len(page.Tables) != 50 {
					b.Fatalf("%v", err)
				}
			}
		})
	}
}

// benchLinkEnv is an app over a local database with one link ("bench") of
// n remote tables, and a viewer signed in.
type benchLinkEnv struct {
	local, remote, state *pgtest.Database

	svc  *links.Service
	srv  *httptest.Server
	http *http.Client
}

func newBenchLinkEnv(b testing.TB, n int) *benchLinkEnv {
	b.Helper()
	ctx := context.Background()
	id := seq.Add(1)
	mk := func(name string, o pgtest.DBOptions) *pgtest.Database {
		d, err := cluster.CreateDatabase(ctx, fmt.Sprintf("%s_%d", name, id), o)
		if err != nil {
			b.Fatal(err)
		}
		return d
	}
	local, remote, stateDB := mk("local", pgtest.DBOptions{}), mk("remote", pgtest.DBOptions{}), mk("state", pgtest.DBOptions{NoFDW: true})
	// In batches: one transaction creating 10,000 tables with their
	// indexes runs out of lock slots.
	for from := 1; from <= n; from += 1000 {
		pgtest.MustExec(b, remote.URL, fmt.Sprintf(`DO $$ BEGIN FOR i IN %d..%d LOOP
			EXECUTE format('CREATE TABLE t_%%s (id bigint PRIMARY KEY, name text, amount numeric(12,2), created_at timestamptz, tags text[])', lpad(i::text, 5, '0'));
			END LOOP; END $$`, from, min(from+999, n)))
	}
	db, err := state.Open(ctx, stateDB.URL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
	store := auth.NewStore(db)
	if _, err := store.AddUser(ctx, viewerEmail, auth.RoleViewer, password); err != nil {
		b.Fatal(err)
	}
	svc := newLinks(b, []string{"DATABASE_URL=" + local.URL, "HEROKU_POSTGRESQL_BLUE_URL=" + remote.URL}, db)
	svc.Fleet.Deadlines.Statement = 5 * time.Minute
	if _, err := svc.CreateLink(ctx, links.CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "bench", CopyEnums: true, Actor: "bench"}); err != nil {
		b.Fatal(err)
	}
	// Statistics of the catalogs the page reads (a plain ANALYZE would
	// also sample every foreign table through postgres_fdw).
	for _, u := range []string{local.URL, remote.URL} {
		pgtest.MustExec(b, u, "ANALYZE pg_catalog.pg_class, pg_catalog.pg_attribute, pg_catalog.pg_namespace, pg_catalog.pg_foreign_table")
	}
	a, err := New(testConfig(svc, store, []string{pgtest.RandomToken(32)}))
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	b.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	be := &benchLinkEnv{local: local, remote: remote, state: stateDB, svc: svc, srv: srv, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	// Sign in as a browser would: the form's CSRF token, then the POST.
	_, body := be.get(b, "/login")
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		b.Fatal("no CSRF token on the sign-in form")
	}
	resp, err := be.http.PostForm(srv.URL+"/login", url.Values{"email": {viewerEmail}, "password": {password}, "csrf": {m[1]}})
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign in: %d", resp.StatusCode)
	}
	return be
}

func (be *benchLinkEnv) get(b testing.TB, path string) (int, string) {
	b.Helper()
	resp, err := be.http.Get(be.srv.URL + path)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
