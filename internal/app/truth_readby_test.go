package app

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// "Read by" on a database's card answers "what breaks if I rotate or move
// this database?" (seed 001). pglinks keeps its own record of every link
// it made, so a link whose local database cannot be read right now still
// reads from the remote: leaving it out says nothing reads from the remote
// when something does. The card lists it, or says the list is incomplete.
func TestReadByKeepsTheLinksOfAnUnreadableLocal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	c.signIn(adminEmail)
	if r := c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"sales"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("create: %d", r.Status)
	}
	inv := c.get("/")
	if card := section(t, inv.Body, "db-HEROKU_POSTGRESQL_BLUE_URL"); !strings.Contains(card, `data-testid="read-by"`) || !strings.Contains(card, "sales") {
		t.Fatalf("before: the remote's card does not name the link reading it:\n%s", card)
	}

	// The local database stops letting pglinks in (its role may no longer
	// log in); the link and its user mapping are still there.
	super := cluster.SuperURL("postgres")
	execSQL(t, super, fmt.Sprintf(`ALTER ROLE "%s" NOLOGIN`, e.local.Owner))
	t.Cleanup(func() { execSQL(t, super, fmt.Sprintf(`ALTER ROLE "%s" LOGIN`, e.local.Owner)) })
	execSQL(t, super, fmt.Sprintf(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '%s'`, e.local.Owner))
	// Past the pool's idle check (1 s), so the card is read on a new
	// connection and fails with the login's own cause.
	time.Sleep(1500 * time.Millisecond)

	inv = c.get("/")
	card := section(t, inv.Body, "db-HEROKU_POSTGRESQL_BLUE_URL")
	if !strings.Contains(card, "sales") && !strings.Contains(strings.ToLower(card), "could not be read") {
		t.Errorf("with DATABASE_URL unreadable, the remote's card says nothing reads it, though link sales in DATABASE_URL (recorded by pglinks) still does:\n%s", card)
	}
	var db struct {
		ReadBy []struct{ Local, Name string } `json:"read_by"`
	}
	e.api(t, adminEmail, "readby").get("/api/v1/databases/HEROKU_POSTGRESQL_BLUE_URL").JSON(t, &db)
	if len(db.ReadBy) == 0 {
		t.Errorf("API: read_by of HEROKU_POSTGRESQL_BLUE_URL is empty while link sales in DATABASE_URL reads it")
	}
}
