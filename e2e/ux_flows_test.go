package e2e

import (
	"encoding/csv"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"
)

func selectValue(t *testing.T, page playwright.Page, sel, value string) {
	t.Helper()
	_, err := page.Locator(sel).SelectOption(playwright.SelectOptionValues{Values: &[]string{value}})
	must(t, err)
}

// TestCreateFormGuidesANewcomer: unsupported locals are marked, the
// default name is shown, a bad name gets a suggestion and accessible
// errors, a second link from the same remote warns by name, and a server
// refusal shows the inventory's fix.
func TestCreateFormGuidesANewcomer(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	srv := startServer(t, f.env)
	page := newSizedPage(t, 390)
	goTo(t, page, srv.URL+"/links/new")
	signIn(t, page, srv.URL, f.adminEmail, f.adminPassword)
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/links/new"))

	white := page.Locator(`#local option[value="HEROKU_POSTGRESQL_WHITE_URL"]`)
	must(t, expect.Locator(white).ToBeDisabled())
	must(t, expect.Locator(white).ToContainText("links not supported"))
	must(t, expect.Locator(page.GetByTestId("unsupported-locals")).ToContainText("A superuser can run"))
	must(t, expect.Locator(page.Locator(`#local option[value="DATABASE_URL"]`)).ToBeEnabled())

	selectValue(t, page, "#remote", "HEROKU_POSTGRESQL_BLUE_URL")
	selectValue(t, page, "#local", "DATABASE_URL")
	must(t, expect.Locator(page.Locator("#name")).ToHaveAttribute("placeholder", "colorful_33594"))

	// A bad name: accessible error, focused summary, a suggestion.
	must(t, page.Locator("#name").Fill("Shop-Orders"))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create link"}).Click())
	must(t, expect.Locator(page.GetByTestId("error-name")).ToBeVisible())
	must(t, expect.Locator(page.Locator("#name")).ToHaveAttribute("aria-invalid", "true"))
	must(t, expect.Locator(page.Locator("#name")).ToHaveAttribute("aria-describedby", regexp.MustCompile(`\bname-error\b`)))
	must(t, expect.Locator(page.Locator("#name-error")).ToHaveText(regexp.MustCompile(`lowercase letters`)))
	must(t, expect.Locator(page.GetByTestId("error-summary")).ToBeFocused())
	must(t, expect.Locator(page.GetByTestId("name-suggestion")).ToContainText("shop_orders"))
	must(t, page.GetByTestId("name-suggestion").GetByRole("button").Click())
	must(t, expect.Locator(page.Locator("#name")).ToHaveValue("shop_orders"))
	checkFits(t, page, "create form with errors")
	screenshot(t, page, "ux-create-error-390")

	// Left empty, the short default name is used.
	must(t, page.Locator("#name").Fill(""))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create link"}).Click())
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/databases/DATABASE_URL/links/colorful_33594"))

	// The same remote into the same local again: warned, naming the link.
	goTo(t, page, srv.URL+"/links/new")
	selectValue(t, page, "#remote", "HEROKU_POSTGRESQL_BLUE_URL")
	selectValue(t, page, "#local", "DATABASE_URL")
	must(t, expect.Locator(page.GetByTestId("duplicate-hint")).ToContainText("colorful_33594"))
	must(t, page.Locator("#name").Fill("crm_again"))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create link"}).Click())
	must(t, expect.Locator(page.GetByTestId("duplicate-confirm")).ToContainText("colorful_33594"))
	must(t, expect.Locator(page.GetByTestId("duplicate-hint")).ToBeHidden()) // one warning, not two
	if n := countLinkObjects(t, f.local.URL, "crm_again"); n != 0 {
		t.Fatalf("a duplicate was created before confirming: %d objects", n)
	}
	screenshot(t, page, "ux-create-duplicate-390")
	must(t, page.GetByTestId("duplicate-ok").Check())
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create link"}).Click())
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/databases/DATABASE_URL/links/crm_again"))

	// A local without support, forced past the disabled option: the
	// server's refusal carries the inventory's fix.
	goTo(t, page, srv.URL+"/links/new")
	selectValue(t, page, "#remote", "HEROKU_POSTGRESQL_BLUE_URL")
	_, err := page.Locator("#local").Evaluate(`s => { const o = s.querySelector('option[value="HEROKU_POSTGRESQL_WHITE_URL"]'); o.disabled = false; s.value = o.value; }`, nil)
	must(t, err)
	must(t, page.Locator("#name").Fill("nope"))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create link"}).Click())
	must(t, expect.Locator(page.GetByTestId("error-local")).ToContainText("A superuser can run: CREATE EXTENSION postgres_fdw"))
}

// TestLinkAndDestroyPages: every breadcrumb is a link, the link page links
// to its history, the destroy page explains a wrong name as it is typed and
// on Enter, and Cancel goes back to the link.
func TestLinkAndDestroyPages(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	srv := startServer(t, f.env)
	page := newSizedPage(t, 1280)
	goTo(t, page, srv.URL+"/login")
	signIn(t, page, srv.URL, f.adminEmail, f.adminPassword)
	createLinkUI(t, page, srv.URL, "HEROKU_POSTGRESQL_BLUE_URL", "DATABASE_URL", "sales")

	crumbs := page.GetByTestId("breadcrumbs").Locator("a")
	must(t, expect.Locator(crumbs).ToHaveCount(3))
	must(t, expect.Locator(crumbs.Nth(1)).ToHaveAttribute("href", "/#db-DATABASE_URL"))
	must(t, crumbs.Nth(1).Click())
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/#db-DATABASE_URL"))
	must(t, expect.Locator(page.Locator("#db-DATABASE_URL")).ToBeInViewport())

	goTo(t, page, srv.URL+"/databases/DATABASE_URL/links/sales")
	must(t, page.GetByTestId("link-history").Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/audit\?target=%22DATABASE_URL%2Fsales%22$`)))
	must(t, expect.Locator(page.GetByTestId("audit-row")).ToHaveCount(1))
	must(t, expect.Locator(page.GetByTestId("audit-row").GetByTestId("audit-action")).ToHaveText("Created a link"))
	must(t, expect.Locator(page.GetByTestId("audit-row")).ToHaveAttribute("data-action", "link_create"))

	goTo(t, page, srv.URL+"/databases/DATABASE_URL/links/sales/destroy")
	must(t, expect.Locator(page.GetByTestId("breadcrumbs").Locator("a")).ToHaveCount(4))
	confirm := page.Locator("#confirm")
	hint := page.GetByTestId("confirm-hint")
	must(t, confirm.Fill("sal"))
	must(t, expect.Locator(hint).ToHaveText("Keep typing: sales."))
	must(t, confirm.Fill("Sales"))
	must(t, expect.Locator(hint).ToContainText("case-sensitive"))
	must(t, confirm.Fill("sails"))
	must(t, expect.Locator(hint).ToContainText("does not match the link name sales"))
	must(t, expect.Locator(confirm).ToHaveAttribute("aria-invalid", "true"))
	must(t, confirm.Press("Enter"))
	must(t, expect.Locator(hint).ToContainText("does not match"))
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/databases/DATABASE_URL/links/sales/destroy"))
	if n := countLinkObjects(t, f.local.URL, "sales"); n != 3 {
		t.Fatalf("a wrong name changed the catalog: %d", n)
	}
	screenshot(t, page, "ux-destroy-mismatch-1280")
	// The server keeps its own check and message.
	_, err := page.Locator("[data-testid=destroy-form]").Evaluate("form => form.submit()", nil)
	must(t, err)
	must(t, expect.Locator(page.GetByTestId("error-confirm")).ToContainText("does not match"))
	must(t, expect.Locator(confirm).ToHaveAttribute("aria-describedby", regexp.MustCompile(`\bconfirm-error\b`)))

	must(t, page.GetByTestId("cancel").Click())
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/databases/DATABASE_URL/links/sales"))
	if n := countLinkObjects(t, f.local.URL, "sales"); n != 3 {
		t.Fatalf("cancel changed the catalog: %d", n)
	}
}

// TestUsersAndAccount: remove asks first, an admin resets a password (asked
// first, shown once, in the one notice area, with a copy button), a user
// changes their own, and last sign-in is shown.
func TestUsersAndAccount(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	srv := startServer(t, f.env)
	page := newSizedPage(t, 390)
	goTo(t, page, srv.URL+"/login")
	signIn(t, page, srv.URL, f.adminEmail, f.adminPassword)
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/"))
	goTo(t, page, srv.URL+"/users")
	viewerRow := page.GetByTestId("user-" + f.viewerEmail)
	must(t, expect.Locator(viewerRow.GetByTestId("last-sign-in")).ToContainText("never"))
	must(t, expect.Locator(page.GetByTestId("user-"+f.adminEmail).GetByTestId("last-sign-in")).ToContainText(time.Now().UTC().Format("2006-01-02")))

	// Remove asks first; Cancel keeps the user.
	must(t, viewerRow.GetByTestId("remove-user").Click())
	must(t, expect.Locator(page.GetByTestId("remove-user-confirm")).ToContainText(f.viewerEmail))
	checkFits(t, page, "remove user")
	must(t, page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Cancel"}).Click())
	must(t, expect.Locator(viewerRow).ToBeVisible())

	// Reset: a confirmation first, then the new password, shown once above
	// the heading with a copy button.
	must(t, viewerRow.GetByTestId("reset-password").Click())
	must(t, expect.Locator(page.GetByTestId("reset-password-confirm")).ToContainText(f.viewerEmail))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Reset password"}).Click())
	notice := page.GetByTestId("notices").GetByTestId("new-password")
	must(t, expect.Locator(notice).ToContainText(f.viewerEmail))
	must(t, expect.Locator(notice.GetByTestId("copy-password")).ToBeVisible())
	newPassword, err := notice.GetByTestId("new-password-value").TextContent()
	must(t, err)
	newPassword = strings.TrimSpace(newPassword)
	above, err := page.Evaluate(`() => !!(document.querySelector("[data-testid=notices]").compareDocumentPosition(document.querySelector("h1")) & Node.DOCUMENT_POSITION_FOLLOWING)`)
	must(t, err)
	if above != true {
		t.Error("the new-password notice is not above the heading")
	}
	checkFits(t, page, "users with notice")
	screenshot(t, page, "ux-users-reset-390")

	viewer := newSizedPage(t, 390)
	goTo(t, viewer, srv.URL+"/login")
	signIn(t, viewer, srv.URL, f.viewerEmail, f.viewerPassword)
	must(t, expect.Locator(viewer.GetByTestId("login-error")).ToBeVisible())
	signIn(t, viewer, srv.URL, f.viewerEmail, newPassword)
	must(t, expect.Page(viewer).ToHaveURL(srv.URL+"/"))

	// The viewer changes their own password.
	must(t, viewer.GetByTestId("account-link").Click())
	must(t, viewer.Locator("#current").Fill("not my password at all"))
	must(t, viewer.Locator("#new").Fill("a brand new passphrase"))
	must(t, viewer.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Change password"}).Click())
	must(t, expect.Locator(viewer.GetByTestId("error-current")).ToBeVisible())
	must(t, expect.Locator(viewer.Locator("#current")).ToHaveAttribute("aria-invalid", "true"))
	must(t, expect.Locator(viewer.GetByTestId("error-summary")).ToBeFocused())
	must(t, viewer.Locator("#current").Fill(newPassword))
	must(t, viewer.Locator("#new").Fill("a brand new passphrase"))
	must(t, viewer.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Change password"}).Click())
	must(t, expect.Locator(viewer.GetByTestId("flash-success")).ToContainText("Your password is changed"))
	goTo(t, viewer, srv.URL+"/")
	must(t, expect.Page(viewer).ToHaveURL(srv.URL+"/")) // still signed in

	goTo(t, page, srv.URL+"/users")
	must(t, expect.Locator(viewerRow.GetByTestId("last-sign-in")).ToContainText(time.Now().UTC().Format("2006-01-02")))
	// Remove, confirmed.
	must(t, viewerRow.GetByTestId("remove-user").Click())
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Remove user"}).Click())
	must(t, expect.Locator(page.GetByTestId("flash-success")).ToContainText("Removed "+f.viewerEmail))
	must(t, expect.Locator(viewerRow).ToHaveCount(0))

	goTo(t, page, srv.URL+"/audit?action=password_change")
	must(t, expect.Locator(page.GetByTestId("audit-row")).ToHaveCount(2))
	goTo(t, page, srv.URL+"/audit?action=password_reset")
	must(t, expect.Locator(page.GetByTestId("audit-row")).ToHaveCount(1))
}

// TestAuditFiltersAndExport: a bad filter shows the audit page with the
// error, dates narrow the trail, and the CSV export defuses formulas.
func TestAuditFiltersAndExport(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	srv := startServer(t, f.env)
	page := newSizedPage(t, 1280)
	goTo(t, page, srv.URL+"/login")
	// A failed sign-in puts attacker-chosen text in the trail.
	signIn(t, page, srv.URL, "=1+2@x.io", "whatever password")
	must(t, expect.Locator(page.GetByTestId("login-error")).ToBeVisible())
	signIn(t, page, srv.URL, f.adminEmail, f.adminPassword)
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/"))

	resp, err := page.Goto(srv.URL + "/audit?action=bogus")
	must(t, err)
	if resp.Status() != 422 {
		t.Errorf("unknown action: status %d, want 422", resp.Status())
	}
	must(t, expect.Locator(page.GetByTestId("audit-filter")).ToBeVisible())
	must(t, expect.Locator(page.GetByTestId("error-action")).ToContainText("Unknown action"))
	must(t, expect.Locator(page.GetByTestId("audit-row").First()).ToBeVisible())
	must(t, expect.Locator(page.GetByTestId("error-page")).ToHaveCount(0))

	today := time.Now().UTC().Format("2006-01-02")
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	goTo(t, page, srv.URL+"/audit")
	must(t, page.Locator("#from").Fill(tomorrow))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Filter"}).Click())
	must(t, expect.Locator(page.GetByTestId("audit-empty")).ToBeVisible())
	must(t, page.Locator("#from").Fill(today))
	must(t, page.Locator("#to").Fill(today))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Filter"}).Click())
	must(t, expect.Locator(page.GetByTestId("audit-row").First()).ToBeVisible())
	goTo(t, page, srv.URL+"/audit?from="+tomorrow+"&to="+today)
	must(t, expect.Locator(page.GetByTestId("error-to")).ToContainText("before the start date"))

	// On a phone: the sign-ins fold into one line between the changes,
	// which opens to list them, each row compact; actions in words in
	// the filter too.
	phone := newSizedPage(t, 390)
	goTo(t, phone, srv.URL+"/login")
	signIn(t, phone, srv.URL, f.adminEmail, f.adminPassword)
	must(t, expect.Page(phone).ToHaveURL(srv.URL+"/"))
	goTo(t, phone, srv.URL+"/audit")
	fold := phone.GetByTestId("audit-fold")
	must(t, expect.Locator(fold).ToHaveCount(1))
	must(t, expect.Locator(fold.GetByTestId("audit-fold-summary")).ToHaveText("2 sign-ins and 1 failed sign-in by 2 users"))
	must(t, expect.Locator(fold.GetByTestId("audit-folded").First()).ToBeHidden())
	must(t, fold.Locator("summary").Click())
	must(t, expect.Locator(fold.GetByTestId("audit-folded")).ToHaveCount(3))
	must(t, expect.Locator(fold.Locator("[data-action=login_failed]")).ToContainText("Sign-in failed"))
	must(t, expect.Locator(phone.Locator(`#action option[value="link_import_tables_refused"]`)).ToHaveText("Table import refused"))
	must(t, expect.Locator(phone.GetByTestId("audit-row").First().GetByTestId("audit-action")).ToHaveText("Added a user"))
	checkFits(t, phone, "audit with sign-ins folded")
	checkControlsInView(t, phone, "audit with sign-ins folded")
	checkAxe(t, phone, "audit with sign-ins folded")
	screenshot(t, phone, "ux-audit-folded-390")

	res, err := page.Context().Request().Get(srv.URL + "/audit.csv?action=login_failed")
	must(t, err)
	if ct := res.Headers()["content-type"]; !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("CSV content type %q", ct)
	}
	body, err := res.Text()
	must(t, err)
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v\n%s", err, body)
	}
	if len(rows) != 2 || rows[0][0] != "id" || rows[1][3] != "login_failed" {
		t.Fatalf("CSV rows: %q", rows)
	}
	if got := rows[1][4]; got != `'=1+2@x.io` {
		t.Errorf("formula cell not defused: %q", got)
	}
	must(t, expect.Locator(page.GetByTestId("audit-csv")).ToHaveAttribute("href", regexp.MustCompile(`^/audit\.csv\?`)))
}

// The create form keeps what was chosen: ticking a table chooses "Only the
// tables chosen below", the remote list marks the unreachable database as
// the local list does, and after a name error the "Create another link
// anyway" tick and the tables stay as they were.
func TestCreateFormKeepsWhatWasChosen(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	srv := startServer(t, f.env)
	page := newSizedPage(t, 390)
	goTo(t, page, srv.URL+"/login")
	signIn(t, page, srv.URL, f.adminEmail, f.adminPassword)
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/"))
	createLinkUI(t, page, srv.URL, "HEROKU_POSTGRESQL_BLUE_URL", "DATABASE_URL", "sales")

	goTo(t, page, srv.URL+"/links/new?local=DATABASE_URL&remote=HEROKU_POSTGRESQL_BLUE_URL")
	for _, list := range []string{"#remote", "#local"} {
		gray := page.Locator(list + ` option[value="HEROKU_POSTGRESQL_GRAY_URL"]`)
		must(t, expect.Locator(gray).ToBeDisabled())
		must(t, expect.Locator(gray).ToContainText("— unreachable"))
	}
	must(t, expect.Locator(page.GetByTestId("unusable-remotes")).ToContainText("HEROKU_POSTGRESQL_GRAY_URL: unreachable"))
	must(t, expect.Locator(page.Locator(`#remote option[value="HEROKU_POSTGRESQL_WHITE_URL"]`)).ToBeEnabled()) // a remote needs no postgres_fdw

	must(t, expect.Locator(page.GetByTestId("tables-all")).ToBeChecked())
	must(t, page.Locator(`[data-testid=remote-table][value="customers"]`).Check())
	must(t, expect.Locator(page.GetByTestId("tables-some")).ToBeChecked())
	checkFits(t, page, "create form, a table ticked")
	checkControlsInView(t, page, "create form, a table ticked")
	screenshot(t, page, "ux-create-ticked-390")

	must(t, page.Locator("#name").Fill("Bad-Name"))
	must(t, page.GetByTestId("create").Click())
	must(t, expect.Locator(page.GetByTestId("duplicate-confirm")).ToContainText("sales"))
	must(t, page.GetByTestId("duplicate-ok").Check())
	must(t, page.GetByTestId("create").Click())
	must(t, expect.Locator(page.GetByTestId("error-name")).ToBeVisible())
	must(t, expect.Locator(page.GetByTestId("duplicate-ok")).ToBeChecked())
	must(t, expect.Locator(page.GetByTestId("tables-some")).ToBeChecked())
	must(t, expect.Locator(page.Locator(`[data-testid=remote-table][value="customers"]`)).ToBeChecked())
	checkFits(t, page, "create form, name error after the duplicate tick")
	checkControlsInView(t, page, "create form, name error after the duplicate tick")
	checkAxe(t, page, "create form, name error after the duplicate tick")
	screenshot(t, page, "ux-create-name-error-kept-390")

	must(t, page.Locator("#name").Fill("few"))
	must(t, page.GetByTestId("create").Click())
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/databases/DATABASE_URL/links/few"))
	must(t, expect.Locator(page.Locator("body")).ToContainText("1 chosen table (LIMIT TO)"))
}
