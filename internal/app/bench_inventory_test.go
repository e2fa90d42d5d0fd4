package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/state"
)

// BenchmarkInventoryPage is a signed-in viewer's GET / of a fleet of 40
// (every card read: config vars over two databases; PGLINKS_BENCH_FLEET
// sets another size, pages cycled) through the real router over TCP,
// next to GET /account, the page that touches no fleet database, at c=1
// and c=8: uncompressed, gzip as sent, and gzip inflated by the Go client.
// PGLINKS_BENCH_SWEEP=1 runs the background sweep meanwhile, as the
// lease holder does.
func BenchmarkInventoryPage(b *testing.B) {
	n := 40
	if v := os.Getenv("PGLINKS_BENCH_FLEET"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	be := newBenchInventory(b, n)
	pages := max(1, (n+19)/20)
	for _, gz := range []string{"identity", "gzip", "auto"} {
		for _, conc := range []int{1, 8} {
			for _, path := range []string{"/", "/account"} {
				name := fmt.Sprintf("enc=%s/c=%d/%s", gz, conc, strings.TrimPrefix(path, "/"))
				b.Run(name, func(b *testing.B) {
					b.SetParallelism(conc)
					var bytes int64
					b.RunParallel(func(pb *testing.PB) {
						i := 0
						for pb.Next() {
							p := path
							if p == "/" {
								i++
								p = "/?page=" + strconv.Itoa(i%pages+1)
							}
							req, _ := http.NewRequest("GET", be.srv.URL+p, nil)
							cl := be.http
							switch gz {
							case "identity", "gzip":
								req.Header.Set("Accept-Encoding", gz)
							case "auto": // the Go client asks for gzip and inflates it
								cl = be.auto
							}
							resp, err := cl.Do(req)
							if err != nil {
								b.Error(err)
								return
							}
							n, _ := io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							if resp.StatusCode != http.StatusOK {
								b.Errorf("%s: %d", path, resp.StatusCode)
								return
							}
							bytes = n
						}
					})
					b.ReportMetric(float64(bytes), "bytes/op")
				})
			}
		}
	}
}

type benchInventory struct {
	srv        *httptest.Server
	http, auto *http.Client
}

func newBenchInventory(b *testing.B, n int) *benchInventory {
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
	db, err := state.Open(ctx, stateDB.URL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
	store := auth.NewStore(db)
	if _, err := store.AddUser(ctx, viewerEmail, auth.RoleViewer, password); err != nil {
		b.Fatal(err)
	}
	env := []string{"DATABASE_URL=" + local.URL}
	var vars []string
	for i := range n - 1 {
		v := fmt.Sprintf("FLEET_%03d_URL", i)
		vars = append(vars, v)
		env = append(env, v+"="+remote.URL)
	}
	env = append(env, "PGLINKS_DATABASES="+strings.Join(vars, ","))
	svc := newLinks(b, env, db)
	svc.Fleet.SnapshotMaxAge = time.Hour
	for _, d := range svc.Fleet.Databases {
		if _, err := svc.RefreshStatus(ctx, d.ConfigVar); err != nil {
			b.Fatal(err)
		}
	}
	a, err := New(testConfig(svc, store, []string{pgtest.RandomToken(32)}))
	if err != nil {
		b.Fatal(err)
	}
	if os.Getenv("PGLINKS_BENCH_SWEEP") != "" {
		// The background sweep at the default max age, as the lease
		// holder runs it while pages are served.
		svc.Fleet.SnapshotMaxAge = 30 * time.Second
		sw := &fleet.Sweeper{Fleet: svc.Fleet, Facets: []fleet.Facet{svc.Cards(), a.cfg.Replication.States()}}
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { sw.Run(sctx); close(done) }()
		b.Cleanup(func() { cancel(); <-done })
		time.Sleep(30 * time.Second) // past the first round of every database
	}
	srv := httptest.NewServer(a.Handler())
	b.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}
	be := &benchInventory{srv: srv, http: &http.Client{Jar: jar, Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		auto: &http.Client{Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	resp, err := be.http.Get(srv.URL + "/login")
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRe.FindStringSubmatch(string(body))
	if m == nil {
		b.Fatal("no CSRF token on the sign-in form")
	}
	resp, err = be.http.PostForm(srv.URL+"/login", url.Values{"email": {viewerEmail}, "password": {password}, "csrf": {m[1]}})
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign in: %d", resp.StatusCode)
	}
	return be
}
