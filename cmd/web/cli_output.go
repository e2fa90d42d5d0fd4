package main

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/pglinks/pglinks/views"
)

// Output as Heroku's CLI prints it: "=== " headings and key: value lines
// with the values aligned (its styledObject), and psql's aligned tables
// for \det. Every name from a database goes through show, and everything
// printed through terminalWriter: a control or bidi character in a table
// name must not rewrite the terminal.

func show(s string) string { return views.ShowName(s) }

// heading is a section's first line.
func heading(w io.Writer, s string) { fmt.Fprintln(w, "=== "+s) }

// kv is one key: value line.
type kv struct{ k, v string }

// styledObject prints keys and values with the values in one column,
// two spaces after the longest key's colon.
func styledObject(w io.Writer, rows ...kv) {
	width := 0
	for _, r := range rows {
		width = max(width, len(r.k))
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%s:%s%s\n", r.k, strings.Repeat(" ", width-len(r.k)+1), r.v)
	}
}

// herokuTime is created_at as Heroku prints it: 2021-10-11T14:46:22.721+00:00.
func herokuTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000-07:00") }

func width(s string) int { return utf8.RuneCountInString(s) }

func pad(s string, n int) string { return s + strings.Repeat(" ", max(0, n-width(s))) }

func center(s string, n int) string {
	left := max(0, (n-width(s))/2)
	return strings.Repeat(" ", left) + pad(s, n-left)
}

// psqlTable prints rows as psql's aligned format does: a centered title (if any),
// centered headers, left-aligned cells and "(N rows)".
func psqlTable(w io.Writer, title string, headers []string, rows [][]string) {
	widths := make([]int, len(headers))
	for i, h := range headers {
		widths[i] = width(h)
	}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], width(c))
		}
	}
	total := len(widths)*3 - 1
	for _, n := range widths {
		total += n
	}
	line := func(cells []string, align func(string, int) string) string {
		parts := make([]string, len(cells))
		for i, c := range cells {
			parts[i] = align(c, widths[i])
		}
		return strings.TrimRight(" "+strings.Join(parts, " | "), " ")
	}
	if title != "" {
		fmt.Fprintln(w, strings.TrimRight(center(title, total), " "))
	}
	fmt.Fprintln(w, line(headers, center))
	dashes := make([]string, len(widths))
	for i, n := range widths {
		dashes[i] = strings.Repeat("-", n+2)
	}
	fmt.Fprintln(w, strings.Join(dashes, "+"))
	for _, r := range rows {
		fmt.Fprintln(w, line(r, pad))
	}
	if len(rows) == 1 {
		fmt.Fprintln(w, "(1 row)")
	} else {
		fmt.Fprintf(w, "(%d rows)\n", len(rows))
	}
}

// healthText is a link's health in a few words.
func healthText(h cliHealth) string {
	switch h.State {
	case "healthy":
		return fmt.Sprintf("healthy (%d ms)", h.RTTMillis)
	case "broken":
		return "broken: " + h.Reason
	}
	return "unknown (not probed yet)"
}

// writeLinks prints one database's part of `pg:links`.
func writeLinks(w io.Writer, db cliDatabaseRef, links []cliLink) {
	heading(w, fmt.Sprintf("%s (%s)", db.ConfigVar, db.ResourceName))
	switch {
	case db.Pending || !db.Reachable || db.Error != "" && len(links) == 0:
		// Unreachable, or its links could not be told: not "no links".
		fmt.Fprintln(w, db.Error)
	case len(links) == 0 && !db.Support.OK:
		fmt.Fprintln(w, db.Support.Reason)
	case len(links) == 0:
		fmt.Fprintln(w, "No data sources are linked into this database.")
	}
	for _, l := range links {
		fmt.Fprintf(w, "\n*  %s\n", show(l.Name))
		rows := []kv{
			{"created_at", herokuTime(l.CreatedAt)},
			{"remote", fmt.Sprintf("%s (%s)", l.Remote.ConfigVar, l.Remote.ResourceName)},
			{"remote_name", show(l.RemoteName)},
			{"health", healthText(l.Health)},
		}
		if l.Stale != nil && l.Stale.Stale {
			rows = append(rows, kv{"stale", l.Stale.Summary})
		}
		styledObject(w, rows...)
	}
}

// sqlLines prints statements, one per line, each with its semicolon.
func sqlLines(w io.Writer, stmts []string) {
	for _, s := range stmts {
		fmt.Fprintln(w, "  "+strings.TrimSuffix(s, ";")+";")
	}
}

func showAll(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = show(n)
	}
	return strings.Join(out, ", ")
}

// terminalWriter is how the links verbs write: every character that would
// rewrite a terminal (ESC, BEL, CR, a bidi override, ...) is written as an
// escape, whatever printed it (a name, a health reason, SQL, a server's
// message), since all of it may hold what a remote's owner named.
// Human output shows it as views.ShowName does ("<U+001B>"); JSON as a \u
// escape, which decodes to the same string. Newlines and tabs pass.
type terminalWriter struct {
	w    io.Writer
	json bool
}

func (t terminalWriter) Write(p []byte) (int, error) {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRune(p[i:])
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, "<0x%02X>", p[i])
		case !views.Invisible(r):
			b.Write(p[i : i+size])
		case t.json && r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		case t.json:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, "<U+%04X>", r)
		}
		i += size
	}
	if _, err := io.WriteString(t.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}
