package app

import (
	"fmt"
	"strings"
	"testing"
)

// A server that ends pglinks' idle connections (a DBA's
// pg_terminate_backend, a pooler, a fast restart: SQLSTATE 57P01) answers
// a new connection at once. The card read on such a connection must not
// call the database unreachable, "accepted the connection but did not
// answer in time", and back off: that names a cause that is not the one
// (nothing timed out) and an outage that is not there.
func TestCardReadOnAnEndedConnectionIsNotATimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	c.signIn(adminEmail)
	if inv := c.get("/"); strings.Contains(section(t, inv.Body, "db-DATABASE_URL"), `data-testid="db-error"`) {
		t.Fatal("the card failed before anything happened")
	}
	execSQL(t, cluster.SuperURL("postgres"), fmt.Sprintf(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '%s'`, e.local.Owner))
	if n := queryInt(t, e.local.URL, "SELECT 1"); n != 1 {
		t.Fatal("the database does not answer a new connection")
	}
	card := section(t, c.get("/").Body, "db-DATABASE_URL")
	if strings.Contains(card, "did not answer in time") || strings.Contains(card, `data-testid="status">unreachable`) {
		t.Fatalf("the database answers new connections at once, yet its card says:\n%s", card)
	}
}
