package app

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/links"
)

// README's rotation walkthrough with two pglinks processes on one state
// database: process 1 keeps the environment it started with, process 2
// starts with the rotated config var and repairs the link. Process 1 must
// then neither call the working link stale nor offer to repair it (its
// config var is refused by the remote: its environment is the older one),
// and its repair is refused with a 409, audited, and writes nothing.
func TestRotationTwoProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const token = "metrics-token"
	p1 := newEnv(t, func(c *Config) { c.MetricsToken = token })
	if _, err := p1.app.cfg.Links.CreateLink(ctx, links.CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "crm"}); err != nil {
		t.Fatal(err)
	}
	const rotatedPassword = "rotated-Secret-42"
	if err := cluster.Exec(ctx, "postgres", "ALTER ROLE "+p1.remote.Owner+" PASSWORD '"+rotatedPassword+"'"); err != nil {
		t.Fatal(err)
	}
	rotated := strings.Replace(p1.remote.URL, ":"+p1.remote.Password+"@", ":"+rotatedPassword+"@", 1)

	// Process 2, started after the rotation, on the same state database.
	p2 := p1.withEnv(t, []string{"DATABASE_URL=" + p1.local.URL, "HEROKU_POSTGRESQL_BLUE_URL=" + rotated})
	c2 := p2.client(t)
	c2.signIn(adminEmail)
	const linkPage = "/databases/DATABASE_URL/links/crm"
	if r := c2.get(linkPage); r.Status != http.StatusOK || !strings.Contains(r.Body, "credentials changed (user or password)") ||
		!strings.Contains(r.Body, `data-testid="stale-badge"`) || !strings.Contains(r.Body, `data-testid="repair"`) {
		t.Fatalf("process 2's link page (%d) does not offer the repair:\n%s", r.Status, r.Body)
	}
	confirm := c2.get(linkPage + "/repair")
	if confirm.Status != http.StatusOK || !strings.Contains(confirm.Body, "ALTER USER MAPPING") || strings.Contains(confirm.Body, rotatedPassword) {
		t.Fatalf("process 2's repair confirmation (%d):\n%s", confirm.Status, confirm.Body)
	}
	if r := c2.post(linkPage+"/repair", url.Values{"fingerprint": {fingerprintOf(t, confirm.Body)}}); r.Status != http.StatusSeeOther {
		t.Fatalf("process 2's repair: %d %s", r.Status, r.Body)
	}
	linkWorks := func() {
		t.Helper()
		if n := queryInt(t, p1.local.URL, "SELECT count(*) FROM crm.customers"); n != 0 {
			t.Fatalf("crm.customers has %d rows", n)
		}
	}
	linkWorks()

	// Process 1, still holding the old password.
	c1 := p1.client(t)
	c1.signIn(adminEmail)
	r := c1.get(linkPage)
	if r.Status != http.StatusOK {
		t.Fatalf("process 1's link page: %d", r.Status)
	}
	for _, bad := range []string{`data-testid="stale-badge"`, `data-testid="repair"`, "Stale: the link no longer matches"} {
		if strings.Contains(r.Body, bad) {
			t.Errorf("process 1 calls the repaired link stale or offers a repair (%s):\n%s", bad, r.Body)
		}
	}
	if !strings.Contains(r.Body, `data-testid="env-note"`) || !strings.Contains(r.Body, "restart it with the current config var") {
		t.Errorf("process 1's link page does not say its environment is refused:\n%s", r.Body)
	}
	// Once the link's own probe has run (Check now), the page knows which
	// side is newer: the link's.
	if r := c1.post(linkPage+"/check", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("check now: %d", r.Status)
	}
	if r := c1.get(linkPage); !strings.Contains(r.Body, "while the link&#39;s own credentials work: its environment is older than the link&#39;s") {
		t.Errorf("process 1's link page after a probe does not say its environment is older than the link's:\n%s", r.Body)
	}

	// Its repair offers nothing, and a POST is refused, audited, harmless.
	r = c1.get(linkPage + "/repair")
	if r.Status != http.StatusConflict || strings.Contains(r.Body, "ALTER USER MAPPING") || strings.Contains(r.Body, `data-testid="repair-submit"`) ||
		!strings.Contains(r.Body, "HEROKU_POSTGRESQL_BLUE_URL is refused by the remote") {
		t.Fatalf("process 1's repair confirmation (%d):\n%s", r.Status, r.Body)
	}
	if r := c1.post(linkPage+"/repair", url.Values{}); r.Status != http.StatusConflict || !strings.Contains(r.Body, "environment is older") {
		t.Fatalf("process 1's repair POST: %d\n%s", r.Status, r.Body)
	}
	entries, err := p1.store.ListAudit(ctx, auth.AuditFilter{Action: auth.ActionLinkRepairRefused})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Outcome != auth.OutcomeRefused || !strings.Contains(entries[0].Detail, "refused by the remote (password refused)") {
		t.Fatalf("refused repair audited as %+v", entries)
	}
	linkWorks()

	// The inventory and /metrics agree: not stale, and the remote's card
	// names the refusal instead of calling it unreachable.
	inv := c1.get("/")
	row := inv.Body[strings.Index(inv.Body, `data-testid="link-crm"`):]
	row = row[:strings.Index(row, "</tr>")]
	if strings.Contains(row, "stale-badge") || !strings.Contains(row, "env-refused-badge") {
		t.Errorf("process 1's inventory row for crm:\n%s", row)
	}
	blue := inv.Body[strings.Index(inv.Body, `data-testid="db-HEROKU_POSTGRESQL_BLUE_URL"`):]
	blue = blue[:strings.Index(blue, "</section>")]
	if !strings.Contains(blue, `data-testid="status">password refused<`) || strings.Contains(blue, "Not answering") || strings.Contains(blue, "asks again") {
		t.Errorf("process 1's card of the remote:\n%s", blue)
	}
	m := c1.do("GET", "/metrics", nil, "Authorization", "Bearer "+token)
	for _, want := range []string{
		`pglinks_link_stale{database="DATABASE_URL",link="crm",remote="HEROKU_POSTGRESQL_BLUE_URL"} 0`,
		`pglinks_database_failure_reason{database="HEROKU_POSTGRESQL_BLUE_URL",reason="password_refused"} 1`,
	} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, m.Body)
		}
	}
}
