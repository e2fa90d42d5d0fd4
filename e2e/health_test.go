package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/state"
	"github.com/playwright-community/playwright-go"
)

// makeLink creates a link the way the dashboard does, from the test.
func makeLink(t *testing.T, env []string, remoteVar, localVar, name string) {
	t.Helper()
	fl, err := fleet.Load(env)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	svc := links.NewService(fl, slog.New(slog.DiscardHandler))
	defer svc.Close()
	// The link is recorded in the fleet's state database, as the server
	// started on the same environment would record it.
	var stateURL string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PGLINKS_STATE_URL="); ok {
			stateURL = v
		}
	}
	db, err := state.Open(context.Background(), stateURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc.Registry = links.NewStateRegistry(db)
	if _, err := svc.CreateLink(context.Background(), links.CreateRequest{RemoteVar: remoteVar, LocalVar: localVar, Name: name, CopyEnums: true, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
}

// withVar returns env with one variable replaced.
func withVar(env []string, key, value string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

func passwordOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	return pw
}

func assertNoSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Fatalf("%s shows a password", what)
		}
	}
}

func pageHTML(t *testing.T, page playwright.Page) string {
	t.Helper()
	html, err := page.Content()
	if err != nil {
		t.Fatal(err)
	}
	return html
}

func clickButton(t *testing.T, page playwright.Page, testID string) {
	t.Helper()
	must(t, page.GetByTestId(testID).Click())
}

// A remote's password is rotated; pglinks restarted with the new URL shows
// the link broken and stale, an admin repairs it in two clicks, and the
// link and a view on it work again for the local app role.
func TestRotatedPasswordIsRepaired(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	_, b := clusters(t)
	makeLink(t, f.env, "HEROKU_POSTGRESQL_BLUE_URL", "DATABASE_URL", "sales")
	execSQL(t, f.local.URL, "CREATE SCHEMA reports; CREATE VIEW reports.people AS SELECT name FROM sales.customers")

	srv := startServer(t, f.env)
	page := newPage(t)
	goTo(t, page, srv.URL+"/")
	signIn(t, page, srv.URL, f.adminEmail, f.adminPassword)
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/"))

	// Read by, and the connection info page.
	must(t, expect.Locator(page.GetByTestId("db-HEROKU_POSTGRESQL_BLUE_URL").GetByTestId("read-by")).ToHaveText("Read by: sales in DATABASE_URL"))
	must(t, expect.Locator(page.GetByTestId("db-DATABASE_URL").GetByTestId("read-by")).ToHaveCount(0))
	must(t, page.GetByTestId("db-HEROKU_POSTGRESQL_BLUE_URL").GetByTestId("conninfo-link").Click())
	must(t, expect.Locator(page.GetByTestId("keyword-value")).ToHaveText(fmt.Sprintf("host=127.0.0.1 port=%d dbname=%s user=%s sslmode=disable", b.Port, f.remote.Name, f.remote.Owner)))
	must(t, expect.Locator(page.GetByTestId("psql-var")).ToHaveText(`PGSSLMODE=disable psql "$HEROKU_POSTGRESQL_BLUE_URL"`))
	must(t, expect.Locator(page.GetByTestId("conninfo-advice")).ToContainText("sslmode=require"))
	assertNoSecrets(t, "connection info", pageHTML(t, page), f.remote.Password, f.local.Password)
	screenshot(t, page, "conninfo")
	must(t, page.SetViewportSize(390, 844))
	screenshot(t, page, "conninfo-390")
	must(t, page.SetViewportSize(1280, 900))

	// Healthy before the rotation.
	goTo(t, page, srv.URL+"/databases/DATABASE_URL/links/sales")
	clickButton(t, page, "check-now")
	must(t, expect.Locator(page.GetByTestId("flash-success")).ToContainText("Link sales is healthy"))
	must(t, expect.Locator(page.GetByTestId("health").GetByTestId("health-badge")).ToHaveText("healthy"))
	must(t, expect.Locator(page.GetByTestId("checked")).ToHaveText(regexp.MustCompile(`^checked (just now|\d+ s ago)$`)))
	must(t, expect.Locator(page.GetByTestId("stale")).ToHaveCount(0))
	screenshot(t, page, "link-healthy")

	// Rotate the remote role's password; restart pglinks with the new URL.
	newPassword := pgtest.RandomToken(16)
	must(t, b.Exec(context.Background(), "postgres", fmt.Sprintf("ALTER ROLE %s PASSWORD '%s'", pgx.Identifier{f.remote.Owner}.Sanitize(), newPassword)))
	newURL := b.URL(f.remote.Owner, newPassword, f.remote.Name)
	srv.stop(t)
	logs := srv.Logs()
	srv2 := startServer(t, withVar(f.env, "HEROKU_POSTGRESQL_BLUE_URL", newURL))
	// The session survives the restart (same state database and keys;
	// cookies do not depend on the port).

	// The first inventory view after the restart flags the link stale
	// from the local catalog alone; its health is probed in the background.
	goTo(t, page, srv2.URL+"/")
	must(t, expect.Locator(page.GetByTestId("link-sales").GetByTestId("stale-badge")).ToHaveAttribute("title", "credentials changed (user or password)"))
	goTo(t, page, srv2.URL+"/databases/DATABASE_URL/links/sales")
	must(t, expect.Locator(page.GetByTestId("stale")).ToContainText("credentials changed (user or password)"))
	clickButton(t, page, "check-now")
	must(t, expect.Locator(page.GetByTestId("flash-error")).ToContainText("password refused"))
	must(t, expect.Locator(page.GetByTestId("health").GetByTestId("health-badge")).ToHaveText("broken"))
	must(t, expect.Locator(page.GetByTestId("health").GetByTestId("stale-badge")).ToHaveText("stale"))
	must(t, expect.Locator(page.GetByTestId("health-reason")).ToContainText("password refused"))
	assertNoSecrets(t, "the stale link page", pageHTML(t, page), f.remote.Password, newPassword)
	screenshot(t, page, "link-stale")
	must(t, page.SetViewportSize(390, 844))
	screenshot(t, page, "link-stale-390")
	must(t, page.SetViewportSize(1280, 900))

	// The inventory shows it without probing on the request path.
	goTo(t, page, srv2.URL+"/")
	row := page.GetByTestId("link-sales")
	must(t, expect.Locator(row.GetByTestId("health-badge")).ToHaveText("broken"))
	must(t, expect.Locator(row.GetByTestId("stale-badge")).ToHaveText("stale"))
	screenshot(t, page, "inventory-stale")

	// A viewer sees it too, may check, but may not repair.
	viewer := newPage(t)
	goTo(t, viewer, srv2.URL+"/databases/DATABASE_URL/links/sales")
	signIn(t, viewer, srv2.URL, f.viewerEmail, f.viewerPassword)
	must(t, expect.Locator(viewer.GetByTestId("stale")).ToContainText("Ask an admin"))
	must(t, expect.Locator(viewer.GetByTestId("check-now")).ToBeVisible())
	must(t, expect.Locator(viewer.GetByTestId("repair")).ToHaveCount(0))
	must(t, viewer.GetByTestId("check-now").Click())
	must(t, expect.Locator(viewer.GetByTestId("flash-error")).ToContainText("password refused"))
	resp, err := viewer.Goto(srv2.URL + "/databases/DATABASE_URL/links/sales/repair")
	must(t, err)
	if resp.Status() != 403 {
		t.Fatalf("viewer GET repair: %d", resp.Status())
	}

	// Repair: two clicks.
	goTo(t, page, srv2.URL+"/databases/DATABASE_URL/links/sales")
	clickButton(t, page, "repair")
	must(t, expect.Locator(page.GetByTestId("repair-sql")).ToHaveText(`ALTER USER MAPPING FOR CURRENT_USER SERVER "sales" OPTIONS (SET password '***');`))
	assertNoSecrets(t, "the repair page", pageHTML(t, page), f.remote.Password, newPassword)
	screenshot(t, page, "link-repair")
	clickButton(t, page, "repair-submit")
	must(t, expect.Page(page).ToHaveURL(srv2.URL+"/databases/DATABASE_URL/links/sales"))
	must(t, expect.Locator(page.GetByTestId("flash-success")).ToContainText("repaired: credentials changed (user or password). It is healthy"))
	must(t, expect.Locator(page.GetByTestId("health").GetByTestId("health-badge")).ToHaveText("healthy"))
	must(t, expect.Locator(page.GetByTestId("stale")).ToHaveCount(0))
	screenshot(t, page, "link-repaired")

	// The local app role reads through the link, and the view works.
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM sales.customers"); n != 2 {
		t.Fatalf("customers through the repaired link: %d", n)
	}
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM reports.people"); n != 2 {
		t.Fatalf("view on the repaired link: %d", n)
	}

	// Audited with the masked DDL; no password in the audit, HTML or logs.
	goTo(t, page, srv2.URL+"/audit")
	must(t, expect.Locator(page.GetByTestId("audit").Locator("[data-action=link_repair]").GetByTestId("audit-action")).ToHaveText("Repaired a link"))
	must(t, expect.Locator(page.GetByTestId("audit")).ToContainText("SET password '***'"))
	assertNoSecrets(t, "the audit page", pageHTML(t, page), f.remote.Password, newPassword)
	var audit string
	conn, err := pgx.Connect(context.Background(), f.state.URL)
	must(t, err)
	defer conn.Close(context.Background())
	must(t, conn.QueryRow(context.Background(), "SELECT string_agg(concat_ws(' ', action, target, detail, ddl), E'\\n') FROM pglinks.audit").Scan(&audit))
	if !strings.Contains(audit, "link_repair DATABASE_URL/sales") {
		t.Fatalf("audit: %s", audit)
	}
	assertNoSecrets(t, "the audit table", audit, f.remote.Password, newPassword)
	assertNoSecrets(t, "the server logs", logs+srv2.Logs(), f.remote.Password, newPassword)

	// The remote's config var leaves the fleet: the link says so and
	// offers destroy only.
	srv2.stop(t)
	var without []string
	for _, kv := range f.env {
		if !strings.HasPrefix(kv, "HEROKU_POSTGRESQL_BLUE_URL=") {
			without = append(without, kv)
		}
	}
	srv3 := startServer(t, without)
	goTo(t, page, srv3.URL+"/databases/DATABASE_URL/links/sales")
	must(t, expect.Locator(page.GetByTestId("stale")).ToContainText("Remote HEROKU_POSTGRESQL_BLUE_URL is not in this fleet any more"))
	must(t, expect.Locator(page.GetByTestId("repair")).ToHaveCount(0))
	must(t, expect.Locator(page.GetByTestId("destroy")).ToBeVisible())
}

// The remote's cluster stops: the link is broken within the timeout and the
// pages still render; it comes back: healthy after Check now; it moves to
// another port (a failover): stale host/port, repaired, healthy.
func TestHaltedAndMovedRemote(t *testing.T) {
	t.Parallel()
	clusters(t)
	ctx := context.Background()
	c, err := pgtest.Start(ctx, pgtest.Options{ForTests: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	f := newFleet(t)
	remote, err := c.CreateDatabase(ctx, fmt.Sprintf("far_%d", dbSeq.Add(1)), pgtest.DBOptions{})
	must(t, err)
	execSQL(t, remote.URL, remoteSeed)
	env := withVar(f.env, "HEROKU_POSTGRESQL_BLUE_URL", remote.URL)
	makeLink(t, env, "HEROKU_POSTGRESQL_BLUE_URL", "DATABASE_URL", "far")

	srv := startServer(t, env)
	page := newPage(t)
	goTo(t, page, srv.URL+"/databases/DATABASE_URL/links/far")
	signIn(t, page, srv.URL, f.adminEmail, f.adminPassword)
	clickButton(t, page, "check-now")
	must(t, expect.Locator(page.GetByTestId("health").GetByTestId("health-badge")).ToHaveText("healthy"))

	c.Halt()
	clickButton(t, page, "check-now")
	must(t, expect.Locator(page.GetByTestId("health-reason")).ToContainText("remote unreachable"))
	must(t, expect.Locator(page.GetByTestId("foreign-tables")).ToBeVisible())
	goTo(t, page, srv.URL+"/")
	must(t, expect.Locator(page.GetByTestId("link-far").GetByTestId("health-badge")).ToHaveText("broken"))
	must(t, expect.Locator(page.GetByTestId("db-HEROKU_POSTGRESQL_BLUE_URL").GetByTestId("status")).ToHaveText("unreachable"))
	screenshot(t, page, "inventory-remote-down")

	must(t, c.Resume(ctx, 0))
	goTo(t, page, srv.URL+"/databases/DATABASE_URL/links/far")
	clickButton(t, page, "check-now")
	must(t, expect.Locator(page.GetByTestId("health").GetByTestId("health-badge")).ToHaveText("healthy"))

	// Failover: same data on another port, a new URL, pglinks restarted.
	oldHP := fmt.Sprintf("127.0.0.1:%d", c.Port)
	c.Halt()
	port, err := pgtest.FreePort()
	must(t, err)
	must(t, c.Resume(ctx, port))
	srv.stop(t)
	srv2 := startServer(t, withVar(env, "HEROKU_POSTGRESQL_BLUE_URL", c.URL(remote.Owner, remote.Password, remote.Name)))
	goTo(t, page, srv2.URL+"/databases/DATABASE_URL/links/far")
	must(t, expect.Locator(page.GetByTestId("stale")).ToContainText(fmt.Sprintf("host/port changed from %s to 127.0.0.1:%d", oldHP, port)))
	clickButton(t, page, "repair")
	must(t, expect.Locator(page.GetByTestId("repair-sql")).ToHaveText(fmt.Sprintf(`ALTER SERVER "far" OPTIONS (SET port '%d');`, port)))
	clickButton(t, page, "repair-submit")
	must(t, expect.Locator(page.GetByTestId("flash-success")).ToContainText("It is healthy"))
	must(t, expect.Locator(page.GetByTestId("health").GetByTestId("health-badge")).ToHaveText("healthy"))
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM far.customers"); n != 2 {
		t.Fatalf("customers after failover repair: %d", n)
	}
}
