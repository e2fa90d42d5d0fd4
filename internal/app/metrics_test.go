package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/replication"
)

func TestMetricsOffWithoutToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.client(t).get("/metrics")
	if r.Status != http.StatusNotFound {
		t.Fatalf("/metrics without a configured token: %d, want 404", r.Status)
	}
}

func TestMetricsNeedTheBearerToken(t *testing.T) {
	t.Parallel()
	const token = "s3cret-metrics-token"
	e := newEnv(t, func(c *Config) { c.MetricsToken = token })
	c := e.client(t)
	for _, h := range []string{"", "Bearer", "Bearer wrong", "bearer " + token, "Bearer " + token + " "} {
		var r response
		if h == "" {
			r = c.get("/metrics")
		} else {
			r = c.do("GET", "/metrics", nil, "Authorization", h)
		}
		// Surrounding spaces are trimmed, so that one passes.
		if h == "Bearer "+token+" " {
			if r.Status != http.StatusOK {
				t.Errorf("%q: %d", h, r.Status)
			}
			continue
		}
		if r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: %d, want 401 with WWW-Authenticate", h, r.Status)
		}
	}
	r := c.do("GET", "/metrics", nil, "Authorization", "Bearer "+token)
	if r.Status != http.StatusOK {
		t.Fatalf("with the token: %d", r.Status)
	}
	for _, want := range []string{`pglinks_database_up{database="DATABASE_URL"} 1`, `pglinks_database_up{database="HEROKU_POSTGRESQL_BLUE_URL"} 1`, "# TYPE pglinks_database_up gauge"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("metrics lack %q:\n%s", want, r.Body)
		}
	}
	if !regexp.MustCompile(`pglinks_fleet_connections_peak\{class="user"\} [1-9]`).MatchString(r.Body) {
		t.Errorf("no peak of user connections:\n%s", r.Body)
	}
}

func TestReplicationPageForViewers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	if r := c.get("/replication"); r.Status != http.StatusSeeOther {
		t.Fatalf("anonymous: %d", r.Status)
	}
	c.signIn(viewerEmail)
	r := c.get("/replication")
	// Databases with nothing to show fold into one line.
	if r.Status != http.StatusOK || strings.Contains(r.Body, `data-testid="repl-db-DATABASE_URL"`) ||
		!regexp.MustCompile(`2 databases have no subscriptions, publications or slots:</h2> *<span[^>]*>[^<]*\(DATABASE_URL\), [^<]*\(HEROKU_POSTGRESQL_BLUE_URL\)\.</span>`).MatchString(r.Body) {
		t.Fatalf("viewer page: %d\n%s", r.Status, r.Body)
	}
	if r := c.get("/replication/slots/drop?db=DATABASE_URL&name=x"); r.Status != http.StatusForbidden {
		t.Errorf("viewer GET drop slot: %d, want 403", r.Status)
	}
}

// Each link's health and staleness are in /metrics once probed.
func TestMetricsLinkHealth(t *testing.T) {
	t.Parallel()
	const token = "s3cret-metrics-token"
	e := newEnv(t, func(c *Config) { c.MetricsToken = token })
	c := e.client(t)
	c.signIn(adminEmail)
	if r := c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"sales"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("create: %d", r.Status)
	}
	if r := c.post("/databases/DATABASE_URL/links/sales/check", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("check now: %d %.300s", r.Status, r.Body)
	}
	r := c.do("GET", "/metrics", nil, "Authorization", "Bearer "+token)
	labels := `{database="DATABASE_URL",link="sales",remote="HEROKU_POSTGRESQL_BLUE_URL"}`
	// The connection cap's use: its limits (default 32: 16 + 16), and a peak
	// of at least the connections the create and the probe took.
	checked := e.app.cfg.Health.Get("DATABASE_URL", "sales").CheckedAt
	for _, want := range []string{"pglinks_link_healthy" + labels + " 1", "pglinks_link_stale" + labels + " 0", "pglinks_link_probe_seconds" + labels,
		fmt.Sprintf("pglinks_link_checked_timestamp_seconds%s %s", labels, strconv.FormatFloat(float64(checked.UnixMilli())/1000, 'g', -1, 64)),
		`pglinks_fleet_connections_limit{class="status"} 16`, `pglinks_fleet_connections_limit{class="user"} 16`, `pglinks_fleet_connections{class="user"}`} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("metrics lack %q:\n%s", want, r.Body)
		}
	}
	if !regexp.MustCompile(`pglinks_fleet_connections_peak\{class="user"\} [1-9]`).MatchString(r.Body) {
		t.Errorf("no peak of user connections:\n%s", r.Body)
	}
}

// A subscription name that is not valid UTF-8 (a SQL_ASCII database) is
// exported with its invalid bytes escaped, counted, and costs no other
// series; a name that escapes to another series' labels is left out, also
// counted. promtool accepts the whole answer.
func TestMetricsSurviveInvalidUTF8Names(t *testing.T) {
	t.Parallel()
	const token = "s3cret-metrics-token"
	db := fmt.Sprintf("ascii_%d", seq.Add(1))
	execSQL(t, cluster.SuperURL("postgres"), fmt.Sprintf(`CREATE DATABASE %s ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`, db))
	asciiURL := cluster.SuperURL(db)
	// Bytes go in through convert_from: the UTF8 client encoding would
	// refuse them as SQL text.
	for i, hex := range []string{`\x74776e69ff6e`, `\x78ff`, `\x785c784646`} { // "twni\xffn", "x\xff", `x\xFF`
		execSQL(t, asciiURL, fmt.Sprintf(`DO $$BEGIN EXECUTE format('CREATE SUBSCRIPTION %%I CONNECTION %%L PUBLICATION p WITH (connect = false, slot_name = %%L)',
			convert_from('%s'::bytea, 'SQL_ASCII'), 'host=127.0.0.1 port=1 dbname=x', 'odd_%d'); END$$`, hex, i))
	}
	e := newEnv(t, withFleet(t, token, "DATABASE_URL="+asciiURL))
	r := e.client(t).do("GET", "/metrics", nil, "Authorization", "Bearer "+token)
	if r.Status != http.StatusOK {
		t.Fatalf("/metrics: %d\n%s", r.Status, r.Body)
	}
	for _, want := range []string{
		`pglinks_subscription_enabled{database="DATABASE_URL",subscription="twni\\xFFn"} 0`,
		`pglinks_database_up{database="DATABASE_URL"} 1`,
		`pglinks_metrics_label_values_replaced_total 8`, // two names, each in four series
		`pglinks_metrics_series_dropped_total 4`,        // x\xff collides with x\xFF: enabled, worker_running and both error counts
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("metrics lack %q:\n%s", want, r.Body)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not installed (scripts/deps.sh test installs Debian's prometheus)")
		}
		t.Skip("promtool not installed")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(r.Body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// An invalidated slot, and how long a slot has been inactive, are in
// /metrics: a physical slot whose WAL max_slot_wal_keep_size let go
// (wal_status lost, on every supported version), on a cluster of its own.
func TestMetricsSlotInvalidated(t *testing.T) {
	t.Parallel()
	const token = "s3cret-metrics-token"
	ctx := context.Background()
	c, err := pgtest.Start(ctx, pgtest.Options{ForTests: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	super := c.SuperURL("postgres")
	execSQL(t, super, "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'")
	execSQL(t, super, "SELECT pg_reload_conf()")
	execSQL(t, super, "SELECT pg_create_physical_replication_slot('lost', true)")
	execSQL(t, super, "CREATE TABLE filler (x text)")
	for range 4 {
		execSQL(t, super, "INSERT INTO filler SELECT repeat('x', 100) FROM generate_series(1, 1000); SELECT pg_switch_wal()")
	}
	execSQL(t, super, "CHECKPOINT")
	if n := queryInt(t, super, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'lost' AND wal_status = 'lost'"); n != 1 {
		t.Fatal("the slot was not invalidated")
	}
	execSQL(t, super, "SELECT pg_create_physical_replication_slot('kept', true)")
	var offset atomic.Int64
	e := newEnv(t, func(cfg *Config) {
		withFleet(t, token, "DATABASE_URL="+super)(cfg)
		cfg.Replication.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	})
	cl := e.client(t)
	cl.do("GET", "/metrics", nil, "Authorization", "Bearer "+token) // pglinks first sees the slots inactive
	offset.Store(int64(10 * time.Minute))
	r := cl.do("GET", "/metrics", nil, "Authorization", "Bearer "+token)
	for _, want := range []string{
		`pglinks_replication_slot_invalidated{database="DATABASE_URL",slot="lost",slot_type="physical"} 1`,
		`pglinks_replication_slot_invalidated{database="DATABASE_URL",slot="kept",slot_type="physical"} 0`,
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("metrics lack %q:\n%s", want, r.Body)
		}
	}
	if !regexp.MustCompile(`pglinks_replication_slot_inactive_seconds\{database="DATABASE_URL",slot="kept",slot_type="physical"\} 60[0-9](\.[0-9]+)?\n`).MatchString(r.Body) {
		t.Errorf("the slot is not inactive for 10 min:\n%s", r.Body)
	}
}

// withFleet is a newEnv option: the app's fleet is env, with its links,
// link health and replication over it (the state database's registry
// kept), and /metrics behind token.
func withFleet(t *testing.T, token string, env ...string) func(*Config) {
	return func(cfg *Config) {
		fl, err := fleet.Load(env)
		if err != nil {
			t.Fatal(err)
		}
		fl.Log = slog.New(slog.DiscardHandler)
		t.Cleanup(fl.Close)
		svc := links.NewService(fl, fl.Log)
		svc.Registry = cfg.Links.Registry
		t.Cleanup(svc.Close)
		cfg.Fleet, cfg.Links, cfg.Health, cfg.MetricsToken = fl, svc, links.NewMonitor(svc), token
		cfg.Replication = replication.New(fl)
	}
}
