package e2e

import (
	"os"
	"testing"

	"github.com/playwright-community/playwright-go"
)

// A new user finds the Heroku Connect schema on the inventory, links it
// into the app database in one step (mapped tables only, read-only), and
// sees which Salesforce writes failed and why, as text.
func TestConnectLinkShowsFailedWrites(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	sql, err := os.ReadFile("../internal/connect/testdata/salesforce.sql")
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, f.remote.URL, string(sql))
	// A failed write whose message is longer than the page shows.
	execSQL(t, f.remote.URL, `ALTER TABLE salesforce.opportunity ALTER COLUMN _hc_err TYPE text;
		INSERT INTO salesforce.opportunity (name, _hc_lastop, _hc_err) VALUES ('Long', 'FAILED', '{"op":"UPDATE","src":"SFDC","msg":"' || repeat('very long message ', 1000) || '"}')`)
	srv := startServer(t, f.env)
	page := newSizedPage(t, 1280) // CSP bypassed for the axe-core check
	page.On("dialog", func(d playwright.Dialog) {
		t.Errorf("a dialog opened (%q): a Salesforce message was not escaped", d.Message())
		d.Dismiss()
	})
	goTo(t, page, srv.URL+"/")
	signIn(t, page, srv.URL, f.adminEmail, f.adminPassword)
	card := page.GetByTestId("db-HEROKU_POSTGRESQL_BLUE_URL")
	must(t, expect.Locator(card.GetByTestId("connect-schema")).ToContainText("Heroku Connect schema salesforce: 3 mapped tables"))
	screenshot(t, page, "connect-inventory")

	must(t, card.GetByTestId("connect-link-it").Click())
	must(t, expect.Locator(page.Locator("#remote_schema option:checked")).ToHaveText("salesforce (Heroku Connect)"))
	must(t, expect.Locator(page.GetByTestId("connect-notice")).ToContainText("synced to Salesforce"))
	must(t, expect.Locator(page.GetByTestId("read-only")).ToBeChecked())
	must(t, expect.Locator(page.GetByTestId("tables-some")).ToBeChecked())
	for _, tbl := range []string{"account", "contact", "opportunity"} {
		must(t, expect.Locator(page.Locator(`[data-testid="remote-table"][value="`+tbl+`"]`)).ToBeChecked())
	}
	for _, tbl := range []string{"_hcmeta", "_trigger_log", "_trigger_log_archive", "notes"} {
		must(t, expect.Locator(page.Locator(`[data-testid="remote-table"][value="`+tbl+`"]`)).Not().ToBeChecked())
	}
	screenshot(t, page, "connect-create-form")
	_, err = page.Locator("#local").SelectOption(playwright.SelectOptionValues{Values: &[]string{"DATABASE_URL"}})
	must(t, err)
	// The name defaults to the Connect schema's, not the remote's random
	// resource name: left empty, the link is called salesforce.
	must(t, expect.Locator(page.Locator("#name")).ToHaveAttribute("placeholder", "salesforce"))
	must(t, expect.Locator(page.Locator("#name")).ToHaveValue(""))
	must(t, page.GetByTestId("create").Click())
	must(t, expect.Locator(page.GetByTestId("flash-success")).ToContainText("Link salesforce created in DATABASE_URL with 3 foreign tables"))

	sec := page.GetByTestId("connect")
	must(t, expect.Locator(sec).ToContainText("own connection (not through the link)"))
	must(t, expect.Locator(sec.GetByTestId("connect-table-name")).ToHaveText([]string{"account", "contact", "opportunity"}))
	must(t, expect.Locator(sec.GetByTestId("connect-table").First().GetByTestId("count-FAILED")).ToHaveText("FAILED1"))
	must(t, expect.Locator(sec.GetByTestId("connect-table").First().GetByTestId("count-PENDING")).ToHaveText("PENDING1"))
	must(t, expect.Locator(sec.GetByTestId("connect-err-msg")).ToHaveText(`REQUIRED_FIELD_MISSING: <b>Name</b> "quoted" & <script>alert(1)</script>`))
	must(t, expect.Locator(sec.GetByTestId("connect-err-raw").First()).ToHaveText(`{"op":"UPDATE","src":"SFDC",<i>not json`))
	must(t, expect.Locator(sec.GetByTestId("connect-log-msg")).ToHaveText([]string{
		"FIELD_CUSTOM_VALIDATION_EXCEPTION: Email is invalid",
		`REQUIRED_FIELD_MISSING: <img src=x onerror=alert(1)> "Name"`,
	}))
	must(t, expect.Locator(sec.GetByTestId("connect-system-columns").First()).ToContainText("sfid"))
	must(t, sec.ScrollIntoViewIfNeeded())
	screenshot(t, page, "connect-link-page")
	must(t, page.SetViewportSize(390, 844))
	must(t, sec.ScrollIntoViewIfNeeded())
	screenshot(t, page, "connect-link-page-390")
	must(t, page.SetViewportSize(1280, 900))

	// The long message is cut on the page and shown whole on its own.
	must(t, expect.Locator(sec.GetByTestId("connect-message-cut")).ToContainText("the first 250 characters of 17.6 kB"))
	must(t, sec.GetByTestId("connect-message-more").Click())
	must(t, expect.Locator(page.GetByTestId("connect-message")).ToContainText(`"msg":"very long message very long message`))
	must(t, expect.Locator(page.GetByTestId("connect-message")).ToContainText(`very long message "}`))
	checkFits(t, page, "connect-message")
	checkAxe(t, page, "connect-message")
	checkBreadcrumbs(t, page, "connect-message")
	screenshot(t, page, "connect-message")
}
