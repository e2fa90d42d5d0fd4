package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// runCheck probes a link now, as the link page's "Check now". A broken
// link is exit status 1, so a script can tell.
func runCheck(ctx context.Context, c *apiClient, f *cliFlags, cio cliIO) error {
	if err := f.want("links:check", "LOCAL", "NAME"); err != nil {
		return err
	}
	local, name := f.args[0], f.args[1]
	var res struct{ Health cliHealth }
	raw, err := c.decode(ctx, http.MethodPost, pathEscape("databases", local, "links", name, "check"), map[string]any{}, &res)
	if err != nil {
		return err
	}
	if f.bools["json"] {
		if err := writeRaw(cio, raw); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(cio.out, "Checking link %s in %s... %s\n", show(name), local, healthText(res.Health))
	}
	if res.Health.State == "broken" {
		return fmt.Errorf("link %s in %s is broken: %s", show(name), local, res.Health.Reason)
	}
	return nil
}

// maxStatement bounds a statement read from a file or stdin; the API
// refuses bodies above its own limit anyway.
const maxStatement = 1 << 20

// The answer of a query check, as far as the verbs print it.
type cliReason struct {
	Object, Why, Fix string
	Option           *struct{ Table, Key, Value string }
}

type cliQueryCheck struct {
	ID        int64
	Statement string
	Analyze   bool
	UsesLink  bool `json:"uses_link"`
	KeptLocal int  `json:"kept_local"`
	Scans     []struct {
		Mine      bool
		Relations string
		RemoteSQL string `json:"remote_sql"`
		KeptLocal []struct {
			Expr    string
			Reasons []cliReason
		} `json:"kept_local"`
		EstRows    float64  `json:"est_rows"`
		Actual     bool     `json:"actual"`
		ActualRows float64  `json:"actual_rows"`
		EstFetched *float64 `json:"est_fetched"`
	}
	LocalSteps []struct {
		What, Detail string
		Reasons      []cliReason
	} `json:"local_steps"`
	ExecutionMs float64 `json:"execution_ms"`
}

// runQuery checks a SELECT over a link, as the link's Query check page:
// per foreign scan, the SQL the remote runs and what stays local, with
// the advice that fixes it. --analyze runs EXPLAIN ANALYZE (the statement
// is executed, read-only and bounded). The check is saved.
func runQuery(ctx context.Context, c *apiClient, f *cliFlags, cio cliIO) error {
	stmt, stdin := "", len(f.args) == 3 && f.args[2] == "-"
	if !stdin {
		if err := f.want("links:query", "LOCAL", "NAME"); err != nil {
			return err
		}
	}
	sql, hasSQL := f.strs["sql"]
	file, hasFile := f.strs["file"]
	switch n := btoi(hasSQL) + btoi(hasFile) + btoi(stdin); {
	case n != 1:
		return usageError("links:query takes the statement from one of --sql 'SELECT ...', --file FILE or - (stdin)")
	case hasSQL:
		stmt = sql
	default:
		var r io.Reader = cio.in
		if hasFile {
			fh, err := os.Open(file)
			if err != nil {
				return err
			}
			defer fh.Close()
			r = fh
		}
		b, err := io.ReadAll(io.LimitReader(r, maxStatement+1))
		if err != nil {
			return err
		}
		if len(b) > maxStatement {
			return usageError(fmt.Sprintf("links:query: the statement is longer than %d bytes", maxStatement))
		}
		stmt = string(b)
	}
	local, name := f.args[0], f.args[1]
	var q cliQueryCheck
	raw, err := c.decode(ctx, http.MethodPost, pathEscape("databases", local, "links", name, "query"), map[string]any{"sql": stmt, "analyze": f.bools["analyze"]}, &q)
	if err != nil {
		return err
	}
	if f.bools["json"] {
		return writeRaw(cio, raw)
	}
	writeQueryCheck(cio.out, local, name, &q)
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// writeQueryCheck prints a check: its scans through the link, each with
// the remote SQL and the conditions kept local; the local steps; advice.
func writeQueryCheck(w io.Writer, local, name string, q *cliQueryCheck) {
	heading(w, fmt.Sprintf("Query check %d of link %s in %s", q.ID, show(name), local))
	if !q.UsesLink {
		fmt.Fprintf(w, "The statement reads no foreign table of link %s.\n", show(name))
	}
	for _, s := range q.Scans {
		if !s.Mine {
			continue
		}
		fmt.Fprintf(w, "\nForeign scan of %s\n", show(s.Relations))
		rows := []kv{{"remote SQL", show(s.RemoteSQL)}, {"estimated rows", strconv.FormatFloat(s.EstRows, 'f', -1, 64)}}
		if s.EstFetched != nil {
			rows = append(rows, kv{"fetched (estimate)", strconv.FormatFloat(*s.EstFetched, 'f', -1, 64)})
		}
		if s.Actual {
			rows = append(rows, kv{"actual rows", strconv.FormatFloat(s.ActualRows, 'f', -1, 64)})
		}
		styledObject(w, rows...)
		for _, k := range s.KeptLocal {
			fmt.Fprintf(w, "  kept local: %s\n", show(k.Expr))
			writeReasons(w, k.Reasons)
		}
	}
	for _, l := range q.LocalSteps {
		fmt.Fprintf(w, "\nDone locally: %s %s\n", show(l.What), show(l.Detail))
		writeReasons(w, l.Reasons)
	}
	fmt.Fprintln(w)
	switch {
	case q.KeptLocal == 0 && q.UsesLink:
		fmt.Fprintln(w, "Every condition on the link's tables runs on the remote.")
	case q.KeptLocal > 0:
		fmt.Fprintf(w, "%d condition(s) run locally, after every row they filter was fetched from the remote.\n", q.KeptLocal)
	}
	if q.Analyze {
		fmt.Fprintf(w, "Executed in %.1f ms.\n", q.ExecutionMs)
	}
}

func writeReasons(w io.Writer, rs []cliReason) {
	for _, r := range rs {
		fmt.Fprintf(w, "    why: %s\n", show(r.Why))
		if r.Fix != "" {
			fmt.Fprintf(w, "    advice: %s\n", show(r.Fix))
		}
		if o := r.Option; o != nil {
			fmt.Fprintf(w, "    option: links:options ... --set %s=%s", show(o.Key), show(o.Value))
			if o.Table != "" {
				fmt.Fprintf(w, " --table %s", show(o.Table))
			}
			fmt.Fprintln(w)
		}
	}
}

// runQueries lists a link's saved query checks, newest first.
func runQueries(ctx context.Context, c *apiClient, f *cliFlags, cio cliIO) error {
	if err := f.want("links:queries", "LOCAL", "NAME"); err != nil {
		return err
	}
	local, name := f.args[0], f.args[1]
	var list struct {
		Checks []struct {
			ID        int64
			At        time.Time
			Actor     string
			Statement string
			Analyzed  bool
			KeptLocal int `json:"kept_local"`
		}
	}
	raw, err := c.get(ctx, pathEscape("databases", local, "links", name, "query"), &list)
	if err != nil {
		return err
	}
	if f.bools["json"] {
		return writeRaw(cio, raw)
	}
	rows := make([][]string, len(list.Checks))
	for i, ch := range list.Checks {
		rows[i] = []string{strconv.FormatInt(ch.ID, 10), herokuTime(ch.At), show(ch.Actor), strconv.Itoa(ch.KeptLocal), oneLine(ch.Statement, 60)}
	}
	psqlTable(cio.out, "Query checks of "+show(name), []string{"id", "at", "by", "kept local", "statement"}, rows)
	return nil
}

// runQueryInfo shows one saved query check.
func runQueryInfo(ctx context.Context, c *apiClient, f *cliFlags, cio cliIO) error {
	if err := f.want("links:queries:info", "LOCAL", "NAME", "ID"); err != nil {
		return err
	}
	local, name := f.args[0], f.args[1]
	if _, err := strconv.ParseInt(f.args[2], 10, 64); err != nil {
		return usageError(fmt.Sprintf("links:queries:info: ID %q is not a check's number (links:queries lists them)", f.args[2]))
	}
	var q cliQueryCheck
	raw, err := c.get(ctx, pathEscape("databases", local, "links", name, "query", f.args[2]), &q)
	if err != nil {
		return err
	}
	if f.bools["json"] {
		return writeRaw(cio, raw)
	}
	for _, line := range strings.Split(strings.TrimRight(q.Statement, "\n"), "\n") {
		fmt.Fprintln(cio.out, show(strings.TrimSuffix(line, "\r")))
	}
	fmt.Fprintln(cio.out)
	writeQueryCheck(cio.out, local, name, &q)
	return nil
}

// oneLine is s on one line, cut to n characters.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return show(s)
}
