package app

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/links"
)

// The confirmation of "End these connections" names how many connections
// it ends (and the link page lists them, pid by pid); the end then
// terminates whatever matches on the remote at the click, including a
// session that connected through the link after the page was shown, with
// the link as it is now, whose running statement fails: the admin ended
// a connection they were never shown.
func TestEndConnectionsEndsWhatTheConfirmationShowed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	if _, err := e.app.cfg.Links.CreateLink(ctx, links.CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "crm"}); err != nil {
		t.Fatal(err)
	}
	session := func() func() {
		conn, err := pgx.Connect(ctx, e.local.URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(ctx) })
		return func() {
			t.Helper()
			if _, err := conn.Exec(ctx, "SELECT count(*) FROM crm.customers"); err != nil {
				t.Fatalf("a local session's read through the link: %v", err)
			}
		}
	}
	readA := session()
	readA()
	c := e.client(t)
	c.signIn(adminEmail)
	const page = "/databases/DATABASE_URL/links/crm"
	confirm := c.get(page + "/connections/end")
	if confirm.Status != http.StatusOK || !strings.Contains(confirm.Body, "1 connection(s)") {
		t.Fatalf("confirmation (%d) does not show the one connection:\n%s", confirm.Status, confirm.Body)
	}
	shownAt := time.Now()
	readB := session() // a session that connects after the page was shown
	readA()
	readB()
	until := regexpFind(t, confirm.Body, `name="until" value="([^"]+)"`)
	if r := c.post(page+"/connections/end", url.Values{"until": {until}}); r.Status != http.StatusSeeOther {
		t.Fatalf("end: %d %s", r.Status, r.Body)
	}
	flash := c.get(page).Body
	newer := queryInt(t, e.remote.URL, `SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pglinks/%/crm' AND backend_start > $1`, shownAt)
	if newer == 0 || !strings.Contains(flash, "Ended 1 connection(s)") {
		i := strings.Index(flash, "Ended ")
		t.Fatalf("the confirmation showed 1 connection; the end said %q and left %d of the connections opened after it",
			flash[max(i, 0):max(i, 0)+min(40, len(flash)-max(i, 0))], newer)
	}
}
