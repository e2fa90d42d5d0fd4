package views

import (
	"context"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
)

// A card whose links could not be told says why, never "No data sources
// are linked": that is a claim about links nobody could read.
func TestCardOfUnknownLinks(t *testing.T) {
	d := &fleet.Database{ConfigVar: "DATABASE_URL", ResourceName: "postgresql-x"}
	render := func(st links.DatabaseStatus) string {
		var b strings.Builder
		if err := databaseCard(InventoryPage{}, st).Render(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	unknown := render(links.DatabaseStatus{DB: d, Reachable: true, LinksUnknown: true, Support: links.Support{OK: true}, Error: "could not check pglinks' records of its links: not answering"})
	if strings.Contains(unknown, `data-testid="no-links"`) || !strings.Contains(unknown, "could not check pglinks") {
		t.Errorf("a card of unknown links:\n%s", unknown)
	}
	if none := render(links.DatabaseStatus{DB: d, Reachable: true, Support: links.Support{OK: true}}); !strings.Contains(none, `data-testid="no-links"`) {
		t.Errorf("a card with no links does not say so:\n%s", none)
	}
}
