package main

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/app"
	"github.com/pglinks/pglinks/internal/connect"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/state"
)

// README's Deadlines table says what the code does: each row's bounds, in
// order, are the code's values, and every fleet.Deadlines field is in
// some row but the internal ones below.
func TestREADMEDeadlines(t *testing.T) {
	d := fleet.DefaultDeadlines()
	dl := reflect.ValueOf(d)
	field := func(name string) time.Duration {
		f := dl.FieldByName(name)
		if !f.IsValid() {
			t.Fatalf("fleet.Deadlines has no field %s", name)
		}
		return time.Duration(f.Int())
	}
	// Each README row, by its "what" cell: fleet.Deadlines fields by name,
	// or a bound the code keeps elsewhere.
	code := map[string][]any{
		"a request": {app.DefaultRequestTimeout, writeTimeout},
		"connecting to a fleet database from pglinks":                    {"Connect"},
		"an inventory card, or a database's replication state":           {"Status"},
		"a page that reads the whole fleet (the inventory, Replication)": {"FleetPage"},
		"the fleet's status behind the create form":                      {"CreateForm"},
		"a link page or destroy plan":                                    {"Read"},
		"a create, destroy, refresh or import":                           {"Write", "Statement", "Lock"},
		"a repair":                                                       {"Repair", "RepairStatement"},
		"a foreign server connecting to its remote":                      {"RemoteConnect", "Keepalive"},
		"a replication change":                                           {"ReplicationStatement", "ReplicationProbe"},
		"a /metrics scrape":                                              {"Scrape"},
		"a call to the state database":                                   {state.DefaultCallTimeout},
		"a link page's Heroku Connect sync state, or one whole message":  {"ConnectSync", connect.DefaultOptions.StatementTimeout},
		"a query check":                                                  {"QueryCheck", fleet.DefaultDeadlines().QueryCheck / 2, 4 * fleet.DefaultDeadlines().QueryCheck},
		"analyze foreign tables":                                         {"AnalyzeTable", "AnalyzeAll"},
	}
	// Bounds of pglinks' own clean-up, not of anything a user asks for.
	internal := []string{"Rollback", "Abandon"}

	rows := readmeTable(t, "Deadlines")
	seen := map[string]bool{}
	covered := map[string]bool{}
	for _, r := range rows {
		what, bound := r[0], r[1]
		want, ok := code[what]
		if !ok {
			t.Errorf("README row %q has no counterpart in the code", what)
			continue
		}
		seen[what] = true
		var wantDur []time.Duration
		for _, v := range want {
			switch v := v.(type) {
			case string:
				covered[v] = true
				wantDur = append(wantDur, field(v))
			case time.Duration:
				wantDur = append(wantDur, v)
			}
		}
		if got := secondsIn(t, bound); !slices.Equal(got, wantDur) {
			t.Errorf("README row %q says %v, the code %v", what, got, wantDur)
		}
	}
	for what := range code {
		if !seen[what] {
			t.Errorf("README has no row %q", what)
		}
	}
	for i := range dl.NumField() {
		name := dl.Type().Field(i).Name
		if !covered[name] && !slices.Contains(internal, name) {
			t.Errorf("fleet.Deadlines.%s is in no README row", name)
		}
	}
}

// readmeTable returns the rows (cells trimmed, header and rule left out)
// of the first table under README's section heading.
func readmeTable(t *testing.T, heading string) [][]string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## "+heading+"\n")
	if !ok {
		t.Fatalf("README has no section %q", heading)
	}
	var rows [][]string
	inTable := false
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "## ") {
			break
		}
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		inTable = true
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if strings.HasPrefix(cells[0], "---") || cells[0] == "what" {
			continue
		}
		rows = append(rows, cells)
	}
	if len(rows) == 0 {
		t.Fatalf("README's %s section has no table", heading)
	}
	return rows
}

var secondsRe = regexp.MustCompile(`(\d+(?:\.\d+)?) s\b`)

// secondsIn reads every "N s" in text, in order.
func secondsIn(t *testing.T, text string) []time.Duration {
	t.Helper()
	var out []time.Duration
	for _, m := range secondsRe.FindAllStringSubmatch(text, -1) {
		f, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, time.Duration(f*float64(time.Second)))
	}
	return out
}
