package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The link page's "Connections through this link" from a terminal: the
// connections local sessions hold through a link, read on its remote,
// and ending them (after a repair: a session that connected before it
// keeps its old credentials or address until its connection ends).

func runConnections(ctx context.Context, c *apiClient, f *cliFlags, cio cliIO) error {
	if err := f.want("links:connections", "LOCAL", "NAME"); err != nil {
		return err
	}
	local, name := f.args[0], f.args[1]
	var rc struct {
		Link struct {
			Remote struct {
				ConfigVar string `json:"config_var"`
			}
		}
		AppName           string `json:"app_name"`
		KeepConnections   string `json:"keep_connections"`
		KeepConnectionsOn bool   `json:"keep_connections_on"`
		KeepSupported     bool   `json:"keep_supported"`
		Unread            string
		More              bool
		Role              string
		Endable           int
		Connections       []struct {
			PID              int32
			Role, Client     string
			Since            *time.Time
			State            string
			LastStatement    string `json:"last_statement"`
			LastStatementCut bool   `json:"last_statement_cut"`
		}
	}
	raw, err := c.get(ctx, pathEscape("databases", local, "links", name, "connections"), &rc)
	if err != nil {
		return err
	}
	if f.bools["json"] {
		return writeRaw(cio, raw)
	}
	w := cio.out
	heading(w, fmt.Sprintf("Connections through link %s in %s, on %s", show(name), local, rc.Link.Remote.ConfigVar))
	keep := "on (PostgreSQL's default)"
	switch {
	case !rc.KeepSupported:
		keep = "always on (the local server is older than PostgreSQL 14)"
	case rc.KeepConnections != "":
		keep = show(rc.KeepConnections)
	}
	styledObject(w, kv{"keep_connections", keep}, kv{"application_name", show(rc.AppName)})
	fmt.Fprintln(w)
	switch {
	case rc.Unread != "":
		return fmt.Errorf("%s", rc.Unread)
	case len(rc.Connections) == 0:
		fmt.Fprintln(w, "No local session holds a connection through this link now.")
		return nil
	}
	rows := make([][]string, len(rc.Connections))
	for i, cn := range rc.Connections {
		since := ""
		if cn.Since != nil {
			since = herokuTime(*cn.Since)
		}
		last := oneLine(cn.LastStatement, 60)
		if cn.LastStatementCut && !strings.HasSuffix(last, "…") {
			last += "…"
		}
		rows[i] = []string{strconv.Itoa(int(cn.PID)), show(cn.Role), show(cn.Client), since, show(cn.State), last}
	}
	psqlTable(w, "", []string{"pid", "role", "from", "connected", "state", "last statement"}, rows)
	if rc.More {
		fmt.Fprintln(w, "(the 50 oldest are shown)")
	}
	if n := len(rc.Connections) - rc.Endable; n > 0 && !rc.More {
		fmt.Fprintf(w, "%d of them belong to another role than pglinks' role %s on the remote, which may not end them.\n", n, show(rc.Role))
	}
	if rc.Endable > 0 {
		fmt.Fprintf(w, "web links:connections:end %s %s ends %d of them: each session connects afresh at its next statement through the link.\n", local, show(name), rc.Endable)
	}
	return nil
}

// runEndConnections shows the statement that ends a link's connections
// on its remote and how many it ends, asks for the link's name (or takes
// --confirm NAME, which the API compares), and ends them.
func runEndConnections(ctx context.Context, c *apiClient, f *cliFlags, cio cliIO) error {
	if err := f.want("links:connections:end", "LOCAL", "NAME"); err != nil {
		return err
	}
	local, name := f.args[0], f.args[1]
	if err := cannotAsk("links:connections:end", name, f, cio); err != nil {
		return err
	}
	path := pathEscape("databases", local, "links", name, "connections", "end")
	var plan struct {
		Remote, Role, Unread, SQL string
		Endable                   int
		Until                     *time.Time // ends only what was read by then
	}
	if _, err := c.get(ctx, path, &plan); err != nil {
		return err
	}
	if plan.Unread != "" {
		return fmt.Errorf("%s Nothing was ended.", plan.Unread)
	}
	w := cio.errw
	if !f.bools["json"] {
		w = cio.out
	}
	fmt.Fprintf(w, "%d connection(s) that local sessions of %s hold through link %s are open on %s as role %s. Ending them runs on %s:\n",
		plan.Endable, local, show(name), plan.Remote, show(plan.Role), plan.Remote)
	sqlLines(w, []string{plan.SQL})
	warning := []string{
		"WARNING: a statement running through one of them now fails;",
		"each session connects afresh at its next statement through the link (on PostgreSQL 13 that statement fails once).",
	}
	confirm, err := confirmName("links:connections:end", name, f, cio, warning)
	if err != nil {
		return err
	}
	var res struct {
		Ended   int
		Message string
	}
	raw, err := c.decode(ctx, http.MethodPost, path, map[string]any{"confirm": confirm, "until": plan.Until}, &res)
	if err != nil {
		return err
	}
	if f.bools["json"] {
		return writeRaw(cio, raw)
	}
	fmt.Fprintln(cio.out, res.Message)
	return nil
}
