package fdwtest

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// The seed's query, verbatim: a join driven from PostgreSQL reads one key
// per widget (a parameterized scan in a nested loop), never the keyspace.
func TestSeedJoin(t *testing.T) {
	conn, _ := newDB(t)
	flush(t, plain)
	createServer(t, conn, "hredis_server", plain, "", "")
	mustExec(t, conn, "CREATE SCHEMA hredis")
	mustExec(t, conn, "CREATE FOREIGN TABLE hredis.redis (key text, value text) SERVER hredis_server OPTIONS (type 'string')")
	mustExec(t, conn, "CREATE TABLE widgets (id int PRIMARY KEY, name text, stock int)")
	mustExec(t, conn, "INSERT INTO widgets SELECT g, 'widget ' || g, g * 3 FROM generate_series(1, 30) g")
	// Counters for widgets 1..25 (26..30 have none), and keys the join must
	// never touch.
	counters := map[int]string{}
	for id := 1; id <= 25; id++ {
		counters[id] = fmt.Sprint((id * 37) % 101)
		redisDo(t, plain, "SET", fmt.Sprintf("widget:%d", id), counters[id])
	}
	seed(t, plain, "unrelated:", 2000, func(i int) string { return "x" })

	const seedQuery = `SELECT w.id, w.name, w.stock, r.value AS my_counter FROM widgets w JOIN hredis.redis r ON r.key = CONCAT('widget:', w.id) ORDER BY r.value DESC;`

	plan := explain(t, conn, seedQuery)
	if !strings.Contains(plan, "Nested Loop") || !strings.Contains(plan, "Redis command: GET (1 key per execution)") ||
		strings.Contains(plan, "SCAN") {
		t.Fatalf("the join is not one key lookup per widget:\n%s", plan)
	}

	var got [][]string
	c := calls(t, plain, func() { got = rows(t, conn, seedQuery) })
	type row struct{ id, counter string }
	var want []row
	for id, v := range counters {
		want = append(want, row{fmt.Sprint(id), v})
	}
	// ORDER BY r.value DESC compares text, as the seed's query does.
	sort.SliceStable(want, func(i, j int) bool { return want[i].counter > want[j].counter })
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i][3] != want[i].counter || got[i][1] != "widget "+got[i][0] {
			t.Errorf("row %d = %v, want counter %s", i, got[i], want[i].counter)
		}
		if counters[atoi(t, got[i][0])] != got[i][3] {
			t.Errorf("widget %s joined to %s", got[i][0], got[i][3])
		}
	}
	// One GET per widget row (30, five of which find nothing), no SCAN.
	if c["scan"] != 0 || c["get"] != 30 || c["mget"] != 0 {
		t.Errorf("Redis commands for the join: %v, want get=30 and no scan", c)
	}
	t.Logf("seed join: %d rows, Redis commands %v", len(got), c)

	analyzed := strings.Join(flatten(rows(t, conn, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) "+seedQuery)), "\n")
	if !strings.Contains(analyzed, "Redis commands: 30") || !strings.Contains(analyzed, "loops=30") {
		t.Errorf("EXPLAIN ANALYZE:\n%s", analyzed)
	}

	// A LEFT JOIN keeps widgets without a counter and still looks keys up.
	c = calls(t, plain, func() {
		got = rows(t, conn, "SELECT w.id, r.value FROM widgets w LEFT JOIN hredis.redis r ON r.key = 'widget:' || w.id WHERE w.id > 20 ORDER BY w.id")
	})
	if len(got) != 10 || got[9][1] != "<nil>" || got[0][1] != counters[21] || c["scan"] != 0 || c["get"] != 10 {
		t.Errorf("LEFT JOIN: %v, commands %v", got, c)
	}
}

func atoi(t *testing.T, s string) int {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func flatten(r [][]string) []string {
	var out []string
	for _, row := range r {
		out = append(out, row...)
	}
	return out
}

// key = constant is one GET, key = ANY(array) and IN lists one MGET per
// batch_size keys, parameters of a generic plan the same; keys outside the
// table's prefix are not asked for at all.
func TestKeyLookups(t *testing.T) {
	conn, _ := newDB(t)
	flush(t, plain)
	seed(t, plain, "widget:", 300, func(i int) string { return fmt.Sprint(i * 2) })
	createServer(t, conn, "r", plain, "", "")
	mustExec(t, conn, "CREATE FOREIGN TABLE redis (key text, value text) SERVER r OPTIONS (type 'string')")
	mustExec(t, conn, "CREATE FOREIGN TABLE widgets (key text, value text) SERVER r OPTIONS (type 'string', key_prefix 'widget:')")

	for _, tc := range []struct {
		name, sql, plan string
		rows            int
		calls           map[string]int64
	}{
		{"Const", "SELECT value FROM redis WHERE key = 'widget:7'", `Redis command: GET "widget:7"`, 1, map[string]int64{"get": 1}},
		{"ConstMissing", "SELECT value FROM redis WHERE key = 'nope'", `Redis command: GET "nope"`, 0, map[string]int64{"get": 1}},
		{"Any", "SELECT value FROM redis WHERE key = ANY(ARRAY['widget:1','widget:2','widget:3','nope'])",
			"Redis command: MGET (4 keys, 100 per round trip)", 3, map[string]int64{"mget": 1}},
		{"In", "SELECT value FROM redis WHERE key IN ('widget:1','widget:2')",
			"Redis command: MGET (2 keys, 100 per round trip)", 2, map[string]int64{"mget": 1}},
		{"AnyDuplicates", "SELECT value FROM redis WHERE key = ANY('{widget:5,widget:5,widget:5,NULL}')",
			"Redis command: MGET (4 keys", 1, map[string]int64{"get": 1}},
		{"Batches", "SELECT value FROM redis WHERE key = ANY(ARRAY(SELECT 'widget:' || g FROM generate_series(0, 249) g))",
			"Redis command: MGET (keys of an array, 100 per round trip)", 250, map[string]int64{"mget": 3}},
		{"AndFilter", "SELECT value FROM redis WHERE key = 'widget:8' AND value = '16'", `Redis command: GET "widget:8"`, 1, map[string]int64{"get": 1}},
		{"OutsidePrefix", "SELECT value FROM widgets WHERE key IN ('other:1', 'other:2')", "MGET (2 keys", 0, map[string]int64{}},
		{"InsidePrefix", "SELECT value FROM widgets WHERE key = 'widget:9'", `GET "widget:9"`, 1, map[string]int64{"get": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if plan := explain(t, conn, tc.sql); !strings.Contains(plan, tc.plan) || strings.Contains(plan, "SCAN") {
				t.Errorf("plan:\n%s\nwant %q", plan, tc.plan)
			}
			var got [][]string
			c := calls(t, plain, func() { got = rows(t, conn, tc.sql) })
			if len(got) != tc.rows {
				t.Errorf("%d rows, want %d", len(got), tc.rows)
			}
			if fmt.Sprint(c) != fmt.Sprint(tc.calls) {
				t.Errorf("commands %v, want %v", c, tc.calls)
			}
		})
	}

	t.Run("GenericPlanParameters", func(t *testing.T) {
		mustExec(t, conn, "SET plan_cache_mode = force_generic_plan")
		defer mustExec(t, conn, "RESET plan_cache_mode")
		mustExec(t, conn, "PREPARE one(text) AS SELECT value FROM redis WHERE key = $1")
		mustExec(t, conn, "PREPARE many(text[]) AS SELECT value FROM redis WHERE key = ANY($1)")
		if plan := explain(t, conn, "EXECUTE one('widget:4')"); !strings.Contains(plan, "GET (1 key per execution)") {
			t.Errorf("plan:\n%s", plan)
		}
		var v string
		c := calls(t, plain, func() { v = one(t, conn, "EXECUTE one('widget:4')") })
		if v != "8" || fmt.Sprint(c) != "map[get:1]" {
			t.Errorf("EXECUTE one: %q, commands %v", v, c)
		}
		var got [][]string
		c = calls(t, plain, func() { got = rows(t, conn, "EXECUTE many('{widget:1,widget:2,widget:3}')") })
		if len(got) != 3 || fmt.Sprint(c) != "map[mget:1]" {
			t.Errorf("EXECUTE many: %v, commands %v", got, c)
		}
	})
}
