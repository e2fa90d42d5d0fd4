package app

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// limitToCustomers is the preview's IMPORT of customers only, as HTML.
const limitToCustomers = `LIMIT TO (&#34;customers&#34;)`

// Tables ticked on the create form count without the script that switches
// the mode: a form sending tables and no tables_mode imports only those;
// "All tables" said in so many words (tables_mode=all) imports all, ticks
// or not.
func TestCreateFormTickedTablesMeanOnlyThose(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	c.signIn(adminEmail)
	form := func(extra url.Values) url.Values {
		v := url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"few"}, "op": {"preview"}}
		for k, vs := range extra {
			v[k] = vs
		}
		return v
	}
	r := c.post("/links", form(url.Values{"tables_mode": {""}, "table": {"customers"}}))
	if r.Status != http.StatusOK || !strings.Contains(r.Body, limitToCustomers) {
		t.Fatalf("ticked, no mode: %d, want a preview importing customers only:\n%.3000s", r.Status, r.Body)
	}
	r = c.post("/links", form(url.Values{"table": {"customers"}}))
	if !strings.Contains(r.Body, limitToCustomers) {
		t.Fatal("ticked, mode left out: the ticks were ignored")
	}
	r = c.post("/links", form(url.Values{"tables_mode": {"all"}, "table": {"customers"}}))
	if r.Status != http.StatusOK || strings.Contains(r.Body, "LIMIT TO") {
		t.Fatalf("all chosen in so many words: %d, want every table", r.Status)
	}
	// The form reloaded with ticks has "Only the tables chosen below" on;
	// a fresh one offers "All tables" without saying it was chosen.
	r = c.post("/links", form(url.Values{"op": {"load"}, "table": {"customers"}}))
	if !strings.Contains(r.Body, `value="some" checked`) {
		t.Fatal("reloaded with a tick: the form does not show the chosen tables' mode")
	}
	r = c.get("/links/new?remote=HEROKU_POSTGRESQL_BLUE_URL")
	if !strings.Contains(r.Body, `name="tables_mode" value="" checked`) {
		t.Fatalf("a fresh form's All tables radio: %s", regexpFind(t, r.Body, `(<input type="radio" name="tables_mode"[^>]*>)`))
	}
}

// "Create another link anyway", once ticked, stays ticked through a name
// error and is not asked again.
func TestCreateFormKeepsDuplicateTick(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	c.signIn(adminEmail)
	base := url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "op": {"create"}}
	// The first link takes the remote's default name.
	first := c.post("/links", withValues(base, "name", ""))
	if first.Status != http.StatusSeeOther {
		t.Fatalf("first link: %d", first.Status)
	}
	r := c.post("/links", withValues(base, "name", "again"))
	if r.Status != http.StatusConflict || !strings.Contains(r.Body, `data-testid="duplicate-confirm"`) || strings.Contains(r.Body, `name="duplicate_ok" value="1" checked`) {
		t.Fatalf("second link from the same remote: %d, want the duplicate confirmation unticked", r.Status)
	}
	r = c.post("/links", withValues(withValues(base, "name", "Bad-Name"), "duplicate_ok", "1"))
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, `data-testid="error-name"`) {
		t.Fatalf("bad name: %d", r.Status)
	}
	if !strings.Contains(r.Body, `name="duplicate_ok" value="1" checked`) {
		t.Fatal("after the name error the duplicate tick is lost")
	}
	if r := c.post("/links", withValues(withValues(base, "name", "again"), "duplicate_ok", "1")); r.Status != http.StatusSeeOther {
		t.Fatalf("the second link, confirmed: %d", r.Status)
	}
	// Left empty, the name is the remote's default made unique: the
	// first link has it.
	r = c.post("/links", withValues(withValues(base, "name", ""), "duplicate_ok", "1"))
	if r.Status != http.StatusSeeOther || r.Location != first.Location+"_2" {
		t.Fatalf("a third link with the default name: %d to %q, want %q", r.Status, r.Location, first.Location+"_2")
	}
}

func withValues(v url.Values, key, value string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	out.Set(key, value)
	return out
}

// The repair address of a link that matches its remote is a page saying
// so, leading back to the link, not an error page.
func TestRepairPageOfHealthyLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	c.signIn(adminEmail)
	if r := c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"sales"}, "op": {"create"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("create: %d", r.Status)
	}
	r := c.get("/databases/DATABASE_URL/links/sales/repair")
	if r.Status != http.StatusOK || !strings.Contains(r.Body, `data-testid="repair-nothing"`) || !strings.Contains(r.Body, "matches its remote") ||
		!strings.Contains(r.Body, `href="/databases/DATABASE_URL/links/sales" class="btn btn-secondary" data-testid="back-to-link"`) ||
		strings.Contains(r.Body, `data-testid="error-page"`) || strings.Contains(r.Body, "repair-form") {
		t.Fatalf("repair page of a healthy link: %d\n%.3000s", r.Status, r.Body)
	}
	for _, crumb := range []string{`href="/"`, `href="/#db-DATABASE_URL"`, `href="/databases/DATABASE_URL/links/sales"`, `href="/databases/DATABASE_URL/links/sales/repair" aria-current="page"`} {
		if !strings.Contains(r.Body, crumb) {
			t.Errorf("repair page's breadcrumbs lack %s", crumb)
		}
	}
}

// The audit page names actions in words in the filter and the rows (the
// stored action in a title and data-action) and folds runs of sign-ins
// into one row between the changes; the CSV keeps every entry with its
// stored action.
func TestAuditInWordsWithSignInsFolded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.client(t)
	admin.signIn(adminEmail)
	viewer := e.client(t)
	viewer.login(viewerEmail, "not the password", "")
	viewer.signIn(viewerEmail)
	if r := admin.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"sales"}, "op": {"create"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("create: %d", r.Status)
	}
	e.client(t).signIn(adminEmail)
	e.client(t).signIn(viewerEmail)

	r := admin.get("/audit")
	if r.Status != http.StatusOK {
		t.Fatalf("audit: %d", r.Status)
	}
	if !strings.Contains(r.Body, `<option value="link_import_tables_refused">Table import refused</option>`) || !strings.Contains(r.Body, `<optgroup label="Data links">`) {
		t.Error("the action filter does not name actions in words")
	}
	if !strings.Contains(r.Body, `data-action="link_create"`) || !strings.Contains(r.Body, `title="link_create" data-testid="audit-action">Created a link</td>`) {
		t.Error("the link's row does not name its action in words")
	}
	// Newest first: two sign-ins after the change, then the change, then
	// three sign-ins and a failure before it.
	folds := regexpAll(r.Body, `data-testid="audit-fold-summary">([^<]+)<`)
	if len(folds) != 2 || folds[0] != "2 sign-ins by 2 users" || folds[1] != "2 sign-ins and 1 failed sign-in by 2 users" {
		t.Errorf("folded sign-ins: %q", folds)
	}
	if n := strings.Count(r.Body, `data-testid="audit-row"`); n != 1 {
		t.Errorf("%d rows besides the folds, want the link's only", n)
	}
	// Asked for by action, sign-ins are rows of their own.
	r = admin.get("/audit?action=login")
	if n := strings.Count(r.Body, `data-testid="audit-row"`); n != 4 || strings.Contains(r.Body, "audit-fold") {
		t.Errorf("audit?action=login: %d rows", n)
	}
	res := admin.get("/audit.csv")
	rows, err := csv.NewReader(strings.NewReader(res.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, row := range rows[1:] {
		actions = append(actions, row[3])
	}
	if got := strings.Join(actions, " "); got != "login login link_create login login_failed login" {
		t.Errorf("CSV actions: %s", got)
	}
}

func regexpAll(s, re string) []string {
	var out []string
	for _, m := range regexpMust(re).FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}
