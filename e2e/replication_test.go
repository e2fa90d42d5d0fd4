package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/playwright-community/playwright-go"
)

// A publisher and a subscriber cluster with wal_level=logical, started on
// first use and shared by the replication tests that leave both running.
var (
	logicalOnce            sync.Once
	logicalErr             error
	pubCluster, subCluster *pgtest.Cluster
)

func logicalClusters(t *testing.T) (*pgtest.Cluster, *pgtest.Cluster) {
	t.Helper()
	logicalOnce.Do(func() {
		pubCluster, subCluster, logicalErr = startLogicalPair(atExit)
	})
	if logicalErr != nil {
		t.Fatal(logicalErr)
	}
	return pubCluster, subCluster
}

// ownLogicalClusters is a publisher and a subscriber for a test that
// stops one of them, which the shared pair's other users must not see.
func ownLogicalClusters(t *testing.T) (*pgtest.Cluster, *pgtest.Cluster) {
	t.Helper()
	p, s, err := startLogicalPair(t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	return p, s
}

// startLogicalPair starts a publisher and a subscriber side by side;
// cleanup is given what stops each. Room for the apply and table-sync
// workers of the tests that run at once on them.
func startLogicalPair(cleanup func(func())) (pub, sub *pgtest.Cluster, err error) {
	ctx := context.Background()
	var wg sync.WaitGroup
	var errs [2]error
	cs := [2]*pgtest.Cluster{}
	for i := range cs {
		wg.Go(func() {
			cs[i], errs[i] = pgtest.Start(ctx, pgtest.Options{ForTests: true, Logical: true, Settings: []string{
				"max_worker_processes = 32", "max_logical_replication_workers = 24",
				// Restart stopped apply workers sooner than the 5 s default.
				"wal_retrieve_retry_interval = '300ms'",
			}})
		})
	}
	wg.Wait()
	for i, c := range cs {
		if c != nil {
			cleanup(func() { c.Stop() })
		}
		if errs[i] != nil {
			err = errs[i]
		}
	}
	return cs[0], cs[1], err
}

const (
	hostilePub = `pub "<script>alert(1)</script>'`
	hostileSub = `sub <img src=x onerror=alert(2)> "q'`
)

// replFleet is a publisher database (BLUE, its owner has REPLICATION), a
// subscriber database reached as a superuser (DATABASE_URL, as on a
// self-hosted server) and as its plain owner (PLAIN), with a running
// subscription between them.
type replFleet struct {
	pub, sub, state *pgtest.Database
	subName         string
	pubSuperURL     string
	subSuperURL     string
	env             []string
	token           string
	adminEmail      string
	adminPassword   string
	viewerEmail     string
	viewerPassword  string
}

func newReplFleet(t *testing.T) *replFleet {
	t.Helper()
	p, s := logicalClusters(t)
	return newReplFleetOn(t, p, s)
}

// newReplFleetOn is newReplFleet on the publisher p and the subscriber s.
func newReplFleetOn(t *testing.T, p, s *pgtest.Cluster) *replFleet {
	t.Helper()
	ctx := context.Background()
	n := dbSeq.Add(1)
	mk := func(c *pgtest.Cluster, name string) *pgtest.Database {
		d, err := c.CreateDatabase(ctx, fmt.Sprintf("%s_%d", name, n), pgtest.DBOptions{NoFDW: true})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	f := &replFleet{
		pub: mk(p, "orders"), sub: mk(s, "reporting"), state: mk(s, "state"),
		subName: fmt.Sprintf("sub_orders_%d", n), token: pgtest.RandomToken(16),
		adminEmail: "admin@example.com", adminPassword: "correct horse battery staple",
		viewerEmail: "viewer@example.com", viewerPassword: "viewer password 12345",
	}
	f.pubSuperURL, f.subSuperURL = p.SuperURL(f.pub.Name), s.SuperURL(f.sub.Name)
	execSQL(t, p.SuperURL("postgres"), fmt.Sprintf("ALTER ROLE %s REPLICATION", f.pub.Owner))
	execSQL(t, f.pub.URL, `CREATE TABLE orders (id int PRIMARY KEY, note text);
		INSERT INTO orders VALUES (1, 'first');
		CREATE PUBLICATION pub_orders FOR TABLE orders;
		CREATE PUBLICATION "pub ""<script>alert(1)</script>'" FOR TABLE orders`)
	execSQL(t, f.sub.URL, `CREATE TABLE orders (id int PRIMARY KEY, note text)`)
	execSQL(t, f.subSuperURL, fmt.Sprintf(`CREATE SUBSCRIPTION %s CONNECTION '%s' PUBLICATION pub_orders`, f.subName, f.pubSuperURL))
	// A disabled subscription with a hostile name and no slot.
	execSQL(t, f.subSuperURL, fmt.Sprintf(`CREATE SUBSCRIPTION "sub <img src=x onerror=alert(2)> ""q'" CONNECTION '%s' PUBLICATION "pub ""<script>alert(1)</script>'" WITH (connect = false, slot_name = NONE)`, f.pubSuperURL))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, name := range []string{f.subName, hostileSub} {
			id := `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
			s.Exec(ctx, f.sub.Name, fmt.Sprintf(`DO $$BEGIN IF EXISTS (SELECT 1 FROM pg_subscription WHERE subname = %s) THEN
				ALTER SUBSCRIPTION %s DISABLE; ALTER SUBSCRIPTION %s SET (slot_name = NONE); DROP SUBSCRIPTION %s; END IF; END$$`,
				"'"+strings.ReplaceAll(name, "'", "''")+"'", id, id, id))
		}
		p.Exec(ctx, "postgres", `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, f.subName)
	})
	f.env = []string{
		"DATABASE_URL=" + f.subSuperURL,
		"HEROKU_POSTGRESQL_BLUE_URL=" + f.pub.URL,
		"HEROKU_POSTGRESQL_PLAIN_URL=" + f.sub.URL,
		"PGLINKS_RESOURCE_NAMES=DATABASE_URL=reporting-superuser,HEROKU_POSTGRESQL_BLUE_URL=orders-primary,HEROKU_POSTGRESQL_PLAIN_URL=reporting-owner",
		"PGLINKS_STATE_URL=" + f.state.URL,
		"PGLINKS_SESSION_KEYS=" + pgtest.RandomToken(32),
		"PGLINKS_METRICS_TOKEN=" + f.token,
	}
	ff := &testFleet{env: f.env}
	ff.userAdd(t, f.adminEmail, "admin", f.adminPassword)
	ff.userAdd(t, f.viewerEmail, "viewer", f.viewerPassword)
	return f
}

// reloadUntil reloads the page until loc has text matching re.
func reloadUntil(t *testing.T, page playwright.Page, loc playwright.Locator, re string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	rx := regexp.MustCompile(re)
	for {
		txt, _ := loc.TextContent(playwright.LocatorTextContentOptions{Timeout: playwright.Float(2000)})
		if rx.MatchString(txt) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %q does not match %s", timeout, txt, re)
		}
		time.Sleep(300 * time.Millisecond)
		if _, err := page.Reload(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReplicationOrphanedSlotFlow(t *testing.T) {
	t.Parallel()
	// Its own clusters: it stops the publisher.
	pubCluster, subCluster := ownLogicalClusters(t)
	f := newReplFleetOn(t, pubCluster, subCluster)
	// Slots become alarms after 8 s inactive here, not the default 5 min.
	srv := startServer(t, append(f.env, "PGLINKS_SLOT_ORPHAN_AFTER=8s"))
	page := newPage(t)
	page.On("dialog", func(d playwright.Dialog) {
		t.Errorf("a dialog opened (%q): names were not escaped", d.Message())
		d.Dismiss()
	})
	goTo(t, page, srv.URL+"/replication")
	signIn(t, page, srv.URL, f.adminEmail, f.adminPassword)
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/replication"))

	// The running subscription, its table ready, rows flowing.
	subDB := page.GetByTestId("repl-db-DATABASE_URL")
	row := subDB.GetByTestId("sub-" + f.subName)
	reloadUntil(t, page, row, `worker running.*1 ready`, 20*time.Second)
	must(t, expect.Locator(row.GetByTestId("sub-publisher")).ToHaveText("HEROKU_POSTGRESQL_BLUE_URL"))
	execSQL(t, f.pub.URL, "INSERT INTO orders VALUES (2, 'second')")
	deadline := time.Now().Add(15 * time.Second)
	for queryInt(t, f.sub.URL, "SELECT count(*) FROM orders") != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the inserted row did not arrive on the subscriber")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Hostile names render as text.
	must(t, expect.Locator(subDB.GetByTestId("sub-"+hostileSub)).ToContainText(hostileSub))
	must(t, expect.Locator(page.GetByTestId("repl-db-HEROKU_POSTGRESQL_BLUE_URL").GetByTestId("pub-"+hostilePub)).ToContainText(hostilePub))
	// The plain owner role sees the same subscription with the reasons.
	plain := page.GetByTestId("repl-db-HEROKU_POSTGRESQL_PLAIN_URL")
	must(t, expect.Locator(plain.GetByTestId("sub-"+f.subName).GetByTestId("sub-publisher")).ToHaveText("not readable by this role"))
	must(t, expect.Locator(plain.GetByTestId("manage-reason")).ToContainText("needs a superuser"))
	must(t, expect.Locator(plain.GetByTestId("sub-disable")).ToHaveCount(0))
	screenshot(t, page, "replication")

	// The hostile subscription's drop page shows its name as text; it has
	// no slot, so nothing changes on the publisher.
	must(t, subDB.GetByTestId("sub-"+hostileSub).GetByTestId("sub-drop").Click())
	must(t, expect.Locator(page.GetByRole("heading", playwright.PageGetByRoleOptions{Level: playwright.Int(1)})).ToHaveText("Drop subscription "+hostileSub))
	must(t, expect.Locator(page.GetByTestId("slot-fate")).ToContainText("no slot"))
	must(t, page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Cancel"}).Click())
	row = page.GetByTestId("repl-db-DATABASE_URL").GetByTestId("sub-" + f.subName)

	// Disable: the page read after it says "stopping" or stopped, and the
	// slot, inactive for moments, is no alarm and not offered for dropping.
	must(t, row.GetByTestId("sub-disable").Click())
	must(t, expect.Locator(page.GetByTestId("flash-success")).ToContainText("disabled"))
	row = page.GetByTestId("repl-db-DATABASE_URL").GetByTestId("sub-" + f.subName)
	slotRow := page.GetByTestId("repl-db-HEROKU_POSTGRESQL_BLUE_URL").GetByTestId("slot-" + f.subName)
	must(t, expect.Locator(row.GetByTestId("sub-worker")).ToHaveText(regexp.MustCompile(`^(stopping|worker stopped)$`)))
	must(t, expect.Locator(page.GetByTestId("warning-inactive_slot")).ToHaveCount(0))
	must(t, expect.Locator(slotRow.GetByTestId("slot-drop")).ToHaveCount(0))
	reloadUntil(t, page, row, `disabled.*worker stopped`, 15*time.Second)
	must(t, expect.Locator(page.GetByTestId("replication-warnings").First()).ToContainText("Subscription "+f.subName+" on DATABASE_URL is disabled"))
	// Past PGLINKS_SLOT_ORPHAN_AFTER the slot is an alarm, and its drop
	// offer names the subscription it would break.
	reloadUntil(t, page, page.GetByTestId("replication-warnings"), `Slot `+f.subName+` on HEROKU_POSTGRESQL_BLUE_URL has been inactive`, 30*time.Second)
	must(t, expect.Locator(slotRow.GetByTestId("slot-drop-breaks")).ToHaveText("breaks subscription DATABASE_URL/"+f.subName))
	screenshot(t, page, "replication-disabled-past-threshold")
	// Enable: the page read after it says "starting" (or running), with no
	// stopped-worker alarm and no drop offer on the slot about to be used.
	must(t, row.GetByTestId("sub-enable").Click())
	must(t, expect.Locator(row.GetByTestId("sub-worker")).ToHaveText(regexp.MustCompile(`^(starting|worker running)$`)))
	must(t, expect.Locator(page.GetByTestId("warning-worker_stopped")).ToHaveCount(0))
	must(t, expect.Locator(page.GetByTestId("warning-inactive_slot")).ToHaveCount(0))
	must(t, expect.Locator(slotRow.GetByTestId("slot-drop")).ToHaveCount(0))
	row = page.GetByTestId("repl-db-DATABASE_URL").GetByTestId("sub-" + f.subName)
	reloadUntil(t, page, row, `enabled.*worker running`, 15*time.Second)

	// The publisher stops; the drop takes the safe path without hanging.
	pubCluster.Halt()
	resumed := false
	defer func() {
		if !resumed {
			pubCluster.Resume(context.Background(), 0)
		}
	}()
	goTo(t, page, srv.URL+"/replication")
	must(t, page.GetByTestId("repl-db-DATABASE_URL").GetByTestId("sub-"+f.subName).GetByTestId("sub-drop").Click())
	must(t, expect.Locator(page.GetByTestId("slot-fate")).ToContainText("safe path"))
	// The statements the safe path runs, and no plain drop: the publisher
	// does not answer.
	must(t, expect.Locator(page.GetByTestId("drop-sql-plain")).ToHaveCount(0))
	must(t, expect.Locator(page.GetByTestId("drop-sql-safe").GetByTestId("sql-statement")).ToHaveText([]string{
		`ALTER SUBSCRIPTION "` + f.subName + `" DISABLE;`, `ALTER SUBSCRIPTION "` + f.subName + `" SET (slot_name = NONE);`, `DROP SUBSCRIPTION "` + f.subName + `";`}))
	// The button stays disabled until the name is typed exactly.
	dropButton := page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Drop subscription"})
	hint := page.GetByTestId("confirm-hint")
	must(t, expect.Locator(dropButton).ToHaveAttribute("aria-disabled", "true"))
	must(t, page.Locator("#confirm").Fill(f.subName+" "))
	must(t, expect.Locator(hint).ToContainText("Spaces count"))
	must(t, expect.Locator(dropButton).ToHaveAttribute("aria-disabled", "true"))
	must(t, page.Locator("#confirm").Fill(f.subName+"_typo"))
	must(t, expect.Locator(hint).ToContainText("does not match the subscription name"))
	must(t, page.Locator("#confirm").Press("Enter"))
	must(t, expect.Locator(hint).ToContainText("does not match"))
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/replication/subscriptions/drop\?`)))
	// The server checks again.
	_, err := page.GetByTestId("drop-sub-form").Evaluate("form => form.submit()", nil)
	must(t, err)
	must(t, expect.Locator(page.GetByTestId("drop-sub-form")).ToContainText("nothing was changed"))
	if n := queryInt(t, f.subSuperURL, "SELECT count(*) FROM pg_subscription WHERE subname = $1", f.subName); n != 1 {
		t.Fatal("a mismatched name dropped the subscription")
	}
	screenshot(t, page, "replication-drop-subscription")
	must(t, page.Locator("#confirm").Fill(f.subName))
	must(t, expect.Locator(dropButton).ToHaveAttribute("aria-disabled", "false"))
	start := time.Now()
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Drop subscription"}).Click())
	must(t, expect.Locator(page.GetByTestId("flashes")).ToContainText("slot "+f.subName+" on HEROKU_POSTGRESQL_BLUE_URL is now orphaned"))
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("dropping with the publisher down took %s", took)
	}
	if n := queryInt(t, f.subSuperURL, "SELECT count(*) FROM pg_subscription WHERE subname = $1", f.subName); n != 0 {
		t.Fatal("the subscription is still there")
	}

	// The publisher comes back: the slot shows orphaned, inactive, holding WAL.
	if err := pubCluster.Resume(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	resumed = true
	execSQL(t, f.pub.URL, "INSERT INTO orders SELECT g, repeat('x', 200) FROM generate_series(100, 3100) g")
	goTo(t, page, srv.URL+"/replication")
	reloadUntil(t, page, slotRow, `inactive.*orphaned`, 15*time.Second)
	reloadUntil(t, page, page.GetByTestId("replication-warnings"), `Slot `+f.subName+` on HEROKU_POSTGRESQL_BLUE_URL is orphaned`, 30*time.Second)
	must(t, expect.Locator(page.GetByTestId("warning-orphaned_slot")).ToContainText("Slot "+f.subName+" on HEROKU_POSTGRESQL_BLUE_URL is orphaned"))
	must(t, expect.Locator(page.GetByTestId("warning-orphaned_slot")).ToContainText(regexp.MustCompile(`holds [0-9.]+ (kB|MB) of WAL`)))
	screenshot(t, page, "replication-orphaned-slot")

	// The inventory card of the publisher carries the same warning.
	goTo(t, page, srv.URL+"/")
	must(t, expect.Locator(page.GetByTestId("db-HEROKU_POSTGRESQL_BLUE_URL").GetByTestId("warning-orphaned_slot")).ToContainText("is orphaned"))
	screenshot(t, page, "inventory-replication-warning")

	// Drop slot, behind its typed name.
	goTo(t, page, srv.URL+"/replication")
	must(t, page.GetByTestId("repl-db-HEROKU_POSTGRESQL_BLUE_URL").GetByTestId("slot-"+f.subName).GetByTestId("slot-drop").Click())
	must(t, page.Locator("#confirm").Fill(f.subName))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Drop slot"}).Click())
	must(t, expect.Locator(page.GetByTestId("flash-success")).ToContainText("Slot "+f.subName+" dropped"))
	if n := queryInt(t, pubCluster.SuperURL("postgres"), "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", f.subName); n != 0 {
		t.Fatal("the slot is still there")
	}
	must(t, expect.Locator(page.GetByTestId("warning-orphaned_slot")).ToHaveCount(0))

	// The audit trail has the SQL that ran.
	goTo(t, page, srv.URL+"/audit")
	must(t, expect.Locator(page.Locator("body")).ToContainText("SET (slot_name = NONE)"))
	must(t, expect.Locator(page.Locator("body")).ToContainText("pg_drop_replication_slot('"+f.subName+"')"))

	// Narrow screens: the page stays readable.
	must(t, page.SetViewportSize(390, 844))
	goTo(t, page, srv.URL+"/replication")
	screenshot(t, page, "replication-narrow")
}

// httpSession signs in with a plain HTTP client and returns it with the
// CSRF token of its session.
func httpSession(t *testing.T, base, email, password string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrfRe := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	get := func(path string) string {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	m := csrfRe.FindStringSubmatch(get("/login"))
	if m == nil {
		t.Fatal("no CSRF token on the sign-in page")
	}
	resp, err := c.PostForm(base+"/login", url.Values{"email": {email}, "password": {password}, "csrf": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %s", resp.Status)
	}
	if m = csrfRe.FindStringSubmatch(get("/replication")); m == nil {
		t.Fatal("no CSRF token after sign-in")
	}
	return c, m[1]
}

func TestReplicationViewerAndMetrics(t *testing.T) {
	t.Parallel()
	f := newReplFleet(t)
	srv := startServer(t, f.env)

	c, csrf := httpSession(t, srv.URL, f.viewerEmail, f.viewerPassword)
	resp, err := c.Get(srv.URL + "/replication")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), f.subName) || strings.Contains(string(body), `data-testid="sub-disable"`) {
		t.Fatalf("viewer page: %s", resp.Status)
	}
	if strings.Contains(string(body), "<script>alert(1)") || strings.Contains(string(body), "<img src=x") {
		t.Fatal("a hostile name is rendered as markup")
	}
	for _, path := range []string{"/replication/subscriptions/disable", "/replication/subscriptions/enable", "/replication/subscriptions/drop",
		"/replication/slots/drop", "/replication/publications", "/replication/subscriptions"} {
		resp, err := c.PostForm(srv.URL+path, url.Values{"csrf": {csrf}, "db": {"DATABASE_URL"}, "name": {f.subName}, "confirm": {f.subName}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("viewer POST %s: %s, want 403", path, resp.Status)
		}
	}
	if n := queryInt(t, f.subSuperURL, "SELECT count(*) FROM pg_subscription WHERE subname = $1 AND subenabled", f.subName); n != 1 {
		t.Fatal("a viewer changed the subscription")
	}

	metrics := func(auth string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, auth := range []string{"", "Bearer wrong", "Basic " + f.token, "Bearer " + f.token + "x"} {
		if st, _ := metrics(auth); st != http.StatusUnauthorized {
			t.Errorf("metrics with %q: %d, want 401", auth, st)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	re := regexp.MustCompile(`pglinks_replication_slot_retained_wal_bytes\{database="HEROKU_POSTGRESQL_BLUE_URL",orphaned="false",slot="` + f.subName + `",slot_type="logical"\} [0-9.e+]+`)
	for {
		st, text := metrics("Bearer " + f.token)
		if st != http.StatusOK {
			t.Fatalf("metrics with the token: %d", st)
		}
		running := strings.Contains(text, `pglinks_subscription_worker_running{database="DATABASE_URL",subscription="`+f.subName+`"} 1`)
		if re.MatchString(text) && running && strings.Contains(text, `pglinks_replication_slot_active{database="HEROKU_POSTGRESQL_BLUE_URL",orphaned="false",slot="`+f.subName+`",slot_type="logical"} 1`) {
			for _, want := range []string{
				`pglinks_subscription_enabled{database="DATABASE_URL",subscription="` + f.subName + `"} 1`,
				`pglinks_subscription_apply_errors_total{database="DATABASE_URL",subscription="` + f.subName + `"} 0`,
				`pglinks_replication_slot_invalidated{database="HEROKU_POSTGRESQL_BLUE_URL",slot="` + f.subName + `",slot_type="logical"} 0`,
				`pglinks_replication_slot_inactive_seconds{database="HEROKU_POSTGRESQL_BLUE_URL",slot="` + f.subName + `",slot_type="logical"} 0`,
			} {
				if !strings.Contains(text, want) {
					t.Errorf("metrics lack %s:\n%s", want, text)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed the slot and a running worker:\n%s", text)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func TestReplicationCreateFromBrowser(t *testing.T) {
	t.Parallel()
	f := newReplFleet(t)
	srv := startServer(t, f.env)
	subName := f.subName + "_customers"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		subCluster.Exec(ctx, f.sub.Name, fmt.Sprintf(`DO $$BEGIN IF EXISTS (SELECT 1 FROM pg_subscription WHERE subname = '%s') THEN
			ALTER SUBSCRIPTION %s DISABLE; ALTER SUBSCRIPTION %s SET (slot_name = NONE); DROP SUBSCRIPTION %s; END IF; END$$`, subName, subName, subName, subName))
		pubCluster.Exec(ctx, "postgres", `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, subName)
	})
	execSQL(t, f.pub.URL, `CREATE TABLE customers (id int PRIMARY KEY, name text); INSERT INTO customers VALUES (1, 'Ada'), (2, 'Grace')`)
	execSQL(t, f.sub.URL, `CREATE TABLE customers (id int PRIMARY KEY)`)
	page := newPage(t)
	goTo(t, page, srv.URL+"/replication")
	signIn(t, page, srv.URL, f.adminEmail, f.adminPassword)

	// A publication of customers, checked then created.
	must(t, page.GetByTestId("new-publication").Click())
	_, err := page.Locator("#db").SelectOption(playwright.SelectOptionValues{Values: &[]string{"HEROKU_POSTGRESQL_BLUE_URL"}})
	must(t, err)
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Choose"}).Click())
	must(t, page.Locator("#name").Fill("pub_customers"))
	must(t, page.Locator(`input[name="tables"][value="public.customers"]`).Check())
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Check"}).Click())
	must(t, expect.Locator(page.GetByTestId("preflight-sql")).ToHaveText(`CREATE PUBLICATION "pub_customers" FOR TABLE public.customers;`))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create publication"}).Click())
	must(t, expect.Locator(page.GetByTestId("flash-success")).ToContainText("Publication pub_customers created"))

	// A subscription: the preflight names the missing column; nothing runs.
	must(t, page.GetByTestId("new-subscription").Click())
	_, err = page.Locator("#publisher").SelectOption(playwright.SelectOptionValues{Values: &[]string{"HEROKU_POSTGRESQL_BLUE_URL"}})
	must(t, err)
	_, err = page.Locator("#subscriber").SelectOption(playwright.SelectOptionValues{Values: &[]string{"DATABASE_URL"}})
	must(t, err)
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Choose"}).Click())
	_, err = page.Locator("#publication").SelectOption(playwright.SelectOptionValues{Values: &[]string{"pub_customers"}})
	must(t, err)
	must(t, page.Locator("#name").Fill(subName))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create subscription"}).Click())
	must(t, expect.Locator(page.GetByTestId("preflight-problems")).ToContainText("The table public.customers on DATABASE_URL lacks published columns: name."))
	screenshot(t, page, "replication-new-subscription-problems")
	if n := queryInt(t, f.subSuperURL, "SELECT count(*) FROM pg_subscription WHERE subname = $1", subName); n != 0 {
		t.Fatal("a subscription with preflight problems was created")
	}
	execSQL(t, f.sub.URL, `ALTER TABLE customers ADD COLUMN name text`)
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Check"}).Click())
	must(t, expect.Locator(page.GetByTestId("preflight-ok")).ToContainText(regexp.MustCompile(`CREATE SUBSCRIPTION "`+subName+`" CONNECTION 'host=127\.0\.0\.1 port=[0-9]+ dbname=`+f.pub.Name+` user=`+f.pub.Owner+` password=\*\*\* `)))
	html, _ := page.Content()
	if strings.Contains(html, f.pub.Password) {
		t.Fatal("the preview shows the publisher's password")
	}
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create subscription"}).Click())
	must(t, expect.Locator(page.GetByTestId("flash-success")).ToContainText("Subscription "+subName+" created"))
	deadline := time.Now().Add(20 * time.Second)
	for queryInt(t, f.sub.URL, "SELECT count(*) FROM customers WHERE name IS NOT NULL") != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the customers were not copied to the subscriber")
		}
		time.Sleep(200 * time.Millisecond)
	}
	row := page.GetByTestId("repl-db-DATABASE_URL").GetByTestId("sub-" + subName)
	reloadUntil(t, page, row, `worker running.*1 ready`, 20*time.Second)
}

// The Replication page and the drop confirmations at 1280 and 390 px:
// the databases with replication first, the empty ones folded into one
// line, the inventory's search, every row a block with its actions in view
// on a phone, and no serious accessibility violation.
func TestReplicationPagesFitPhoneAndLaptop(t *testing.T) {
	t.Parallel()
	f := newReplFleet(t)
	// Enough databases for the search, most of them with nothing to show.
	env := append([]string{}, f.env...)
	for i := range 8 {
		d, err := pubCluster.CreateDatabase(context.Background(), fmt.Sprintf("empty_%d_%d", i, dbSeq.Add(1)), pgtest.DBOptions{NoFDW: true})
		if err != nil {
			t.Fatal(err)
		}
		env = append(env, fmt.Sprintf("HEROKU_POSTGRESQL_EMPTY%d_URL=%s", i, d.URL))
	}
	srv := startServer(t, env)
	// The widths only read, each in its own browser context: side by side.
	for _, width := range uxWidths {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			t.Parallel()
			page := newSizedPage(t, width)
			goTo(t, page, srv.URL+"/login")
			signIn(t, page, srv.URL, f.adminEmail, f.adminPassword)
			visit := func(name, path string) {
				t.Helper()
				goTo(t, page, srv.URL+path)
				checkFits(t, page, name)
				checkAxe(t, page, name)
				if width == 390 {
					checkControlsInView(t, page, name)
				}
				screenshot(t, page, fmt.Sprintf("replication-%s-%d", name, width))
			}
			visit("page", "/replication")
			row := page.GetByTestId("repl-db-DATABASE_URL").GetByTestId("sub-" + f.subName)
			reloadUntil(t, page, row, `worker running.*1 ready`, 20*time.Second)
			checkFits(t, page, "page, running")
			checkAxe(t, page, "page, running")
			if width == 390 {
				checkControlsInView(t, page, "page, running")
			}
			screenshot(t, page, fmt.Sprintf("replication-page-%d", width))
			// The three databases holding something come first, the eight
			// empty ones fold into one line.
			res, err := page.Evaluate(`() => [...document.querySelectorAll("section[data-testid^=repl-db-]")].map((s) => s.dataset.testid)`)
			must(t, err)
			if got := fmt.Sprint(res); got != "[repl-db-DATABASE_URL repl-db-HEROKU_POSTGRESQL_BLUE_URL repl-db-HEROKU_POSTGRESQL_PLAIN_URL]" {
				t.Errorf("cards: %s", got)
			}
			must(t, expect.Locator(page.GetByTestId("repl-empty")).ToContainText("8 databases have no subscriptions, publications or slots: "))
			must(t, expect.Locator(page.GetByTestId("repl-empty")).ToContainText("(HEROKU_POSTGRESQL_EMPTY7_URL)."))
			must(t, expect.Locator(page.GetByTestId("replication-count")).ToHaveText("11 databases."))

			// The inventory's search: any case, over database and object names.
			must(t, page.Locator("#replication-q").Fill("ORDERS-primary"))
			must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Search"}).Click())
			must(t, expect.Page(page).ToHaveURL(srv.URL+"/replication?q=ORDERS-primary"))
			must(t, expect.Locator(page.GetByTestId("replication-count")).ToHaveText("1 of 11 databases match “ORDERS-primary”."))
			must(t, expect.Locator(page.Locator("section[data-testid^=repl-db-]")).ToHaveCount(1))
			goTo(t, page, srv.URL+"/replication?q="+url.QueryEscape(f.subName))
			must(t, expect.Locator(page.Locator("section[data-testid^=repl-db-]")).ToHaveCount(3)) // the subscriber twice, the publisher's slot
			visit("search-none", "/replication?q=nothing-by-this-name")
			must(t, expect.Locator(page.GetByTestId("no-match")).ToBeVisible())

			visit("drop-subscription", "/replication/subscriptions/drop?db=DATABASE_URL&name="+url.QueryEscape(f.subName))
			must(t, expect.Locator(page.GetByTestId("drop-sql-plain").GetByTestId("sql-statement")).ToHaveText(`DROP SUBSCRIPTION "`+f.subName+`";`))
			must(t, expect.Locator(page.GetByTestId("drop-sql-safe").GetByTestId("sql-statement")).ToHaveCount(3))
			must(t, expect.Locator(page.GetByTestId("breadcrumbs").Locator("a")).ToHaveCount(3))
			visit("drop-slot-in-use", "/replication/slots/drop?db=HEROKU_POSTGRESQL_BLUE_URL&name="+url.QueryEscape(f.subName))
			must(t, expect.Locator(page.GetByTestId("refusal")).ToContainText("is active"))
		})
	}
}
