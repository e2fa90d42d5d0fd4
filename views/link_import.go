package views

import (
	"slices"
	"strings"

	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
)

// ImportListCap is how many tables a chooser of tables to import lists;
// a name filter finds the rest.
const ImportListCap = 200

// ImportPage chooses remote tables to add to a LIMIT TO link and, once
// chosen, confirms the SQL that imports them.
type ImportPage struct {
	Page
	Local *fleet.Database
	Link  *links.Link
	// Importable are the remote tables the link may take on (nil when
	// they could not be read: Unreadable says why).
	Importable []string
	Unreadable string
	Query      string   // narrows the list
	Chosen     []string // ticked, as sent
	Plan       *links.ImportPlan
	Errors     FormErrors
}

// IsChosen reports whether table t is ticked.
func (p ImportPage) IsChosen(t string) bool { return slices.Contains(p.Chosen, t) }

// Shown are the tables the chooser lists: every ticked one (so filtering
// or a refusal loses no choice, even one the remote no longer has), then
// those matching the filter, at most ImportListCap in all.
func (p ImportPage) Shown() []string {
	out := importShown(p.Importable, p.Chosen, p.Query)
	for _, c := range p.Chosen {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// Matching counts the importable tables the filter lets through.
func (p ImportPage) Matching() int {
	n := 0
	for _, t := range p.Importable {
		if matches(t, p.Query) {
			n++
		}
	}
	return n
}

// CountText says how many tables can be imported, how many the filter
// lets through and how many are listed.
func (p ImportPage) CountText() string {
	s := plural(len(p.Importable), "table", "tables") + " can be imported"
	if p.Query != "" {
		s += ", " + itoa(p.Matching()) + " match the filter"
	}
	if p.Matching() > ImportListCap {
		s += "; the first " + itoa(ImportListCap) + " are listed, filter to find the others"
	}
	return s + ". At most " + itoa(ImportListCap) + " at once."
}

func matches(t, q string) bool {
	return q == "" || strings.Contains(strings.ToLower(t), strings.ToLower(q))
}

func importShown(importable, chosen []string, q string) []string {
	var out []string
	for _, t := range importable {
		if slices.Contains(chosen, t) || matches(t, q) && len(out) < ImportListCap {
			out = append(out, t)
		}
	}
	return out
}

// linkImportable are the remote tables the link page offers to import:
// only to admins, for a LIMIT TO link compared with its remote.
func linkImportable(p LinkPage) []string {
	if p.Viewer == nil || !p.Viewer.IsAdmin || p.Drift == nil || p.Drift.Error != "" || p.Drift.Pending {
		return nil
	}
	return links.Importable(p.Link, p.Drift)
}

func firstN(ls []string, n int) []string {
	if len(ls) > n {
		return ls[:n]
	}
	return ls
}
