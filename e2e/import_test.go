package e2e

import (
	"strings"
	"testing"

	"github.com/playwright-community/playwright-go"
)

// An admin's LIMIT TO link takes on more of its remote's tables: ticked on
// the link page's drift section, confirmed on a page that shows the exact
// SQL (the enum the table needs comes along), applied, and queried.
func TestDriftImportMoreTables(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	srv := startServer(t, f.env)
	page := newSizedPage(t, 1280) // axe-core needs the CSP bypassed
	page.On("dialog", func(d playwright.Dialog) {
		t.Errorf("a dialog opened (%q): remote names were not escaped", d.Message())
		d.Dismiss()
	})
	goTo(t, page, srv.URL+"/links/new?remote=HEROKU_POSTGRESQL_BLUE_URL&local=DATABASE_URL")
	signIn(t, page, srv.URL, f.adminEmail, f.adminPassword)
	must(t, page.Locator("#name").Fill("few"))
	must(t, page.GetByTestId("tables-some").Check())
	must(t, page.Locator(`[data-testid=remote-table][value="customers"]`).Check())
	must(t, page.GetByTestId("create").Click())
	must(t, expect.Locator(page.GetByTestId("flash-success")).ToContainText("Link few created"))

	// Nothing ticked: the choice comes back with the message next to it.
	goTo(t, page, srv.URL+"/databases/DATABASE_URL/links/few")
	form := page.GetByTestId("import-form")
	must(t, expect.Locator(form.Locator("label")).ToHaveText([]string{"<script>alert(1)</script>", "orders"}))
	screenshot(t, page, "import-link-page")
	must(t, form.GetByTestId("import-review").Click())
	must(t, expect.Locator(page.GetByTestId("error-tables")).ToContainText("Choose at least one table"))
	screenshot(t, page, "import-error")

	// Tick orders on the link page: the confirmation shows the SQL.
	goTo(t, page, srv.URL+"/databases/DATABASE_URL/links/few")
	must(t, form.Locator(`[data-testid=import-table][value="orders"]`).Check())
	must(t, form.GetByTestId("import-review").Click())
	confirm := page.GetByTestId("import-confirm")
	stmts, err := confirm.GetByTestId("sql-statement").AllInnerTexts()
	must(t, err)
	want := []string{
		`CREATE TYPE "public"."order_status" AS ENUM ('pending', 'paid', 'shipped');`,
		`IMPORT FOREIGN SCHEMA "public" LIMIT TO ("orders") FROM SERVER "few" INTO "few";`,
	}
	if strings.Join(stmts, "\n") != strings.Join(want, "\n") {
		t.Fatalf("confirmation SQL:\n%s", strings.Join(stmts, "\n"))
	}
	checkFits(t, page, "import confirmation")
	checkAxe(t, page, "import confirmation")
	screenshot(t, page, "import-confirm")
	must(t, page.SetViewportSize(390, 844))
	checkFits(t, page, "import confirmation at 390")
	screenshot(t, page, "import-confirm-390")
	must(t, page.SetViewportSize(1280, 860))

	must(t, confirm.GetByTestId("apply-import").Click())
	must(t, expect.Locator(page.GetByTestId("flash-success")).ToHaveText("Link few imports 1 more table: orders."))
	must(t, expect.Locator(page.GetByTestId("import-form").Locator("label")).ToHaveText([]string{"<script>alert(1)</script>"}))
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM few.orders"); n != 0 {
		t.Errorf("orders through the link: %d rows", n)
	}
	ddl := queryText(t, f.state.URL, "SELECT ddl FROM pglinks.audit WHERE action = 'link_import_tables' AND outcome = 'ok'")
	if ddl != strings.Join(want, "\n") {
		t.Errorf("audit DDL:\n%s", ddl)
	}
	must(t, page.SetViewportSize(390, 844))
	checkFits(t, page, "link page with the import form at 390")
	screenshot(t, page, "import-link-page-390")
}
