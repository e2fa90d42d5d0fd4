package e2e

import (
	"strconv"
	"strings"
	"testing"
)

// An admin pastes a query whose condition uses pg_trgm's similarity():
// the result shows the remote SQL without it and the reason it stays
// local; the fix the page offers (list pg_trgm in the link's extensions)
// is previewed and applied, and the same query checked again is sent
// whole. Then EXPLAIN ANALYZE after its confirmation.
func TestQueryCheckFindsAndFixes(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	execSQL(t, f.remote.URL, "CREATE EXTENSION pg_trgm")
	execSQL(t, f.local.URL, "CREATE EXTENSION pg_trgm")
	srv := startServer(t, f.env)
	page := newSizedPage(t, 1280)
	goTo(t, page, srv.URL+"/login")
	signIn(t, page, srv.URL, f.adminEmail, f.adminPassword)
	createLinkUI(t, page, srv.URL, "HEROKU_POSTGRESQL_BLUE_URL", "DATABASE_URL", "crm")

	// The link page's Performance section sees the never-analyzed tables.
	perf := page.GetByTestId("performance")
	must(t, expect.Locator(perf.GetByTestId("advice-item").First()).ToContainText("planned blind"))
	must(t, page.GetByTestId("check-query").Click())

	const sql = "SELECT name, email FROM crm.customers WHERE similarity(name, 'Ada') > 0.5"
	check := func() {
		t.Helper()
		must(t, page.GetByTestId("query-sql").Fill(sql))
		must(t, page.GetByTestId("query-submit").Click())
		must(t, expect.Locator(page.GetByTestId("check-statement")).ToHaveText(sql))
	}
	check()
	must(t, expect.Locator(page.GetByTestId("remote-sql")).ToHaveText("SELECT name, email FROM public.customers"))
	kept := page.GetByTestId("kept-condition")
	must(t, expect.Locator(kept).ToContainText("(similarity(customers.name, 'Ada'::text) > '0.5'::double precision)"))
	must(t, expect.Locator(kept.GetByTestId("reason")).ToContainText("comes from the extension pg_trgm"))
	for _, w := range []int{1280, 390} {
		must(t, page.SetViewportSize(w, 860))
		checkFits(t, page, "query check result")
		checkAxe(t, page, "query check result")
		screenshot(t, page, "querycheck-result-"+strconv.Itoa(w))
	}
	must(t, page.SetViewportSize(1280, 860))

	// The fix: previewed with its SQL, applied, audited.
	must(t, kept.GetByTestId("apply-fix").Click())
	must(t, expect.Locator(page.GetByTestId("option-sql")).ToHaveText(`ALTER SERVER "crm" OPTIONS (ADD extensions 'pg_trgm');`))
	checkAxe(t, page, "option preview")
	screenshot(t, page, "querycheck-fix-preview")
	must(t, page.GetByTestId("option-apply").Click())
	must(t, expect.Locator(page.GetByTestId("flash-success")).ToContainText("extensions of the server set to pg_trgm"))
	must(t, expect.Locator(page.Locator(`[data-testid=option][data-key=extensions] [data-testid=option-value]`)).ToHaveText("pg_trgm"))

	// The same query again: everything goes to the remote.
	must(t, page.GetByTestId("check-query").Click())
	check()
	must(t, expect.Locator(page.GetByTestId("check-summary")).ToContainText("Everything this query asks of link crm is sent to the remote"))
	must(t, expect.Locator(page.GetByTestId("remote-sql")).ToContainText("WHERE ((public.similarity(name, 'Ada'::text) > 0.5::double precision))"))
	if n := queryInt(t, f.state.URL, "SELECT count(*) FROM pglinks.audit WHERE action = 'query_check' AND ddl = $1", sql); n != 2 {
		t.Errorf("audited checks: %d", n)
	}
	for _, w := range []int{1280, 390} {
		must(t, page.SetViewportSize(w, 860))
		checkFits(t, page, "query check fixed")
		screenshot(t, page, "querycheck-fixed-"+strconv.Itoa(w))
	}
	must(t, page.SetViewportSize(1280, 860))

	// EXPLAIN ANALYZE only after its own confirmation.
	must(t, page.GetByTestId("analyze-check").Click())
	must(t, expect.Locator(page.GetByTestId("analyze-confirm")).ToContainText("EXPLAIN ANALYZE runs this statement"))
	checkAxe(t, page, "analyze confirmation")
	must(t, page.GetByTestId("analyze-submit").Click())
	must(t, expect.Locator(page.GetByTestId("actual-fetched")).ToContainText("1"))
	screenshot(t, page, "querycheck-analyze")

	// Analyze foreign tables from the Performance section.
	goTo(t, page, srv.URL+"/databases/DATABASE_URL/links/crm")
	must(t, page.GetByTestId("analyze-tables").Click())
	checkAxe(t, page, "analyze tables")
	must(t, page.GetByTestId("analyze-submit").Click())
	must(t, expect.Locator(page.GetByTestId("flash-success")).ToContainText("Analyzed 3 of 3 foreign tables of crm"))
	must(t, expect.Locator(page.GetByTestId("analyzed")).ToContainText("3 of 3 foreign tables analyzed"))
	screenshot(t, page, "querycheck-link-performance")
	must(t, page.SetViewportSize(390, 860))
	checkFits(t, page, "link page with its Performance section")
	screenshot(t, page, "querycheck-link-performance-390")

	// A viewer sees the saved checks and no form.
	viewer := newSizedPage(t, 1280)
	goTo(t, viewer, srv.URL+"/login")
	signIn(t, viewer, srv.URL, f.viewerEmail, f.viewerPassword)
	goTo(t, viewer, srv.URL+"/databases/DATABASE_URL/links/crm/query")
	must(t, expect.Locator(viewer.GetByTestId("viewer-note")).ToBeVisible())
	must(t, expect.Locator(viewer.GetByTestId("query-form")).ToHaveCount(0))
	must(t, expect.Locator(viewer.GetByTestId("saved-check")).ToHaveCount(3))
	must(t, viewer.GetByTestId("saved-check").Locator("a").First().Click())
	must(t, expect.Locator(viewer.GetByTestId("check-result")).ToBeVisible())
	must(t, expect.Locator(viewer.GetByTestId("analyze-check")).ToHaveCount(0))
	if strings.Contains(viewer.URL(), "/analyze") {
		t.Fatal("viewer on the analyze page")
	}
}
