package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/playwright-community/playwright-go"
)

// queryText reads one text value.
func queryText(t *testing.T, url, sql string, args ...any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, sql, args...).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// A new user adds a table on the remote, sees it as drift on the link page,
// previews and applies the refresh, and queries the new table through the
// link, with no destroy.
func TestLinkFollowsItsRemote(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	hostileSchema := `Sales "Q1" <b>x</b>`
	long63 := "T" + strings.Repeat("x", 61) + "Z"
	execSQL(t, f.remote.URL, `CREATE SCHEMA "Sales ""Q1"" <b>x</b>";
		CREATE TABLE "Sales ""Q1"" <b>x</b>"."Mixed'Case" (id int);
		CREATE TABLE "Sales ""Q1"" <b>x</b>"."`+long63+`" (id int)`)
	srv := startServer(t, f.env)
	page := newPage(t)
	page.On("dialog", func(d playwright.Dialog) {
		t.Errorf("a dialog opened (%q): remote names were not escaped", d.Message())
		d.Dismiss()
	})
	goTo(t, page, srv.URL+"/links/new?remote=HEROKU_POSTGRESQL_BLUE_URL&local=DATABASE_URL")
	signIn(t, page, srv.URL, f.adminEmail, f.adminPassword)

	// The GET round trip lists the remote's schemas (public chosen) and tables.
	must(t, expect.Locator(page.Locator("#remote_schema")).ToHaveValue("public"))
	must(t, expect.Locator(page.Locator("#remote_schema option")).ToContainText([]string{hostileSchema, "public"}))
	must(t, expect.Locator(page.GetByTestId("remote-tables")).ToContainText("<script>alert(1)</script>"))
	must(t, expect.Locator(page.GetByTestId("remote-table")).ToHaveCount(3))

	// Another schema, chosen without JavaScript: "Load tables" posts back.
	_, err := page.Locator("#remote_schema").SelectOption(playwright.SelectOptionValues{Values: &[]string{hostileSchema}})
	must(t, err)
	must(t, page.GetByTestId("load-tables").Click())
	must(t, expect.Locator(page.GetByTestId("remote-tables").Locator("label")).ToHaveText([]string{"Mixed'Case", long63}))
	screenshot(t, page, "create-form-tables")

	// A tampered table name: clear message, nothing created.
	must(t, page.Locator("#name").Fill("q1"))
	must(t, page.GetByTestId("tables-some").Check())
	must(t, page.GetByTestId("remote-table").First().Check())
	_, err = page.GetByTestId("remote-table").First().Evaluate(`el => el.value = "nope<b>"`, nil)
	must(t, err)
	must(t, page.GetByTestId("create").Click())
	must(t, expect.Locator(page.GetByTestId("error-tables")).ToContainText(`no table "nope<b>"`))
	if n := countLinkObjects(t, f.local.URL, "q1"); n != 0 {
		t.Fatalf("a tampered form created %d objects", n)
	}

	// LIMIT TO the hostile names, then preview: every statement, no password.
	must(t, page.GetByTestId("tables-some").Check())
	must(t, page.GetByTestId("remote-table").Last().Check())
	must(t, page.GetByTestId("preview").Click())
	must(t, expect.Locator(page.GetByTestId("preview-tables")).ToHaveText(long63))
	stmts, err := page.GetByTestId("sql-statement").AllInnerTexts()
	must(t, err)
	last := stmts[len(stmts)-1]
	if want := `IMPORT FOREIGN SCHEMA "Sales ""Q1"" <b>x</b>" LIMIT TO ("` + long63 + `") FROM SERVER "q1" INTO "q1";`; last != want {
		t.Errorf("import = %s", last)
	}
	screenshot(t, page, "create-preview-limit")
	must(t, page.GetByTestId("create").Click())
	must(t, expect.Locator(page.GetByTestId("flash-success")).ToContainText("Link q1 created in DATABASE_URL with 1 foreign tables"))

	// The crm link: every table of public, read-only, previewed first.
	goTo(t, page, srv.URL+"/links/new?remote=HEROKU_POSTGRESQL_BLUE_URL&local=DATABASE_URL")
	must(t, page.Locator("#name").Fill("crm"))
	must(t, page.GetByTestId("read-only").Check())
	must(t, page.GetByTestId("preview").Click())
	// A second link from the same remote: the form warns and asks first,
	// and the confirmation rides through the preview to the create.
	must(t, expect.Locator(page.GetByTestId("duplicate-ok")).ToBeVisible())
	must(t, page.GetByTestId("duplicate-ok").Check())
	must(t, page.GetByTestId("preview").Click())
	must(t, expect.Locator(page.GetByTestId("create-preview")).ToContainText("password '***'"))
	must(t, expect.Locator(page.GetByTestId("create-preview")).ToContainText("updatable 'false'"))
	must(t, expect.Locator(page.GetByTestId("preview-tables").Locator("li")).ToHaveCount(3))
	html, _ := page.Content()
	if strings.Contains(html, f.remote.Password) {
		t.Fatal("the preview renders the remote's password")
	}
	stmts, err = page.GetByTestId("sql-statement").AllInnerTexts()
	must(t, err)
	screenshot(t, page, "create-preview")
	must(t, page.GetByTestId("create").Click())
	must(t, expect.Locator(page.GetByTestId("flash-success")).ToContainText("Link crm created"))
	ddl := queryText(t, f.state.URL, "SELECT ddl FROM pglinks.audit WHERE action = 'link_create' AND outcome = 'ok' AND target = 'DATABASE_URL/crm'")
	if ddl != strings.Join(stmts, "\n") {
		t.Errorf("audit DDL differs from the preview:\n%s\n---\n%s", ddl, strings.Join(stmts, "\n"))
	}
	must(t, expect.Locator(page.Locator("main")).ToContainText("read-only"))
	must(t, expect.Locator(page.GetByTestId("in-step")).ToContainText("In step with the remote (checked"))

	// Local objects on the link, then the remote moves on.
	execSQL(t, f.local.URL, `CREATE VIEW public.names AS SELECT name FROM crm.customers;
		CREATE VIEW public.scripted AS SELECT * FROM crm."<script>alert(1)</script>";
		CREATE TABLE public.mine (s public.order_status)`)
	execSQL(t, f.remote.URL, `CREATE TABLE tickets (id int, "<img src=y onerror=alert(3)>" text); INSERT INTO tickets VALUES (1, 'help');
		ALTER TABLE customers ADD COLUMN phone text, ADD COLUMN "<img src=z onerror=alert(4)>" int;
		ALTER TABLE customers RENAME COLUMN email TO email_address;
		ALTER TABLE orders ALTER COLUMN customer_id TYPE bigint;
		DROP TABLE "<script>alert(1)</script>"`)
	goTo(t, page, srv.URL+"/databases/DATABASE_URL/links/crm")
	drift := page.GetByTestId("drift")
	must(t, expect.Locator(drift.GetByTestId("drift-new-tables")).ToContainText("tickets"))
	must(t, expect.Locator(drift.GetByTestId("drift-gone-tables")).ToContainText("<script>alert(1)</script>"))
	must(t, expect.Locator(drift.GetByTestId("col-added")).ToContainText([]string{"email_address", "phone", "<img src=z onerror=alert(4)>"}))
	must(t, expect.Locator(drift.GetByTestId("col-gone")).ToContainText("email"))
	must(t, expect.Locator(drift.GetByTestId("col-type")).ToContainText("integer → bigint"))
	screenshot(t, page, "link-drift")

	// The confirmation names the view the gone table takes with it.
	must(t, drift.GetByTestId("refresh").Click())
	confirm := page.GetByTestId("refresh-confirm")
	must(t, expect.Locator(confirm.GetByTestId("refresh-summary")).ToHaveText("1 table added, 5 columns changed, 1 table removed"))
	must(t, expect.Locator(confirm.GetByTestId("dependent")).ToHaveText("view public.scripted"))
	must(t, expect.Locator(confirm).ToContainText(`DROP FOREIGN TABLE "crm"."<script>alert(1)</script>" CASCADE;`))
	screenshot(t, page, "refresh-confirm")
	must(t, page.SetViewportSize(390, 844))
	screenshot(t, page, "refresh-confirm-390")
	goTo(t, page, srv.URL+"/databases/DATABASE_URL/links/crm")
	screenshot(t, page, "link-drift-390")
	goTo(t, page, srv.URL+"/links/new?remote=HEROKU_POSTGRESQL_BLUE_URL&local=DATABASE_URL")
	screenshot(t, page, "create-form-390")
	must(t, page.SetViewportSize(1280, 900))
	goTo(t, page, srv.URL+"/databases/DATABASE_URL/links/crm/refresh")
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_views WHERE viewname = 'scripted'"); n != 1 {
		t.Fatal("the confirmation page dropped the view")
	}

	// The remote moves again before the POST: refused, the new plan shown.
	execSQL(t, f.remote.URL, "CREATE TABLE late (x int)")
	must(t, page.GetByTestId("apply-refresh").Click())
	must(t, expect.Locator(page.GetByTestId("form-error")).ToContainText("changed since the confirmation page was shown"))
	must(t, expect.Locator(confirm.GetByTestId("refresh-summary")).ToHaveText("2 tables added, 5 columns changed, 1 table removed"))
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_class WHERE relname IN ('tickets', 'late') OR relname = 'scripted'"); n != 1 {
		t.Fatalf("a refused refresh changed the catalog (%d)", n)
	}
	must(t, page.GetByTestId("apply-refresh").Click())
	must(t, expect.Locator(page.GetByTestId("flash-success")).ToHaveText("Link crm refreshed: 2 tables added, 5 columns changed, 1 table removed."))
	must(t, expect.Locator(page.GetByTestId("in-step")).ToBeVisible())
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM crm.tickets WHERE id = 1"); n != 1 {
		t.Errorf("tickets through the link: %d", n)
	}
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM crm.customers WHERE email_address = 'ada@example.com' AND phone IS NULL"); n != 1 {
		t.Errorf("customers through the link: %d", n)
	}
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM public.names"); n != 2 {
		t.Errorf("the view on an untouched column: %d rows", n)
	}
	screenshot(t, page, "link-refreshed")
	ddl = queryText(t, f.state.URL, "SELECT ddl FROM pglinks.audit WHERE action = 'link_refresh' AND outcome = 'ok'")
	if !strings.Contains(ddl, `IMPORT FOREIGN SCHEMA "public" LIMIT TO ("late", "tickets") FROM SERVER "crm" INTO "crm"`) {
		t.Errorf("refresh audit DDL:\n%s", ddl)
	}

	// Destroy: the copied enum is listed, and kept because mine uses it.
	goTo(t, page, srv.URL+"/databases/DATABASE_URL/links/crm/destroy")
	must(t, expect.Locator(page.GetByTestId("destroy-type")).ToContainText(`"public"."order_status": kept, still in use: column s of table public.mine`))
	screenshot(t, page, "destroy-types")
	must(t, page.Locator("#confirm").Fill("crm"))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Destroy link"}).Click())
	must(t, expect.Locator(page.GetByTestId("flash-success")).ToContainText(`Kept the enum type "public"."order_status"`))
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_type WHERE typname = 'order_status'"); n != 1 {
		t.Errorf("the used enum is gone (%d)", n)
	}
}
