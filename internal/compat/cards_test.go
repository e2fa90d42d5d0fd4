package compat

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/views"
)

// renderInventory renders the inventory page over inv, as the handler
// does for a signed-in viewer.
func renderInventory(t testing.TB, inv []links.DatabaseStatus) string {
	t.Helper()
	var b strings.Builder
	page := views.InventoryPage{Page: views.Page{Title: "Databases", Nav: "databases", Viewer: &views.Viewer{}}, Databases: inv, Fleet: len(inv), Matches: len(inv), PageNo: 1}
	if err := views.Inventory(page).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// versionBadge is how a card shows its server's major.
func versionBadge(major int) string { return fmt.Sprintf(">PostgreSQL %d</span>", major) }

func pgIdent(s string) string { return pgx.Identifier{s}.Sanitize() }
