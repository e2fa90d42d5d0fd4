package views

import (
	"sort"

	"github.com/a-h/templ"
)

// Crumb is one step of a breadcrumb trail; every step is a link.
type Crumb struct {
	Label string
	Href  string
}

// FieldErrorID is the id of a field's error message, for aria-describedby.
func FieldErrorID(field string) string { return field + "-error" }

// fieldAttrs marks an input invalid and ties it to its help text and error
// message, so screen readers read both.
func fieldAttrs(errs FormErrors, field, helpID string) templ.Attributes {
	attrs := templ.Attributes{}
	describedBy := helpID
	if errs.Has(field) {
		attrs["aria-invalid"] = "true"
		if describedBy != "" {
			describedBy += " "
		}
		describedBy += FieldErrorID(field)
	}
	if describedBy != "" {
		attrs["aria-describedby"] = describedBy
	}
	return attrs
}

// summaryItem is one line of an error summary: the message and the field
// it links to ("" for a form-wide message).
type summaryItem struct {
	Field, Message string
}

// summary lists a form's errors in the order of fields, form-wide first.
func (e FormErrors) summary(order ...string) []summaryItem {
	var out []summaryItem
	seen := map[string]bool{}
	for _, f := range append([]string{""}, order...) {
		if e.Has(f) && !seen[f] {
			seen[f] = true
			out = append(out, summaryItem{f, e[f]})
		}
	}
	var rest []string
	for f := range e {
		if !seen[f] && e.Has(f) {
			rest = append(rest, f)
		}
	}
	sort.Strings(rest)
	for _, f := range rest {
		out = append(out, summaryItem{f, e[f]})
	}
	return out
}
