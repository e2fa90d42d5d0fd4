package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// runIn runs the binary as the admin with in as its stdin (not a terminal).
func (e *cliEnv) runIn(t *testing.T, in string, args ...string) cliRun {
	t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Env = e.environ("PGLINKS_URL="+e.url, "PGLINKS_TOKEN="+e.admin)
	cmd.Stdin = strings.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := cliRun{out: out.String(), err: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return r
}

func (r cliRun) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.out), v); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.out)
	}
}

// The verbs for what the link page does besides create, destroy, refresh
// and repair: import tables, check now, the query check, options,
// ANALYZE, and the connections through the link. Each change shows its
// statement, asks (or takes --confirm NAME), refuses without a terminal
// and without --confirm (exit 2), and prints the API's JSON with --json.
func TestCLILinkTools(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	ctx := context.Background()
	viewer := func(args ...string) cliRun {
		return e.run(t, e.environ("PGLINKS_URL="+e.url, "PGLINKS_TOKEN="+e.viewer), args...)
	}
	pgtest.MustExec(t, e.remote.URL, `CREATE TABLE orders (id int, customer_id int)`)
	e.asAdmin(t, "links:create", "HEROKU_POSTGRESQL_BLUE_URL", "DATABASE_URL", "--as", "sales", "--tables", "customers").
		want(t, 0, "stdout", "done, 1 foreign tables")
	foreignTables := func() int {
		return pgtest.MustQueryInt(t, e.local.URL, "SELECT count(*) FROM information_schema.foreign_tables WHERE foreign_table_schema = 'sales'")
	}

	// links:import: what may be imported (hostile names escaped), then
	// the plan, confirmed.
	r := e.asAdmin(t, "links:import", "DATABASE_URL", "sales")
	r.want(t, 0, "stdout", "may import", "  orders\n", "evil<U+202E>live")
	if strings.ContainsAny(r.out, "\x1b\u202e") {
		t.Fatalf("a control or bidi character reached the terminal:\n%q", r.out)
	}
	e.asAdmin(t, "links:import", "DATABASE_URL", "sales", "--tables", "orders").want(t, 2, "stderr", "--confirm sales")
	e.asAdmin(t, "links:import", "DATABASE_URL", "sales", "--tables", "orders", "--confirm", "sale").want(t, 1, "stderr", "did not match")
	e.asAdmin(t, "links:import", "DATABASE_URL", "sales", "--tables", ",").want(t, 2, "stderr", "--tables needs table names")
	if foreignTables() != 1 {
		t.Fatal("a refused import imported")
	}
	e.asAdmin(t, "links:import", "DATABASE_URL", "sales", "--tables", "orders", "--confirm", "sales").
		want(t, 0, "stdout", "Importing orders into link sales in DATABASE_URL runs:", "IMPORT FOREIGN SCHEMA", "LIMIT TO", "done, 1 foreign tables: orders")
	if foreignTables() != 2 {
		t.Fatal("orders was not imported")
	}
	viewer("links:import", "DATABASE_URL", "sales", "--tables", "evil\u202elive", "--confirm", "sales").want(t, 1, "stderr", "Only admins may do this")

	// links:check: the probe, any role; --json is the API's answer.
	e.asAdmin(t, "links:check", "DATABASE_URL", "sales").want(t, 0, "stdout", "Checking link sales in DATABASE_URL... healthy (")
	r = viewer("links:check", "DATABASE_URL", "sales", "--json")
	r.want(t, 0, "stdout")
	var health struct{ Health struct{ State string } }
	if r.json(t, &health); health.Health.State != "healthy" {
		t.Fatalf("check --json: %s", r.out)
	}
	e.asAdmin(t, "links:check", "DATABASE_URL", "nope").want(t, 1, "stderr", `There is no link named "nope"`)

	// links:query: from --sql, --file and stdin; the remote SQL per scan
	// and why a condition stays local.
	const stmt = "SELECT * FROM sales.customers WHERE id = 1 AND id <> (random() * 10)::int"
	r = e.asAdmin(t, "links:query", "DATABASE_URL", "sales", "--sql", stmt)
	r.want(t, 0, "stdout", "=== Query check ", "Foreign scan of", "remote SQL:", "FROM public.customers WHERE ((id = 1))", "kept local:", "random()", "why: ")
	file := filepath.Join(t.TempDir(), "q.sql")
	if err := os.WriteFile(file, []byte("SELECT name\n  FROM sales.orders o JOIN sales.customers c ON c.id = o.customer_id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.asAdmin(t, "links:query", "DATABASE_URL", "sales", "--file", file).want(t, 0, "stdout", "remote SQL:")
	r = e.runIn(t, "SELECT id FROM sales.orders WHERE id > 3", "links:query", "DATABASE_URL", "sales", "-", "--json")
	r.want(t, 0, "stdout")
	var check struct {
		ID    int64
		Scans []struct {
			RemoteSQL string `json:"remote_sql"`
		}
	}
	if r.json(t, &check); check.ID == 0 || len(check.Scans) != 1 || !strings.Contains(check.Scans[0].RemoteSQL, "WHERE ((id > 3))") {
		t.Fatalf("query --json: %s", r.out)
	}
	e.asAdmin(t, "links:query", "DATABASE_URL", "sales").want(t, 2, "stderr", "--sql 'SELECT ...', --file FILE or -")
	e.asAdmin(t, "links:query", "DATABASE_URL", "sales", "--sql", "DELETE FROM sales.orders").want(t, 1, "stderr", "error: ")
	viewer("links:query", "DATABASE_URL", "sales", "--sql", stmt).want(t, 1, "stderr", "Only admins may do this")

	// links:queries and links:queries:info: the saved checks, any role.
	r = viewer("links:queries", "DATABASE_URL", "sales")
	r.want(t, 0, "stdout", "(3 rows)", "SELECT id FROM sales.orders WHERE id > 3", "admin@example.com (token cli)")
	id := strconv.FormatInt(check.ID, 10)
	viewer("links:queries:info", "DATABASE_URL", "sales", id).want(t, 0, "stdout", "SELECT id FROM sales.orders WHERE id > 3\n", "=== Query check "+id+" ", "WHERE ((id > 3))")
	viewer("links:queries:info", "DATABASE_URL", "sales", "x").want(t, 2, "stderr", "is not a check's number")
	r = viewer("links:queries", "DATABASE_URL", "sales", "--json")
	var checks struct{ Checks []struct{ ID int64 } }
	if r.json(t, &checks); len(checks.Checks) != 3 || checks.Checks[0].ID != check.ID {
		t.Fatalf("queries --json: %s", r.out)
	}

	// links:options: shown to any role; a change shows its statement,
	// asks, and runs; per table too.
	serverHas := func(opt string) bool {
		return pgtest.MustQueryInt(t, e.local.URL, "SELECT count(*) FROM pg_foreign_server WHERE srvname = 'sales' AND '"+opt+"' = ANY(srvoptions)") == 1
	}
	viewer("links:options", "DATABASE_URL", "sales").want(t, 0, "stdout", "=== Options of link sales in DATABASE_URL", "fetch_size", "100 (default)", "2 foreign tables, 2 never analyzed.")
	e.asAdmin(t, "links:options", "DATABASE_URL", "sales", "--set", "fetch_size=5000").want(t, 2, "stderr", "--confirm sales")
	e.asAdmin(t, "links:options", "DATABASE_URL", "sales", "--set", "fetch_size").want(t, 2, "stderr", "--set takes KEY=VALUE")
	e.asAdmin(t, "links:options", "DATABASE_URL", "sales", "--set", "fetch_size=0", "--confirm", "sales").want(t, 1, "stderr", "whole number")
	if serverHas("fetch_size=5000") {
		t.Fatal("a refused change changed the server")
	}
	e.asAdmin(t, "links:options", "DATABASE_URL", "sales", "--set", "fetch_size=5000", "--confirm", "sales").
		want(t, 0, "stdout", `ALTER SERVER "sales" OPTIONS (ADD fetch_size '5000');`, "fetch_size of the server set to 5000")
	if !serverHas("fetch_size=5000") {
		t.Fatal("fetch_size not set")
	}
	r = e.asAdmin(t, "links:options", "DATABASE_URL", "sales", "--set", "fetch_size=50", "--table", "orders", "--confirm", "sales", "--json")
	r.want(t, 0, "stdout")
	var changed struct {
		SQL    string
		Change struct{ Table, Key, Value string }
	}
	if r.json(t, &changed); changed.Change.Table != "orders" || !strings.HasPrefix(changed.SQL, "ALTER FOREIGN TABLE ") {
		t.Fatalf("options --json: %s", r.out)
	}
	if !strings.Contains(r.err, "ALTER FOREIGN TABLE") {
		t.Errorf("--json: the plan is not on stderr:\n%s", r.err)
	}
	viewer("links:options", "DATABASE_URL", "sales").want(t, 0, "stdout", "5000", "orders: fetch_size=50")
	viewer("links:options", "DATABASE_URL", "sales", "--set", "fetch_size=", "--confirm", "sales").want(t, 1, "stderr", "Only admins may do this")

	// links:analyze.
	e.asAdmin(t, "links:analyze", "DATABASE_URL", "sales").want(t, 2, "stderr", "--confirm sales")
	e.asAdmin(t, "links:analyze", "DATABASE_URL", "sales", "--confirm", "sales").want(t, 0, "stdout", "ANALYZE of the 2 foreign tables", "Analyzed 2 of 2 foreign tables of sales")
	viewer("links:options", "DATABASE_URL", "sales").want(t, 0, "stdout", "2 foreign tables, 0 never analyzed.")

	// links:connections and links:connections:end.
	session, err := pgx.Connect(ctx, e.local.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close(ctx)
	if _, err := session.Exec(ctx, "SELECT count(*) FROM sales.customers"); err != nil {
		t.Fatal(err)
	}
	r = viewer("links:connections", "DATABASE_URL", "sales")
	r.want(t, 0, "stdout", "=== Connections through link sales in DATABASE_URL, on HEROKU_POSTGRESQL_BLUE_URL", "keep_connections:", "on (PostgreSQL's default)", "(1 row)", "links:connections:end DATABASE_URL sales ends 1")
	if !regexp.MustCompile(`(?m)^ \d+ +\| `).MatchString(r.out) {
		t.Errorf("no pid row:\n%s", r.out)
	}
	r = viewer("links:connections", "DATABASE_URL", "sales", "--json")
	var conns struct{ Connections []struct{ PID int32 } }
	if r.json(t, &conns); len(conns.Connections) != 1 {
		t.Fatalf("connections --json: %s", r.out)
	}
	pid := conns.Connections[0].PID
	alive := func() bool {
		return pgtest.MustQueryInt(t, e.remote.URL, "SELECT count(*) FROM pg_stat_activity WHERE pid = "+strconv.Itoa(int(pid))) == 1
	}
	e.asAdmin(t, "links:connections:end", "DATABASE_URL", "sales").want(t, 2, "stderr", "re-run it with --confirm sales")
	e.asAdmin(t, "links:connections:end", "DATABASE_URL", "sales", "--confirm", "Sales").want(t, 1, "stderr", "does not match")
	viewer("links:connections:end", "DATABASE_URL", "sales", "--confirm", "sales").want(t, 1, "stderr", "Only admins may do this")
	if !alive() {
		t.Fatal("a refused end ended the connection")
	}
	out, code := e.onTerminal(t, "sales", "links:connections:end", "DATABASE_URL", "sales")
	for _, want := range []string{"1 connection(s) that local sessions of DATABASE_URL hold through link sales", "pg_terminate_backend(pid)", `To proceed, type "sales"`, "Ended 1 connection(s) through link sales"} {
		if !strings.Contains(out, want) {
			t.Fatalf("on a terminal: no %q in:\n%s", want, out)
		}
	}
	if code != 0 || alive() {
		t.Fatalf("on a terminal: exit %d, connection alive %v\n%s", code, alive(), out)
	}
	e.asAdmin(t, "links:connections", "DATABASE_URL", "sales").want(t, 0, "stdout", "No local session holds a connection through this link now.")
	if _, err := session.Exec(ctx, "SELECT count(*) FROM sales.customers"); err != nil {
		t.Fatalf("the session does not connect afresh: %v", err)
	}
	r = e.asAdmin(t, "links:connections:end", "DATABASE_URL", "sales", "--confirm", "sales", "--json")
	var ended struct{ Ended int }
	r.want(t, 0, "stdout")
	if r.json(t, &ended); ended.Ended != 1 || !strings.Contains(r.err, "pg_terminate_backend") {
		t.Fatalf("connections:end --json: %s\n%s", r.out, r.err)
	}
}
