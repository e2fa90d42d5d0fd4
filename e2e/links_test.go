package e2e

import (
	"regexp"
	"strings"
	"testing"

	"github.com/playwright-community/playwright-go"
)

func signIn(t *testing.T, page playwright.Page, base, email, password string) {
	t.Helper()
	must(t, page.Locator("#email").Fill(email))
	must(t, page.Locator("#password").Fill(password))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Sign in"}).Click())
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func goTo(t *testing.T, page playwright.Page, url string) {
	t.Helper()
	if _, err := page.Goto(url); err != nil {
		t.Fatal(err)
	}
}

// countLinkObjects counts the schema, server and user mapping named name.
func countLinkObjects(t *testing.T, url, name string) int {
	return queryInt(t, url, `SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = $1)
		+ (SELECT count(*) FROM pg_foreign_server WHERE srvname = $1)
		+ (SELECT count(*) FROM pg_user_mappings WHERE srvname = $1)`, name)
}

func TestAdminCreatesInspectsAndDestroysALink(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	srv := startServer(t, f.env)
	page := newPage(t)
	page.On("dialog", func(d playwright.Dialog) {
		t.Errorf("a dialog opened (%q): remote names were not escaped", d.Message())
		d.Dismiss()
	})

	// Anonymous visitors land on the sign-in page and come back after it.
	goTo(t, page, srv.URL+"/")
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/login\?next=%2F$`)))
	screenshot(t, page, "login")
	signIn(t, page, srv.URL, f.adminEmail, f.adminPassword)
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/"))

	// The inventory: one card per database, each in its state.
	local := page.GetByTestId("db-DATABASE_URL")
	must(t, expect.Locator(local.GetByTestId("no-links")).ToHaveText("No data sources are linked into this database."))
	must(t, expect.Locator(local).ToContainText("postgresql-animate-91581"))
	must(t, expect.Locator(page.GetByTestId("db-HEROKU_POSTGRESQL_GRAY_URL").GetByTestId("status")).ToHaveText("unreachable"))
	must(t, expect.Locator(page.GetByTestId("db-HEROKU_POSTGRESQL_GRAY_URL").GetByTestId("db-error")).ToContainText("connection refused"))
	must(t, expect.Locator(page.GetByTestId("db-HEROKU_POSTGRESQL_WHITE_URL").GetByTestId("not-supported")).ToContainText("postgres_fdw"))
	must(t, expect.Locator(page.GetByTestId("db-HEROKU_POSTGRESQL_WHITE_URL").GetByTestId("new-link-here")).ToHaveCount(0))
	html, _ := page.Content()
	for _, secret := range []string{f.local.Password, f.remote.Password, f.nofdw.Password, "hunter2hunter2"} {
		if strings.Contains(html, secret) {
			t.Fatal("the inventory renders a password")
		}
	}
	screenshot(t, page, "inventory-empty")

	// A bad name: the form comes back with the input kept and the message
	// next to the field; nothing is created.
	must(t, page.GetByTestId("new-link").Click())
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/links/new"))
	_, err := page.Locator("#remote").SelectOption(playwright.SelectOptionValues{Values: &[]string{"HEROKU_POSTGRESQL_BLUE_URL"}})
	must(t, err)
	_, err = page.Locator("#local").SelectOption(playwright.SelectOptionValues{Values: &[]string{"DATABASE_URL"}})
	must(t, err)
	must(t, page.Locator("#name").Fill("Sales Data"))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create link"}).Click())
	must(t, expect.Locator(page.GetByTestId("error-name")).ToContainText("lowercase letters, digits and underscores"))
	must(t, expect.Locator(page.Locator("#name")).ToHaveValue("Sales Data"))
	must(t, expect.Locator(page.Locator("#remote")).ToHaveValue("HEROKU_POSTGRESQL_BLUE_URL"))
	screenshot(t, page, "create-form-error")

	// Create it for real.
	must(t, page.Locator("#name").Fill("sales"))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create link"}).Click())
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/databases/DATABASE_URL/links/sales"))
	must(t, expect.Locator(page.GetByTestId("flash-success")).ToContainText("Link sales created in DATABASE_URL with 3 foreign tables"))
	if n := countLinkObjects(t, f.local.URL, "sales"); n != 3 {
		t.Fatalf("catalog after create: %d of schema/server/mapping, want 3", n)
	}
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM sales.customers"); n != 2 {
		t.Fatalf("querying through the link: %d rows, want 2", n)
	}

	// \det sales.*: hostile remote names are shown as text.
	names := page.GetByTestId("table-name")
	must(t, expect.Locator(names).ToHaveText([]string{"<script>alert(1)</script>", "customers", "orders"}))
	must(t, expect.Locator(page.GetByTestId("foreign-tables")).ToContainText("<img src=x onerror=alert(2)>"))
	must(t, expect.Locator(page.GetByTestId("foreign-tables")).ToContainText("order_status"))
	screenshot(t, page, "link-tables")

	// Back on the inventory the link is listed with its remote.
	goTo(t, page, srv.URL+"/")
	row := page.GetByTestId("link-sales")
	must(t, expect.Locator(row).ToContainText("HEROKU_POSTGRESQL_BLUE_URL"))
	must(t, expect.Locator(row).ToContainText("postgresql-colorful-33594"))
	screenshot(t, page, "inventory")

	// Destroy: a wrong name destroys nothing.
	must(t, row.GetByTestId("destroy").Click())
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/databases/DATABASE_URL/links/sales/destroy"))
	must(t, expect.Locator(page.GetByTestId("destroy-confirm")).ToContainText("the tables and views created within it"))
	must(t, expect.Locator(page.GetByTestId("destroy-confirm")).ToContainText("may break"))
	screenshot(t, page, "destroy-confirm")
	destroyButton := page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Destroy link"})
	must(t, page.Locator("#confirm").Fill("sale"))
	must(t, expect.Locator(destroyButton).ToHaveAttribute("aria-disabled", "true"))
	// The server checks too: submit the mismatch past the disabled button.
	_, err = page.Locator("[data-testid=destroy-form]").Evaluate("form => form.submit()", nil)
	must(t, err)
	must(t, expect.Locator(page.GetByTestId("error-confirm")).ToContainText("does not match"))
	if n := countLinkObjects(t, f.local.URL, "sales"); n != 3 {
		t.Fatalf("a wrong confirmation changed the catalog: %d objects left", n)
	}
	screenshot(t, page, "destroy-mismatch")

	// The right name destroys it.
	must(t, page.Locator("#confirm").Fill("sales"))
	must(t, expect.Locator(destroyButton).ToHaveAttribute("aria-disabled", "false"))
	must(t, destroyButton.Click())
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/"))
	must(t, expect.Locator(page.GetByTestId("flash-success")).ToContainText("Link sales destroyed"))
	must(t, expect.Locator(page.GetByTestId("db-DATABASE_URL").GetByTestId("no-links")).ToBeVisible())
	if n := countLinkObjects(t, f.local.URL, "sales"); n != 0 {
		t.Fatalf("catalog after destroy: %d objects left", n)
	}

	// The audit trail has all of it, passwords masked.
	goTo(t, page, srv.URL+"/audit")
	audit := page.GetByTestId("audit")
	// Actions in words, the stored action kept in the row's data-action.
	must(t, expect.Locator(audit.Locator("[data-action=link_create]").GetByTestId("audit-action")).ToHaveText("Created a link"))
	must(t, expect.Locator(audit.Locator("[data-action=link_destroy_refused]").GetByTestId("audit-action")).ToHaveText("Link destruction refused"))
	must(t, expect.Locator(audit).ToContainText("DROP SCHEMA \"sales\" CASCADE"))
	must(t, expect.Locator(audit).ToContainText("password '***'"))
	html, _ = page.Content()
	if strings.Contains(html, f.remote.Password) {
		t.Fatal("the audit page renders the remote's password")
	}
	screenshot(t, page, "audit")

	// Admins manage users in the UI; a new user's password is shown once.
	must(t, page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Users"}).Click())
	must(t, page.Locator("#email").Fill("ops@example.com"))
	_, err = page.Locator("#role").SelectOption(playwright.SelectOptionValues{Values: &[]string{"viewer"}})
	must(t, err)
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Add user"}).Click())
	must(t, expect.Locator(page.GetByTestId("new-password")).ToContainText("ops@example.com"))
	must(t, expect.Locator(page.GetByTestId("user-ops@example.com")).ToBeVisible())
	screenshot(t, page, "users")

	// Sign out ends the session.
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Sign out"}).Click())
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/login"))
	goTo(t, page, srv.URL+"/audit")
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/login\?next=`)))
}

func TestViewerSeesNoControls(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	execSQL(t, f.local.URL, "SELECT 1") // the fleet is up
	srv := startServer(t, f.env)

	// An admin makes a link first, so the viewer has something to look at.
	admin := newPage(t)
	goTo(t, admin, srv.URL+"/links/new")
	signIn(t, admin, srv.URL, f.adminEmail, f.adminPassword)
	_, err := admin.Locator("#remote").SelectOption(playwright.SelectOptionValues{Values: &[]string{"HEROKU_POSTGRESQL_BLUE_URL"}})
	must(t, err)
	_, err = admin.Locator("#local").SelectOption(playwright.SelectOptionValues{Values: &[]string{"DATABASE_URL"}})
	must(t, err)
	must(t, admin.Locator("#name").Fill("crm"))
	must(t, admin.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create link"}).Click())
	must(t, expect.Page(admin).ToHaveURL(srv.URL+"/databases/DATABASE_URL/links/crm"))

	page := newPage(t)
	goTo(t, page, srv.URL+"/")
	signIn(t, page, srv.URL, f.viewerEmail, f.viewerPassword)
	must(t, expect.Locator(page.GetByTestId("link-crm")).ToBeVisible())
	must(t, expect.Locator(page.GetByTestId("new-link")).ToHaveCount(0))
	must(t, expect.Locator(page.GetByTestId("destroy")).ToHaveCount(0))
	must(t, expect.Locator(page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Audit"})).ToHaveCount(0))
	screenshot(t, page, "viewer-inventory")

	must(t, page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "crm", Exact: playwright.Bool(true)}).Click())
	must(t, expect.Locator(page.GetByTestId("table-name")).ToHaveCount(3))
	must(t, expect.Locator(page.GetByTestId("destroy")).ToHaveCount(0))

	resp, err := page.Goto(srv.URL + "/databases/DATABASE_URL/links/crm/destroy")
	must(t, err)
	if resp.Status() != 403 {
		t.Fatalf("viewer GET destroy page: %d, want 403", resp.Status())
	}
	must(t, expect.Locator(page.GetByTestId("error-page")).ToContainText("Only admins"))
	screenshot(t, page, "viewer-forbidden")
	if n := countLinkObjects(t, f.local.URL, "crm"); n != 3 {
		t.Fatalf("catalog changed: %d", n)
	}
}
