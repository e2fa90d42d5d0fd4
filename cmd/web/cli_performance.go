package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// A link's Performance section from a terminal: its postgres_fdw options
// (shown, or one changed after its plan is shown and confirmed) and
// ANALYZE of its foreign tables.

type cliPerformance struct {
	Options []struct {
		Key, Default, Value, What string
		Table                     bool
		IsSet                     bool `json:"is_set"`
	}
	Tables []struct {
		Table   string
		Options map[string]string
	}
	TablesWithOptions int `json:"tables_with_options"`
	TableCount        int `json:"table_count"`
	NeverAnalyzed     int `json:"never_analyzed"`
	Advice            []struct {
		Text   string
		Option *struct{ Table, Key, Value string }
	}
	ReadOnly    bool  `json:"read_only"`
	AnalyzeAllS int64 `json:"analyze_all_s"`
}

func performancePath(local, name string) string {
	return pathEscape("databases", local, "links", name, "performance")
}

// runOptions shows a link's options, or with --set KEY=VALUE [--table T]
// shows the statement that changes one, asks, and runs it (VALUE empty:
// back to the default).
func runOptions(ctx context.Context, c *apiClient, f *cliFlags, cio cliIO) error {
	if err := f.want("links:options", "LOCAL", "NAME"); err != nil {
		return err
	}
	local, name := f.args[0], f.args[1]
	set, change := f.strs["set"]
	if !change {
		if _, ok := f.strs["table"]; ok {
			return usageError("links:options: --table goes with --set KEY=VALUE")
		}
		var p cliPerformance
		raw, err := c.get(ctx, performancePath(local, name), &p)
		if err != nil {
			return err
		}
		if f.bools["json"] {
			return writeRaw(cio, raw)
		}
		writeOptions(cio, local, name, &p)
		return nil
	}
	key, value, ok := strings.Cut(set, "=")
	if !ok || strings.TrimSpace(key) == "" {
		return usageError("links:options: --set takes KEY=VALUE (KEY= puts the option back to its default)")
	}
	if err := cannotAsk("links:options", name, f, cio); err != nil {
		return err
	}
	body := map[string]any{"key": key, "value": value, "table": f.strs["table"]}
	path := pathEscape("databases", local, "links", name, "options")
	var plan struct {
		SQL      string
		Current  string
		IsSet    bool `json:"is_set"`
		Warnings []string
	}
	if _, err := c.get(ctx, path+"?"+url.Values{"key": {key}, "value": {value}, "table": {f.strs["table"]}}.Encode(), &plan); err != nil {
		return err
	}
	w := cio.errw
	if !f.bools["json"] {
		w = cio.out
	}
	now := "not set"
	if plan.IsSet {
		now = "now " + show(plan.Current)
	}
	fmt.Fprintf(w, "Option %s of link %s in %s (%s) changes with:\n", show(key), show(name), local, now)
	sqlLines(w, []string{plan.SQL})
	for _, wa := range plan.Warnings {
		fmt.Fprintln(w, "warning: "+show(wa))
	}
	if err := confirmChange("links:options", name, f, cio, nil); err != nil {
		return err
	}
	var res struct{ Message string }
	raw, err := c.decode(ctx, http.MethodPost, path, body, &res)
	if err != nil {
		return err
	}
	if f.bools["json"] {
		return writeRaw(cio, raw)
	}
	fmt.Fprintln(cio.out, res.Message)
	return nil
}

func writeOptions(cio cliIO, local, name string, p *cliPerformance) {
	w := cio.out
	heading(w, fmt.Sprintf("Options of link %s in %s", show(name), local))
	rows := make([][]string, len(p.Options))
	for i, o := range p.Options {
		value := show(o.Value)
		if value == "" {
			value = "(none)"
		}
		if !o.IsSet {
			value += " (default)"
		}
		perTable := ""
		if o.Table {
			perTable = "yes"
		}
		rows[i] = []string{o.Key, value, perTable}
	}
	psqlTable(w, "", []string{"Option", "Value", "Per table too"}, rows)
	if len(p.Tables) > 0 {
		fmt.Fprintf(w, "\nForeign tables with options of their own (%d):\n", p.TablesWithOptions)
		for _, t := range p.Tables {
			keys := make([]string, 0, len(t.Options))
			for k, v := range t.Options {
				keys = append(keys, show(k)+"="+show(v))
			}
			slices.Sort(keys)
			fmt.Fprintf(w, "  %s: %s\n", show(t.Table), strings.Join(keys, ", "))
		}
	}
	fmt.Fprintf(w, "\n%d foreign tables, %d never analyzed.\n", p.TableCount, p.NeverAnalyzed)
	for _, a := range p.Advice {
		fmt.Fprintln(w, "advice: "+show(a.Text))
		if o := a.Option; o != nil {
			line := fmt.Sprintf("  web links:options %s %s --set %s=%s", local, show(name), show(o.Key), show(o.Value))
			if o.Table != "" {
				line += " --table " + show(o.Table)
			}
			fmt.Fprintln(w, line)
		}
	}
}

// runAnalyze runs ANALYZE on a link's foreign tables (each reads its
// table's rows from the remote), after saying how many and asking.
func runAnalyze(ctx context.Context, c *apiClient, f *cliFlags, cio cliIO) error {
	if err := f.want("links:analyze", "LOCAL", "NAME"); err != nil {
		return err
	}
	local, name := f.args[0], f.args[1]
	if err := cannotAsk("links:analyze", name, f, cio); err != nil {
		return err
	}
	var p cliPerformance
	if _, err := c.get(ctx, performancePath(local, name), &p); err != nil {
		return err
	}
	w := cio.errw
	if !f.bools["json"] {
		w = cio.out
	}
	fmt.Fprintf(w, "ANALYZE of the %d foreign tables of link %s in %s (%d never analyzed) reads each table's rows from the remote (every row before PostgreSQL 16), one table at a time, for at most %d s; a run that stops is continued by the next.\n",
		p.TableCount, show(name), local, p.NeverAnalyzed, p.AnalyzeAllS)
	if err := confirmChange("links:analyze", name, f, cio, nil); err != nil {
		return err
	}
	var res struct {
		Analyzed  []string
		Failed    []struct{ Table, Reason string }
		Remaining int
		Message   string
	}
	raw, err := c.decode(ctx, http.MethodPost, pathEscape("databases", local, "links", name, "analyze"), map[string]any{}, &res)
	if err != nil {
		return err
	}
	if f.bools["json"] {
		if err := writeRaw(cio, raw); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(cio.out, show(res.Message))
	}
	if len(res.Failed) > 0 {
		return fmt.Errorf("ANALYZE failed on %d table(s) of link %s", len(res.Failed), show(name))
	}
	return nil
}
