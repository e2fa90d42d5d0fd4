package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/playwright-community/playwright-go"
)

// Widths every page must fit: a laptop and a phone.
var uxWidths = []int{1280, 390}

// newSizedPage is newPage at a given viewport width. The CSP is bypassed
// so the accessibility checker can be injected as a script.
func newSizedPage(t *testing.T, width int) playwright.Page {
	t.Helper()
	bctx, err := browser.NewContext(playwright.BrowserNewContextOptions{
		Viewport:  &playwright.Size{Width: width, Height: 860},
		BypassCSP: playwright.Bool(true),
	})
	if err != nil {
		t.Fatalf("new browser context: %v", err)
	}
	bctx.SetDefaultTimeout(10_000)
	page, err := bctx.NewPage()
	if err != nil {
		bctx.Close()
		t.Fatalf("new page: %v", err)
	}
	var mu sync.Mutex
	var pageErrors []string
	page.OnPageError(func(err error) {
		mu.Lock()
		pageErrors = append(pageErrors, err.Error())
		mu.Unlock()
	})
	t.Cleanup(func() {
		if t.Failed() {
			name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name()) + fmt.Sprintf("-%d-failure", width)
			if path, err := saveScreenshot(page, name); err == nil {
				t.Logf("failure screenshot: %s (page %s)", path, page.URL())
			}
		}
		mu.Lock()
		for _, e := range pageErrors {
			t.Errorf("JavaScript error on %s: %s", page.URL(), e)
		}
		mu.Unlock()
		bctx.Close()
	})
	return page
}

var axeSource struct {
	once sync.Once
	js   string
	err  error
}

// axeContexts holds the browser contexts that run axe-core in every new
// document (AddInitScript): sending its 650 kB with each page checked cost
// more than running it (BENCHMARKS.md).
var axeContexts sync.Map // playwright.BrowserContext -> struct{}

// axeContextsHas records bctx in axeContexts and says whether it was there.
func axeContextsHas(bctx playwright.BrowserContext) bool {
	_, seen := axeContexts.LoadOrStore(bctx, struct{}{})
	return seen
}

// checkAxe runs axe-core (node_modules/axe-core, installed by `npm ci`) on
// the page and fails on serious or critical violations.
func checkAxe(t *testing.T, page playwright.Page, what string) {
	t.Helper()
	axeSource.once.Do(func() {
		b, err := os.ReadFile(filepath.Join(repoRoot, "node_modules", "axe-core", "axe.min.js"))
		axeSource.js, axeSource.err = string(b), err
	})
	if axeSource.err != nil {
		t.Fatalf("axe-core: %v (run `npm ci`)", axeSource.err)
	}
	if bctx := page.Context(); !axeContextsHas(bctx) {
		// Documents made from now on have it; this one gets it below.
		bctx.OnClose(func(playwright.BrowserContext) { axeContexts.Delete(bctx) })
		if err := bctx.AddInitScript(playwright.Script{Content: playwright.String(axeSource.js)}); err != nil {
			t.Fatalf("axe-core for the pages of %s: %v", what, err)
		}
	}
	loaded, err := page.Evaluate(`() => typeof axe !== "undefined"`)
	if err != nil {
		t.Fatalf("axe on %s: %v", what, err)
	}
	if loaded != true {
		if _, err := page.AddScriptTag(playwright.PageAddScriptTagOptions{Content: playwright.String(axeSource.js)}); err != nil {
			t.Fatalf("inject axe-core into %s: %v", what, err)
		}
	}
	res, err := page.Evaluate(`async () => {
		const r = await axe.run(document, { resultTypes: ["violations"] });
		return r.violations
			.filter((v) => v.impact === "serious" || v.impact === "critical")
			.map((v) => v.impact + " " + v.id + ": " + v.help + " — " +
				v.nodes.slice(0, 4).map((n) => n.target.join(" ") + (n.failureSummary ? " (" + n.failureSummary.replace(/\s+/g, " ").slice(0, 160) + ")" : "")).join(" | "));
	}`)
	if err != nil {
		t.Fatalf("axe on %s: %v", what, err)
	}
	list, _ := res.([]any)
	for _, v := range list {
		t.Errorf("%s: accessibility: %v", what, v)
	}
}

// checkFits fails when the page scrolls sideways at the current width.
func checkFits(t *testing.T, page playwright.Page, what string) {
	t.Helper()
	res, err := page.Evaluate(`() => [document.documentElement.scrollWidth, window.innerWidth, document.body.scrollWidth]`)
	if err != nil {
		t.Fatal(err)
	}
	v := res.([]any)
	doc, inner, body := toInt(v[0]), toInt(v[1]), toInt(v[2])
	if doc > inner || body > inner {
		t.Errorf("%s: the page is %d px wide (body %d) in a %d px viewport: it scrolls sideways", what, doc, body, inner)
	}
}

// checkInside fails unless every element matching inner lies within the
// horizontal bounds of its closest ancestor matching outer.
func checkInside(t *testing.T, page playwright.Page, inner, outer, what string) {
	t.Helper()
	res, err := page.Evaluate(`([inner, outer]) => {
		const bad = [];
		for (const el of document.querySelectorAll(inner)) {
			const box = el.closest(outer);
			if (!box) { bad.push(inner + " has no " + outer); continue; }
			const a = el.getBoundingClientRect(), b = box.getBoundingClientRect();
			if (a.left < b.left - 0.5 || a.right > b.right + 0.5 || a.top < b.top - 0.5 || a.bottom > b.bottom + 0.5)
				bad.push((el.textContent || el.tagName).trim().slice(0, 40) + " at " + Math.round(a.left) + ".." + Math.round(a.right) + " outside " + Math.round(b.left) + ".." + Math.round(b.right));
		}
		return bad;
	}`, []string{inner, outer})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range res.([]any) {
		t.Errorf("%s: %v", what, b)
	}
}

// checkControlsInView fails unless every visible button and link inside
// main lies within the viewport horizontally: on a phone no action may
// sit off-screen, past the page's edge or in a table that scrolls
// sideways. Every page of the sweep is held to it at 390 px.
func checkControlsInView(t *testing.T, page playwright.Page, what string) {
	t.Helper()
	res, err := page.Evaluate(`() => {
		const bad = [];
		const w = document.documentElement.clientWidth;
		for (const el of document.querySelectorAll("main a, main button")) {
			const r = el.getBoundingClientRect();
			if (r.width === 0 && r.height === 0) continue;
			if (r.left < -0.5 || r.right > w + 0.5)
				bad.push((el.textContent || el.tagName).trim().slice(0, 40) + " at " + Math.round(r.left) + ".." + Math.round(r.right) + " in " + w + " px");
		}
		return bad;
	}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range res.([]any) {
		t.Errorf("%s: %v", what, b)
	}
}

// checkNamesWrapWhole fails when a name (views.Name) wraps inside a word:
// names may wrap only at their <wbr>s, after "_", "." or "/" (or at a
// space), so each run of text between them must sit on one line.
func checkNamesWrapWhole(t *testing.T, page playwright.Page, what string) {
	t.Helper()
	res, err := page.Evaluate(`() => {
		const bad = [];
		const rects = (r) => [...r.getClientRects()].filter((x) => x.width > 0);
		for (const name of document.querySelectorAll("main bdi.name")) {
			const walk = document.createTreeWalker(name, NodeFilter.SHOW_TEXT);
			for (let n = walk.nextNode(); n; n = walk.nextNode()) {
				if (n.parentElement.closest(".ctl-char")) continue;
				const r = document.createRange();
				r.selectNodeContents(n);
				if (rects(r).length <= 1) continue;
				let top = null;
				for (let i = 0; i < n.length; i++) {
					r.setStart(n, i);
					r.setEnd(n, i + 1);
					const c = rects(r)[0];
					if (!c) continue;
					// A break after a space or a hyphen is between words.
					if (top !== null && Math.abs(c.top - top) > 2 && !/[\s-]/.test(n.data[i - 1]) && !/\s/.test(n.data[i])) {
						bad.push("“" + name.textContent.slice(0, 60) + "” breaks inside a word, before “" + n.data.slice(i, i + 12) + "”");
						break;
					}
					top = c.top;
				}
			}
		}
		return bad;
	}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range res.([]any) {
		t.Errorf("%s: %v", what, b)
	}
}

// checkBreadcrumbs fails unless a page below the top level has the whole
// trail: at least two steps, every step before the last a link, the last
// the current page.
func checkBreadcrumbs(t *testing.T, page playwright.Page, what string) {
	t.Helper()
	res, err := page.Evaluate(`() => {
		const nav = document.querySelector("main nav[aria-label=Breadcrumb]");
		if (!nav) return ["no breadcrumbs"];
		const items = [...nav.querySelectorAll("li")];
		const bad = [];
		if (items.length < 2) bad.push("a trail of " + items.length + " step");
		items.forEach((li, i) => {
			if (i < items.length - 1 && !li.querySelector("a[href]")) bad.push("step " + (i + 1) + " “" + li.textContent.trim() + "” is not a link");
		});
		if (items.length && !items[items.length - 1].querySelector("[aria-current=page]")) bad.push("the last step is not the current page");
		return bad;
	}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range res.([]any) {
		t.Errorf("%s: breadcrumbs: %v", what, b)
	}
}

func toInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case float64:
		return int(n)
	case int64:
		return int(n)
	}
	return -1
}

// createLinkUI creates a link through the form and waits for its page.
func createLinkUI(t *testing.T, page playwright.Page, base, remote, local, name string) {
	t.Helper()
	goTo(t, page, base+"/links/new")
	_, err := page.Locator("#remote").SelectOption(playwright.SelectOptionValues{Values: &[]string{remote}})
	must(t, err)
	_, err = page.Locator("#local").SelectOption(playwright.SelectOptionValues{Values: &[]string{local}})
	must(t, err)
	must(t, page.Locator("#name").Fill(name))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create link"}).Click())
	if dup := page.GetByTestId("duplicate-ok"); dup != nil {
		if n, _ := dup.Count(); n > 0 {
			must(t, dup.Check())
			must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create link"}).Click())
		}
	}
	must(t, expect.Locator(page.GetByTestId("link-name")).ToHaveText(name))
}

// topLevelPages are the sweep's pages reached from the header, which need
// no breadcrumbs; every other page has the whole trail.
var topLevelPages = map[string]bool{
	"login": true, "inventory": true, "audit": true, "audit-filter-error": true, "users": true, "users-added": true,
	"replication": true, "account": true, "error": true,
}

// TestEveryPageFitsAndPassesAxe visits every page at 1280 and 390 px: no
// sideways page scroll, the header's controls inside the dark bar, no
// serious or critical axe-core violation, names that wrap only between
// words, breadcrumbs below the top level, on a phone every button and
// link in view, and a screenshot of each.
func TestEveryPageFitsAndPassesAxe(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	srv := startServer(t, f.env)
	const long = "postgresql_colorful_33594_with_a_rather_long_name"
	var savedCheck string
	{
		page := newSizedPage(t, 1280)
		goTo(t, page, srv.URL+"/login")
		signIn(t, page, srv.URL, f.adminEmail, f.adminPassword)
		must(t, expect.Page(page).ToHaveURL(srv.URL+"/"))
		createLinkUI(t, page, srv.URL, "HEROKU_POSTGRESQL_BLUE_URL", "DATABASE_URL", "sales")
		createLinkUI(t, page, srv.URL, "HEROKU_POSTGRESQL_BLUE_URL", "DATABASE_URL", long)
		createLinkUI(t, page, srv.URL, "DATABASE_URL", "HEROKU_POSTGRESQL_BLUE_URL", "shop")
		// A saved query check with a condition kept local (an enum).
		goTo(t, page, srv.URL+"/databases/DATABASE_URL/links/sales/query")
		must(t, page.GetByTestId("query-sql").Fill("SELECT * FROM sales.orders o JOIN sales.customers c ON c.id = o.customer_id WHERE o.status = 'paid' ORDER BY c.name"))
		must(t, page.GetByTestId("query-submit").Click())
		must(t, expect.Locator(page.GetByTestId("check-result")).ToBeVisible())
		savedCheck = strings.TrimPrefix(page.URL(), srv.URL)
	}
	// A subscription (made without connecting, so no publisher is needed)
	// for the Replication page and its drop confirmation.
	a, _ := clusters(t)
	execSQL(t, a.SuperURL(f.local.Name), `CREATE SUBSCRIPTION sweep_sub CONNECTION 'host=127.0.0.1 port=1 dbname=x connect_timeout=1' PUBLICATION p WITH (connect = false, slot_name = 'sweep_sub')`)
	t.Cleanup(func() {
		execSQL(t, a.SuperURL(f.local.Name), `ALTER SUBSCRIPTION sweep_sub SET (slot_name = NONE); DROP SUBSCRIPTION sweep_sub`)
	})
	// The widths sweep side by side, each in its own browser context; what
	// they add (tokens, users) is named after the width.
	for _, width := range uxWidths {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			t.Parallel()
			page := newSizedPage(t, width)
			check := func(name string) {
				t.Helper()
				checkFits(t, page, name)
				checkAxe(t, page, name)
				checkNamesWrapWhole(t, page, name)
				if width == 390 {
					checkControlsInView(t, page, name)
				}
				if !topLevelPages[name] {
					checkBreadcrumbs(t, page, name)
				}
				screenshot(t, page, fmt.Sprintf("ux-%s-%d", name, width))
			}
			visit := func(name, path string) {
				t.Helper()
				goTo(t, page, srv.URL+path)
				check(name)
			}
			visit("login", "/login")
			must(t, expect.Locator(page.Locator("#email")).ToBeFocused())
			signIn(t, page, srv.URL, f.adminEmail, f.adminPassword)
			must(t, expect.Page(page).ToHaveURL(srv.URL+"/"))

			visit("inventory", "/")
			// The first Tab lands on the skip link, which leads to the content.
			must(t, page.Keyboard().Press("Tab"))
			skip := page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Skip to content"})
			must(t, expect.Locator(skip).ToBeFocused())
			must(t, expect.Locator(skip).ToBeInViewport())
			must(t, page.Keyboard().Press("Enter"))
			must(t, expect.Locator(page.Locator("main#main")).ToBeFocused())
			checkInside(t, page, "[data-testid=header] button, [data-testid=header] .badge, [data-testid=header] nav a", "header", "header")
			if width == 1280 {
				checkInside(t, page, "[data-testid=destroy]", "section.card", "inventory destroy buttons")
				// One aligned layout: the Remote column starts at the same x on every card.
				res, err := page.Evaluate(`() => [...document.querySelectorAll("table[data-testid=links] thead th:nth-child(2)")].map((th) => Math.round(th.getBoundingClientRect().left))`)
				must(t, err)
				xs := res.([]any)
				if len(xs) < 2 {
					t.Fatalf("want two link tables, got %d", len(xs))
				}
				for _, x := range xs[1:] {
					if toInt(x) != toInt(xs[0]) {
						t.Errorf("inventory columns do not line up across cards: %v", xs)
					}
				}
			}
			// Where links are not possible, the fix is SQL to copy, not prose.
			white := page.GetByTestId("db-HEROKU_POSTGRESQL_WHITE_URL").GetByTestId("not-supported")
			must(t, expect.Locator(white.GetByTestId("fix-sql-HEROKU_POSTGRESQL_WHITE_URL")).ToHaveText(regexp.MustCompile(`^CREATE EXTENSION postgres_fdw;\nGRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO "?mini_\d+_owner"?;$`)))
			must(t, expect.Locator(white.GetByTestId("copy-button")).ToBeVisible())
			must(t, expect.Locator(page.GetByTestId("link-sales").GetByTestId("link-remote")).ToContainText("postgresql-colorful-33594"))
			must(t, expect.Locator(page.GetByTestId("link-sales").GetByTestId("link-remote")).ToContainText("HEROKU_POSTGRESQL_BLUE_URL"))
			must(t, expect.Locator(page.GetByTestId("db-DATABASE_URL").Locator("thead")).Not().ToContainText("Remote name"))

			visit("link", "/databases/DATABASE_URL/links/sales")
			must(t, expect.Locator(page.GetByTestId("link-name")).ToHaveText("sales"))
			visit("link-long", "/databases/DATABASE_URL/links/"+long)
			visit("create", "/links/new?local=DATABASE_URL")
			if width == 1280 {
				// Option texts fit their select.
				res, err := page.Evaluate(`() => {
					const bad = [];
					const probe = document.createElement("span");
					document.body.appendChild(probe);
					for (const sel of document.querySelectorAll("form[data-testid=create-form] select")) {
						const cs = getComputedStyle(sel);
						probe.style.font = cs.font;
						probe.style.whiteSpace = "pre";
						for (const o of sel.options) {
							probe.textContent = o.textContent;
							if (probe.offsetWidth + 48 > sel.clientWidth) bad.push(o.textContent);
						}
					}
					probe.remove();
					return bad;
				}`)
				must(t, err)
				for _, b := range res.([]any) {
					t.Errorf("create form: option text cut: %v", b)
				}
			}
			// The remote chosen: its schemas in a select that fits the
			// form, its tables to tick; then the SQL preview.
			visit("create-remote", "/links/new?local=DATABASE_URL&remote=HEROKU_POSTGRESQL_BLUE_URL")
			checkInside(t, page, "[data-testid=remote-schema]", "fieldset", "remote schema select")
			must(t, page.Locator("#name").Fill("preview_only"))
			must(t, page.GetByTestId("preview").Click())
			// BLUE is linked into DATABASE_URL already: confirm one more.
			must(t, expect.Locator(page.GetByTestId("duplicate-confirm")).ToBeVisible())
			check("create-duplicate-confirm")
			must(t, page.GetByTestId("duplicate-ok").Check())
			must(t, page.GetByTestId("preview").Click())
			must(t, expect.Locator(page.GetByTestId("create-preview")).ToBeVisible())
			check("create-preview")
			visit("conninfo", "/databases/HEROKU_POSTGRESQL_BLUE_URL/connection")
			visit("repair-matches", "/databases/DATABASE_URL/links/sales/repair")
			must(t, expect.Locator(page.GetByTestId("repair-nothing")).ToContainText("matches its remote"))
			visit("refresh", "/databases/DATABASE_URL/links/sales/refresh")
			visit("query-check", "/databases/DATABASE_URL/links/sales/query")
			visit("query-result", savedCheck)
			visit("query-analyze-confirm", savedCheck+"/analyze")
			visit("option-preview", "/databases/DATABASE_URL/links/sales/options?key=fetch_size&value=1000")
			visit("analyze-tables", "/databases/DATABASE_URL/links/sales/analyze")
			visit("destroy", "/databases/DATABASE_URL/links/sales/destroy")
			visit("import", "/databases/DATABASE_URL/links/sales/import?op=plan&table=orders")
			visit("end-connections", "/databases/DATABASE_URL/links/sales/connections/end")
			visit("audit", "/audit")
			// Opening every DDL block keeps the table inside its card.
			details := page.Locator("[data-testid=audit] details")
			n, err := details.Count()
			must(t, err)
			for i := range n {
				_, err := details.Nth(i).Evaluate("d => d.open = true", nil)
				must(t, err)
			}
			checkFits(t, page, "audit with DDL open")
			if width == 1280 {
				checkInside(t, page, "[data-testid=audit] th", ".table-wrap", "audit headers")
				res, err := page.Evaluate(`() => { const w = document.querySelector("[data-testid=audit]").closest(".table-wrap"); return [w.scrollWidth, w.clientWidth]; }`)
				must(t, err)
				if v := res.([]any); toInt(v[0]) > toInt(v[1]) {
					t.Errorf("audit table is %v px wide in a %v px card", v[0], v[1])
				}
			}
			screenshot(t, page, fmt.Sprintf("ux-audit-ddl-%d", width))
			visit("audit-filter-error", "/audit?action=bogus&from=2026-13-01")
			// API tokens: a new one is shown once, then listed.
			goTo(t, page, srv.URL+"/account")
			must(t, page.Locator("#name").Fill(fmt.Sprintf("ci-deploy-%d", width)))
			_, err = page.Locator("#expires").SelectOption(playwright.SelectOptionValues{Values: &[]string{"90"}})
			must(t, err)
			must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create token"}).Click())
			must(t, expect.Locator(page.GetByTestId("new-token-value")).ToContainText("pgl_"))
			checkFits(t, page, "account with a new token")
			checkAxe(t, page, "account with a new token")
			checkInside(t, page, "[data-testid=new-token-value], [data-testid=tokens] .btn", "#tokens", "tokens section")
			screenshot(t, page, fmt.Sprintf("ux-account-new-token-%d", width))
			visit("account", "/account")
			must(t, expect.Locator(page.GetByTestId("new-token")).ToHaveCount(0))
			must(t, expect.Locator(page.GetByTestId("token-name").First()).ToContainText("ci-deploy-"))
			_, err = page.Locator("#tokens").Screenshot(playwright.LocatorScreenshotOptions{Path: playwright.String(filepath.Join(screenshotsDir, fmt.Sprintf("ux-account-tokens-%d.png", width)))})
			must(t, err)
			visit("users", "/users")
			if width == 1280 {
				checkInside(t, page, "[data-testid=users] .btn", ".table-wrap", "users actions")
			}
			// Add a user: the password shows once, on the Users page the
			// add leads to.
			must(t, page.Locator("#email").Fill(fmt.Sprintf("added-%d@example.com", width)))
			must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Add user"}).Click())
			must(t, expect.Page(page).ToHaveURL(srv.URL+"/users"))
			must(t, expect.Locator(page.GetByTestId("notices").GetByTestId("new-password")).ToContainText(fmt.Sprintf("added-%d@example.com", width)))
			check("users-added")
			visit("replication", "/replication")
			visit("new-publication", "/replication/publications/new")
			visit("new-subscription", "/replication/subscriptions/new")
			visit("drop-subscription", "/replication/subscriptions/drop?db=DATABASE_URL&name=sweep_sub")
			var viewerID string
			{
				href, err := page.Context().Request().Get(srv.URL + "/users")
				must(t, err)
				body, _ := href.Text()
				i := strings.Index(body, "/remove")
				j := strings.LastIndex(body[:i], "/users/")
				viewerID = body[j+len("/users/") : i]
			}
			visit("remove-user", "/users/"+viewerID+"/remove")
			visit("reset-password", "/users/"+viewerID+"/password")
			visit("new-password-gone", "/users/"+viewerID+"/password/new")
			goTo(t, page, srv.URL+"/users")
			roleForm, err := page.GetByTestId("user-" + f.adminEmail).Locator("form").First().GetAttribute("action")
			must(t, err)
			visit("demote-self", roleForm+"?role=viewer")
			must(t, expect.Locator(page.GetByTestId("demote-self-confirm")).ToBeVisible())
			visit("error", "/databases/NOPE_URL/links/x")
			must(t, expect.Locator(page.GetByTestId("error-page")).ToBeVisible())
		})
	}
}
