package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The API's answers, as far as the verbs read them.

type cliSupport struct {
	OK     bool
	Reason string
}

type cliDatabaseRef struct {
	ConfigVar    string `json:"config_var"`
	ResourceName string `json:"resource_name"`
	Reachable    bool
	Pending      bool
	Error        string
	Support      cliSupport
}

type cliHealth struct {
	State     string
	Reason    string
	RTTMillis int64 `json:"rtt_ms"`
}

type cliStale struct {
	Stale, Repairable bool
	Summary           string
	Changes           []string
}

type cliLink struct {
	Name      string
	Kind      string
	Local     string
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	Remote    struct {
		ConfigVar    string `json:"config_var"`
		ResourceName string `json:"resource_name"`
	}
	RemoteName   string `json:"remote_name"`
	RemoteSchema string `json:"remote_schema"`
	ReadOnly     bool   `json:"read_only"`
	Tables       []string
	TableCount   int `json:"table_count"`
	Health       cliHealth
	Stale        *cliStale
}

type cliDatabase struct {
	cliDatabaseRef
	Links []cliLink
}

type cliPage struct {
	NextPage *int `json:"next_page"`
}

type cliDependent struct{ Description string }

// writeJSON prints the API's JSON as it came, for scripts.
func writeRaw(cio cliIO, b []byte) error {
	_, err := cio.out.Write(b)
	return err
}

// runLinks lists links as `heroku pg:links` does: every database's, or
// one database's with --db.
func runLinks(ctx context.Context, c *apiClient, f *cliFlags, cio cliIO) error {
	if err := f.want("links"); err != nil {
		return err
	}
	if db := f.strs["db"]; db != "" {
		var list struct {
			Database cliDatabaseRef
			Links    []cliLink
		}
		raw, err := c.get(ctx, pathEscape("databases", db, "links"), &list)
		if err != nil {
			return err
		}
		if f.bools["json"] {
			return writeRaw(cio, raw)
		}
		writeLinks(cio.out, list.Database, list.Links)
		return nil
	}
	var all []json.RawMessage
	var dbs []cliDatabase
	for page := 1; ; page++ {
		var p struct {
			Databases []json.RawMessage
			cliPage
		}
		if _, err := c.get(ctx, fmt.Sprintf("/databases?per_page=500&page=%d", page), &p); err != nil {
			return err
		}
		for _, raw := range p.Databases {
			var d cliDatabase
			if err := json.Unmarshal(raw, &d); err != nil {
				return err
			}
			all, dbs = append(all, raw), append(dbs, d)
		}
		if p.NextPage == nil {
			break
		}
	}
	if f.bools["json"] {
		b, err := json.MarshalIndent(map[string]any{"databases": all}, "", "  ")
		if err != nil {
			return err
		}
		return writeRaw(cio, append(b, '\n'))
	}
	for i, d := range dbs {
		if i > 0 {
			fmt.Fprintln(cio.out)
		}
		writeLinks(cio.out, d.cliDatabaseRef, d.Links)
	}
	return nil
}

type cliForeignTable struct {
	Schema, Name, Server string
	RemoteSchema         string `json:"remote_schema"`
	RemoteTable          string `json:"remote_table"`
	RedisType            string `json:"redis_type"`
	KeyPrefix            string `json:"key_prefix"`
	Columns              []struct {
		Name, Type string
		NotNull    bool `json:"not_null"`
	}
}

// runLinkInfo shows a link and its foreign tables, as psql's \det.
func runLinkInfo(ctx context.Context, c *apiClient, f *cliFlags, cio cliIO) error {
	if err := f.want("links:info", "LOCAL", "NAME"); err != nil {
		return err
	}
	local, name := f.args[0], f.args[1]
	var link json.RawMessage
	var l cliLink
	var tables []cliForeignTable
	var rawTables []json.RawMessage
	for page := 1; ; page++ {
		var p struct {
			Link   json.RawMessage
			Tables []json.RawMessage
			cliPage
		}
		if _, err := c.get(ctx, pathEscape("databases", local, "links", name)+fmt.Sprintf("?per_page=500&page=%d", page), &p); err != nil {
			return err
		}
		link = p.Link
		for _, raw := range p.Tables {
			var t cliForeignTable
			if err := json.Unmarshal(raw, &t); err != nil {
				return err
			}
			tables, rawTables = append(tables, t), append(rawTables, raw)
		}
		if p.NextPage == nil {
			break
		}
	}
	if f.bools["json"] {
		b, err := json.MarshalIndent(map[string]any{"link": link, "tables": rawTables}, "", "  ")
		if err != nil {
			return err
		}
		return writeRaw(cio, append(b, '\n'))
	}
	if err := json.Unmarshal(link, &l); err != nil {
		return err
	}
	w := cio.out
	heading(w, fmt.Sprintf("%s in %s", show(l.Name), l.Local))
	imports := fmt.Sprintf("every table of %s (%d)", show(l.RemoteSchema), l.TableCount)
	if l.Tables != nil {
		imports = showAll(l.Tables)
	}
	stale := "no"
	if l.Stale != nil && l.Stale.Stale {
		stale = l.Stale.Summary
	}
	rows := []kv{
		{"created_at", herokuTime(l.CreatedAt)},
		{"created_by", show(l.CreatedBy)},
		{"remote", fmt.Sprintf("%s (%s)", l.Remote.ConfigVar, l.Remote.ResourceName)},
		{"remote_name", show(l.RemoteName)},
	}
	if l.Kind == "redis" { // no schema, no catalog, no drift: tables by key type and prefix
		rows = append(rows, kv{"kind", "redis"}, kv{"tables", fmt.Sprint(l.TableCount)})
	} else {
		rows = append(rows, kv{"remote_schema", show(l.RemoteSchema)}, kv{"tables", imports})
	}
	rows = append(rows, kv{"read_only", fmt.Sprint(l.ReadOnly)}, kv{"health", healthText(l.Health)})
	if l.Kind != "redis" {
		rows = append(rows, kv{"stale", stale})
	}
	styledObject(w, rows...)
	fmt.Fprintln(w)
	det := make([][]string, len(tables))
	for i, t := range tables {
		det[i] = []string{show(t.Schema), show(t.Name), show(t.Server)}
	}
	psqlTable(w, "List of foreign tables", []string{"Schema", "Table", "Server"}, det)
	for _, t := range tables {
		fmt.Fprintf(w, "\n%s.%s", show(t.Schema), show(t.Name))
		switch {
		case l.Kind == "redis" && t.KeyPrefix == "":
			fmt.Fprintf(w, " (redis %s, every key)", show(t.RedisType))
		case l.Kind == "redis":
			fmt.Fprintf(w, " (redis %s, keys starting with %q)", show(t.RedisType), show(t.KeyPrefix))
		case t.RemoteTable != t.Name || t.RemoteSchema != l.RemoteSchema:
			fmt.Fprintf(w, " (remote %s.%s)", show(t.RemoteSchema), show(t.RemoteTable))
		}
		fmt.Fprintln(w)
		cols := make([]kv, len(t.Columns))
		for i, col := range t.Columns {
			typ := show(col.Type)
			if col.NotNull {
				typ += " not null"
			}
			cols[i] = kv{"  " + show(col.Name), typ}
		}
		styledObject(w, cols...)
	}
	return nil
}

// runCreate is `pg:links:create REMOTE LOCAL --as NAME`.
func runCreate(ctx context.Context, c *apiClient, f *cliFlags, cio cliIO) error {
	if err := f.want("links:create", "REMOTE", "LOCAL"); err != nil {
		return err
	}
	remote, local := f.args[0], f.args[1]
	body := map[string]any{"remote": remote}
	if v := f.strs["as"]; v != "" {
		body["name"] = v
	}
	if v := f.strs["schema"]; v != "" {
		body["remote_schema"] = v
	}
	if _, ok := f.strs["tables"]; ok {
		tables, err := f.tables("links:create")
		if err != nil {
			return err
		}
		body["tables"] = tables
	}
	if specs := f.all["redis-table"]; len(specs) > 0 {
		tables := make([]map[string]string, len(specs))
		for i, spec := range specs {
			// The prefix is the rest: a key prefix may hold colons.
			parts := strings.SplitN(spec, ":", 3)
			if len(parts) < 2 || parts[0] == "" {
				return usageError(fmt.Sprintf("links:create: --redis-table takes NAME:TYPE[:PREFIX] (TYPE string, hash, list, set or zset), not %q", spec))
			}
			tables[i] = map[string]string{"name": parts[0], "type": parts[1]}
			if len(parts) == 3 {
				tables[i]["key_prefix"] = parts[2]
			}
		}
		body["redis_tables"] = tables
	}
	for flag, field := range map[string]string{"read-only": "read_only", "duplicate-ok": "duplicate_ok", "dry-run": "dry_run", "writable": "writable"} {
		if f.bools[flag] {
			body[field] = true
		}
	}
	if f.bools["no-copy-enums"] {
		body["copy_enums"] = false
	}
	path := pathEscape("databases", local, "links")
	if f.bools["dry-run"] {
		var p struct {
			Name       string
			Statements []string
		}
		raw, err := c.decode(ctx, http.MethodPost, path, body, &p)
		if err != nil {
			return err
		}
		if f.bools["json"] {
			return writeRaw(cio, raw)
		}
		fmt.Fprintf(cio.out, "Creating link %s from %s into %s would run (passwords masked; nothing was changed):\n", show(p.Name), remote, local)
		sqlLines(cio.out, p.Statements)
		return nil
	}
	var res struct {
		Link   cliLink
		Tables int
	}
	raw, err := c.decode(ctx, http.MethodPost, path, body, &res)
	if err != nil {
		return err
	}
	if f.bools["json"] {
		return writeRaw(cio, raw)
	}
	fmt.Fprintf(cio.out, "Adding link %s from %s to %s... done, %d foreign tables\n", show(res.Link.Name), remote, local, res.Tables)
	return nil
}

// runDestroy is `pg:links:destroy LOCAL NAME`: it shows what goes, asks
// for the name on a terminal (or takes --confirm NAME), and destroys
// exactly the plan it showed (its fingerprint).
func runDestroy(ctx context.Context, c *apiClient, f *cliFlags, cio cliIO) error {
	if err := f.want("links:destroy", "LOCAL", "NAME"); err != nil {
		return err
	}
	local, name := f.args[0], f.args[1]
	path := pathEscape("databases", local, "links", name, "destroy")
	if _, ok := f.strs["confirm"]; !ok && !cio.isTerminal() {
		_, err := confirmName("links:destroy", name, f, cio, nil)
		return err
	}
	var plan struct {
		Dependents  []cliDependent
		Blockers    []string
		Fingerprint string
	}
	if _, err := c.get(ctx, path, &plan); err != nil {
		return err
	}
	if len(plan.Blockers) > 0 {
		return fmt.Errorf("link %s cannot be destroyed while these are in the way (nothing was destroyed):\n  %s", show(name), strings.Join(plan.Blockers, "\n  "))
	}
	warning := []string{
		"WARNING: Destructive Action",
		"This command will affect the database: " + local,
		fmt.Sprintf("This will delete %s along with the tables and views created within it.", show(name)),
		fmt.Sprintf("This may have adverse effects for software written against the %s schema.", show(name)),
	}
	for _, d := range plan.Dependents {
		warning = append(warning, "It also drops, outside the link: "+show(d.Description))
	}
	confirm, err := confirmName("links:destroy", name, f, cio, warning)
	if err != nil {
		return err
	}
	raw, err := c.decode(ctx, http.MethodPost, path, map[string]any{"confirm": confirm, "fingerprint": plan.Fingerprint}, nil)
	if err != nil {
		return err
	}
	if f.bools["json"] {
		return writeRaw(cio, raw)
	}
	fmt.Fprintf(cio.out, "Deleting link %s in %s... done\n", show(name), local)
	return nil
}

// runRefresh shows a link's drift and the SQL that fixes it, asks, and
// applies exactly that plan.
func runRefresh(ctx context.Context, c *apiClient, f *cliFlags, cio cliIO) error {
	if err := f.want("links:refresh", "LOCAL", "NAME"); err != nil {
		return err
	}
	local, name := f.args[0], f.args[1]
	path := pathEscape("databases", local, "links", name, "refresh")
	if _, ok := f.strs["confirm"]; !ok && !cio.isTerminal() {
		return confirmChange("links:refresh", name, f, cio, nil)
	}
	var plan struct {
		Drift struct {
			NewTables  []string `json:"new_tables"`
			GoneTables []string `json:"gone_tables"`
			Tables     []struct{ Table string }
			Enums      []struct{ Type string }
		}
		SQL         []string
		Dependents  []cliDependent
		Blockers    []string
		Summary     string
		Empty       bool
		Fingerprint string
	}
	raw, err := c.get(ctx, path, &plan)
	if err != nil {
		return err
	}
	if plan.Empty {
		if f.bools["json"] {
			return writeRaw(cio, raw)
		}
		fmt.Fprintf(cio.out, "Link %s in %s is in step with its remote: nothing to refresh.\n", show(name), local)
		return nil
	}
	if len(plan.Blockers) > 0 {
		return fmt.Errorf("link %s cannot be refreshed while these are in the way (nothing was changed):\n  %s", show(name), strings.Join(plan.Blockers, "\n  "))
	}
	w := cio.errw
	if !f.bools["json"] {
		w = cio.out
	}
	fmt.Fprintf(w, "Link %s in %s differs from its remote: %s.\n", show(name), local, plan.Summary)
	if len(plan.Drift.NewTables) > 0 {
		fmt.Fprintln(w, "  on the remote, not in the link: "+showAll(plan.Drift.NewTables))
	}
	if len(plan.Drift.GoneTables) > 0 {
		fmt.Fprintln(w, "  in the link, not on the remote: "+showAll(plan.Drift.GoneTables))
	}
	for _, t := range plan.Drift.Tables {
		fmt.Fprintln(w, "  changed columns: "+show(t.Table))
	}
	for _, e := range plan.Drift.Enums {
		fmt.Fprintln(w, "  changed enum type: "+show(e.Type))
	}
	fmt.Fprintln(w, "Refresh runs:")
	sqlLines(w, plan.SQL)
	var warning []string
	for _, d := range plan.Dependents {
		warning = append(warning, "It also drops, outside the link: "+show(d.Description))
	}
	if err := confirmChange("links:refresh", name, f, cio, warning); err != nil {
		return err
	}
	var res struct{ Summary string }
	raw, err = c.decode(ctx, http.MethodPost, path, map[string]any{"fingerprint": plan.Fingerprint}, &res)
	if err != nil {
		return err
	}
	if f.bools["json"] {
		return writeRaw(cio, raw)
	}
	fmt.Fprintf(cio.out, "Refreshing link %s in %s... done: %s\n", show(name), local, res.Summary)
	return nil
}

// confirmChange asks for (or takes) the link's name before a refresh or
// repair: the API needs no typed name for these, so the comparison is
// made here, exactly.
func confirmChange(verb, name string, f *cliFlags, cio cliIO, warning []string) error {
	typed, err := confirmName(verb, name, f, cio, warning)
	if err != nil {
		return err
	}
	if typed != name {
		return errNotConfirmed(name)
	}
	return nil
}

// runRepair shows how a stale link differs from its remote's config var
// and the SQL that repairs it, asks, and repairs.
func runRepair(ctx context.Context, c *apiClient, f *cliFlags, cio cliIO) error {
	if err := f.want("links:repair", "LOCAL", "NAME"); err != nil {
		return err
	}
	local, name := f.args[0], f.args[1]
	path := pathEscape("databases", local, "links", name, "repair")
	if _, ok := f.strs["confirm"]; !ok && !cio.isTerminal() {
		return confirmChange("links:repair", name, f, cio, nil)
	}
	var plan struct {
		Stale       *cliStale
		SQL         []string
		Fingerprint string
	}
	if _, err := c.get(ctx, path, &plan); err != nil {
		return err
	}
	w := cio.errw
	if !f.bools["json"] {
		w = cio.out
	}
	summary := ""
	if plan.Stale != nil {
		summary = plan.Stale.Summary
	}
	fmt.Fprintf(w, "Link %s in %s is stale: %s.\nRepair runs (passwords masked):\n", show(name), local, summary)
	sqlLines(w, plan.SQL)
	if err := confirmChange("links:repair", name, f, cio, nil); err != nil {
		return err
	}
	var res struct{ Health cliHealth }
	raw, err := c.decode(ctx, http.MethodPost, path, map[string]any{"fingerprint": plan.Fingerprint}, &res)
	if err != nil {
		return err
	}
	if f.bools["json"] {
		return writeRaw(cio, raw)
	}
	fmt.Fprintf(cio.out, "Repairing link %s in %s... done; now %s\n", show(name), local, healthText(res.Health))
	return nil
}
