package fdwtest

import (
	"fmt"
	"strings"
	"testing"
)

// Hashes, lists, sets and sorted sets as rows; each table sees only keys of
// its type, and a key lookup of a key of another type finds no rows.
func TestCollectionTypes(t *testing.T) {
	conn, _ := newDB(t)
	flush(t, plain)
	createServer(t, conn, "r", plain, "", "")
	redisDo(t, plain, "HSET", "user:1", "name", "Ada", "email", "ada@example.com")
	redisDo(t, plain, "HSET", "user:2", "name", "Grace")
	redisDo(t, plain, "RPUSH", "queue:a", "first", "second", "third")
	redisDo(t, plain, "SADD", "tags:x", "red", "green")
	redisDo(t, plain, "ZADD", "board", "10", "ann", "2.5", "bob", "-inf", "cy", "+inf", "dee")
	redisDo(t, plain, "SET", "user:3", "a string, not a hash")

	mustExec(t, conn, `
		CREATE FOREIGN TABLE hashes (key text, field text, value text) SERVER r OPTIONS (type 'hash');
		CREATE FOREIGN TABLE users (key text, field text, value text) SERVER r OPTIONS (type 'hash', key_prefix 'user:');
		CREATE FOREIGN TABLE lists (key text, index bigint, value text) SERVER r OPTIONS (type 'list');
		CREATE FOREIGN TABLE sets (member text, key text) SERVER r OPTIONS (type 'set');
		CREATE FOREIGN TABLE zsets (key text, member text, score float8) SERVER r OPTIONS (type 'zset')`)

	for _, tc := range []struct{ sql, want string }{
		{"SELECT key, field, value FROM hashes ORDER BY 1, 2",
			"[[user:1 email ada@example.com] [user:1 name Ada] [user:2 name Grace]]"},
		{"SELECT value FROM users WHERE key = 'user:1' AND field = 'name'", "[[Ada]]"},
		{"SELECT key, index, value FROM lists ORDER BY index", "[[queue:a 0 first] [queue:a 1 second] [queue:a 2 third]]"},
		{"SELECT key, member FROM sets ORDER BY member", "[[tags:x green] [tags:x red]]"},
		{"SELECT member, score FROM zsets ORDER BY score", "[[cy -Inf] [bob 2.5] [ann 10] [dee +Inf]]"},
		// user:3 is a string: not a row of a hash table, by scan or lookup.
		{"SELECT count(*) FROM hashes WHERE key IN ('user:2', 'user:3', 'user:4')", "[[1]]"},
		{"SELECT count(*) FROM users WHERE key = 'user:3'", "[[0]]"},
		{"SELECT count(*) FROM zsets WHERE key = 'queue:a'", "[[0]]"},
	} {
		if got := fmt.Sprint(rows(t, conn, tc.sql)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.sql, got, tc.want)
		}
	}

	var n int
	c := calls(t, plain, func() { n = len(rows(t, conn, "SELECT * FROM hashes WHERE key = ANY('{user:1,user:2,user:9}')")) })
	if n != 3 || fmt.Sprint(c) != "map[hgetall:3]" {
		t.Errorf("hash lookups: %d rows, commands %v (want 3 HGETALL in one round trip)", n, c)
	}
	plan := explain(t, conn, "SELECT * FROM zsets")
	if !strings.Contains(plan, "SCAN COUNT 1000 TYPE zset, then ZRANGE per key, 100 keys per round trip") {
		t.Errorf("plan:\n%s", plan)
	}
	c = calls(t, plain, func() { rows(t, conn, "SELECT * FROM lists") })
	if c["lrange"] != 1 || c["scan"] < 1 {
		t.Errorf("list scan commands: %v", c)
	}

	// A table whose columns do not fit its type fails at planning, saying
	// what the type needs.
	for _, tc := range []struct{ ddl, msg, detail string }{
		{"CREATE FOREIGN TABLE bad1 (key text, value text) SERVER r OPTIONS (type 'hash')",
			`foreign table "public.bad1" does not fit Redis type "hash"`,
			"A hash table has the columns (key text, field text, value text); this one has (key text, value text)."},
		{"CREATE FOREIGN TABLE bad2 (key text, index integer, value text) SERVER r OPTIONS (type 'list')",
			`foreign table "public.bad2" does not fit Redis type "list"`,
			"A list table has the columns (key text, index bigint, value text); this one has (key text, index integer, value text)."},
		{`CREATE FOREIGN TABLE bad3 (key text, member text, score float8, "Extra" int) SERVER r OPTIONS (type 'zset')`,
			`foreign table "public.bad3" does not fit Redis type "zset"`,
			`A zset table has the columns (key text, member text, score double precision); this one has (key text, member text, score double precision, "Extra" integer).`},
	} {
		mustExec(t, conn, tc.ddl)
		table := strings.Fields(tc.ddl)[3]
		pe := pgError(t, conn, "SELECT * FROM "+table)
		if pe.Message != tc.msg || pe.Detail != tc.detail {
			t.Errorf("%s:\n got %q / %q\nwant %q / %q", table, pe.Message, pe.Detail, tc.msg, tc.detail)
		}
	}
}
