package replication

import "strings"

// Match keeps the databases whose resource name, config var or database
// name, or one of whose subscriptions (or their publishers), publications
// or slots contains query, case-insensitively, as the inventory's search
// does; "" keeps all.
func (o *Overview) Match(query string) []Database {
	if query == "" {
		return o.Databases
	}
	q := strings.ToLower(query)
	has := func(s string) bool { return strings.Contains(strings.ToLower(s), q) }
	var out []Database
	for _, d := range o.Databases {
		match := has(d.DB.ResourceName) || has(d.DB.ConfigVar) || has(d.DB.DBName)
		for _, s := range d.Subscriptions {
			match = match || has(s.Name) || has(s.PublisherVar) || has(s.SlotName)
		}
		for _, p := range d.Publications {
			match = match || has(p.Name)
		}
		for _, sl := range d.Slots {
			match = match || has(sl.Name)
		}
		if match {
			out = append(out, d)
		}
	}
	return out
}

// Sorted orders databases for the page: those holding subscriptions,
// publications or slots first, then those that could not be read (or
// only in part), each in fleet order; the empty ones come back apart, to
// be folded into one line.
func Sorted(dbs []Database) (shown, empty []Database) {
	var unread []Database
	for _, d := range dbs {
		switch {
		case d.Empty():
			empty = append(empty, d)
		case len(d.Subscriptions)+len(d.Publications)+len(d.Slots) > 0:
			shown = append(shown, d)
		default:
			unread = append(unread, d)
		}
	}
	return append(shown, unread...), empty
}
