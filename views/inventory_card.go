package views

import (
	"github.com/a-h/templ"
	"github.com/pglinks/pglinks/internal/links"
)

// DatabaseCard is one database's card of the inventory, rendered alone:
// p needs Viewer, Health, ReplicationWarnings and ReadBy for st.
func DatabaseCard(p InventoryPage, st links.DatabaseStatus) templ.Component {
	if st.DB.IsRedis() {
		return redisCard(p, st)
	}
	return databaseCard(p, st)
}
