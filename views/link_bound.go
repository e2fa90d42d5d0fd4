package views

import (
	"net/url"
	"strings"

	"github.com/pglinks/pglinks/internal/links"
)

// LinkPageBytes is the most a link page weighs, whatever the databases
// hold (README, "Page size"). Values read from a remote are cut in SQL and
// every list is capped, so a page is normally far below it; a page that
// would still be heavier (thousands of columns with long names, say) is
// shown Compact: without its column lists and drift details, which have
// pages of their own (a table filter, the refresh page).
const LinkPageBytes = 1 << 20

// Caps of the drift's lists on a page: names, changed tables, columns of
// one changed table, enums.
const (
	DriftNamesCap   = 50
	DriftTablesCap  = 20
	DriftColumnsCap = 10
	DriftEnumsCap   = 10
)

// upTo returns the first n of xs.
func upTo[T any](xs []T, n int) []T {
	if len(xs) > n {
		return xs[:n]
	}
	return xs
}

// moreThan is how many of xs are left out by upTo(xs, n).
func moreThan[T any](xs []T, n int) int { return max(0, len(xs)-n) }

// TableFilterURL is the link page listing only the tables whose name holds
// t: a table with more columns than a full page lists gets up to
// links.PageColumns of them there.
func (p LinkPage) TableFilterURL(t string) string {
	return LinkPath(p.Local.ConfigVar, p.Link.Name) + "?" + url.Values{"q": {t}}.Encode() + "#tables"
}

// moreColumns is how many columns of t the page does not list.
func moreColumns(t links.ForeignTable) int { return max(0, t.ColumnCount-len(t.Columns)) }

// driftSummary counts a drift's items in words.
func driftSummary(d *links.Drift) string {
	var parts []string
	add := func(n int, one, many string) {
		if n > 0 {
			parts = append(parts, plural(n, one, many))
		}
	}
	add(len(d.NewTables), "table on the remote, not in the link", "tables on the remote, not in the link")
	add(len(d.GoneTables), "table in the link, not on the remote", "tables in the link, not on the remote")
	add(len(d.Tables), "table whose columns changed", "tables whose columns changed")
	add(len(d.Enums), "copied enum whose labels changed", "copied enums whose labels changed")
	return strings.Join(parts, ", ")
}

// PerfListLean is how many foreign tables the Performance section lists
// (options, statistics) when the whole list would make the page too heavy.
const PerfListLean = 5
