package app

import (
	"strings"
	"testing"
)

// The link page's comparison says "The remote's schema changed ... New on
// the remote: customers" when nothing changed on the remote and a
// foreign table of the link was dropped by hand in the local database (a
// column dropped by hand reads as "columns added" on the remote the same
// way). An operator chases a change on the remote that did not happen,
// and is not told the link lost a table locally.
func TestDriftDoesNotBlameTheRemoteForALocalDrop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	createSales(t, e)
	c := e.client(t)
	c.signIn(viewerEmail)
	if p := c.get("/databases/DATABASE_URL/links/sales").Body; !strings.Contains(p, `data-testid="in-step"`) {
		t.Fatalf("right after the create the link is not in step:\n%s", p)
	}
	execSQL(t, e.local.URL, "DROP FOREIGN TABLE sales.customers")
	p := c.get("/databases/DATABASE_URL/links/sales").Body
	i := strings.Index(p, `data-testid="drifted"`)
	if i < 0 {
		t.Fatalf("the dropped table is not shown as a difference:\n%s", p)
	}
	said := p[i:min(len(p), i+1200)]
	if strings.Contains(said, "schema changed since the link was made") || strings.Contains(said, "New on the remote") {
		t.Fatalf("the remote did not change (sales.customers was dropped by hand in DATABASE_URL); the page says:\n%s", said)
	}
}
