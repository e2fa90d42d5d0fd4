package fdwtest

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pglinks/pglinks/internal/redistest"
)

// A table sees the string keys under its prefix, taken literally even when
// the prefix holds glob characters; keys and values with quotes, newlines
// and non-ASCII text come through unchanged.
func TestStringScan(t *testing.T) {
	conn, _ := newDB(t)
	flush(t, plain)
	createServer(t, conn, "r", plain, "", "")

	keys := map[string]string{
		"pfx:plain":         "1",
		`pfx:quote'"`:       `it's "quoted"`,
		"pfx:new\nline":     "line 1\nline 2\r\n",
		"pfx:ünïcödé ✓":     "värde ✓",
		"pfx:tab\tand\\bsl": "\t\\",
		"pfx:":              "",
		"other:1":           "not under pfx:",
		// Glob characters in prefixes must match literally; each decoy
		// would match the prefix if it were a pattern.
		"a*b:1": "star", "aXXb:decoy": "x",
		"q?:1": "question", "qz:decoy": "x",
		"[x]:1": "bracket", "x:decoy": "x",
		`back\:1`: "backslash",
	}
	var mset []any
	mset = append(mset, "MSET")
	for k, v := range keys {
		mset = append(mset, k, v)
	}
	redisDo(t, plain, mset...)
	redisDo(t, plain, "HSET", "pfx:hash", "f", "v") // another type: not a string row

	want := func(prefix string) []string {
		var out []string
		for k, v := range keys {
			if strings.HasPrefix(k, prefix) {
				out = append(out, k+"="+v)
			}
		}
		sort.Strings(out)
		return out
	}
	got := func(table string) []string {
		var out []string
		for _, r := range rows(t, conn, "SELECT key, value FROM "+table) {
			out = append(out, r[0]+"="+r[1])
		}
		sort.Strings(out)
		return out
	}

	mustExec(t, conn, "CREATE FOREIGN TABLE everything (key text, value text) SERVER r OPTIONS (type 'string')")
	if g, w := got("everything"), want(""); strings.Join(g, "|") != strings.Join(w, "|") {
		t.Errorf("all strings:\n got %q\nwant %q", g, w)
	}
	for i, prefix := range []string{"pfx:", "a*b", "q?", "[x]", `back\`} {
		table := fmt.Sprintf("t%d", i)
		mustExec(t, conn, fmt.Sprintf("CREATE FOREIGN TABLE %s (value text, key text) SERVER r OPTIONS (type 'string', key_prefix %s)",
			table, quoteLiteral(prefix)))
		if g, w := got(table), want(prefix); strings.Join(g, "|") != strings.Join(w, "|") {
			t.Errorf("prefix %q:\n got %q\nwant %q", prefix, g, w)
		}
	}
	plan := explain(t, conn, "SELECT * FROM t1")
	if !strings.Contains(plan, `Redis command: SCAN MATCH "a\\*b*" COUNT 1000 TYPE string, then MGET per 100 keys`) {
		t.Errorf("EXPLAIN does not show the escaped MATCH:\n%s", plan)
	}
	// Conditions that are not key lookups are checked locally on the scan.
	if got := one(t, conn, "SELECT count(*) FROM t0 WHERE value LIKE 'line%'"); got != "1" {
		t.Errorf("local filter: %s rows", got)
	}
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// SCAN may return a key more than once (when Redis resizes its table
// mid-scan); a proxy makes every page repeat keys of the page before and
// its own first key. Each key still comes out once.
func TestScanDuplicates(t *testing.T) {
	conn, _ := newDB(t)
	flush(t, plain)
	for i := 0; i < 40; i++ {
		redisDo(t, plain, "SET", fmt.Sprintf("dup:%02d", i), fmt.Sprint(i))
	}
	proxy, err := redistest.NewProxy(plain)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	// The proxy calls the rewrite from its own goroutines.
	var injected atomic.Int64
	var mu sync.Mutex
	var previous []any
	proxy.Rewrite(func(cmd []string, reply any) any {
		mu.Lock()
		defer mu.Unlock()
		page, ok := reply.([]any)
		if cmd[0] != "SCAN" || !ok || len(page) != 2 {
			return reply
		}
		keys, _ := page[1].([]any)
		out := append([]any{}, keys...)
		if len(keys) > 0 {
			out = append(out, keys[0])
			injected.Add(1)
		}
		out = append(out, previous...)
		injected.Add(int64(len(previous)))
		previous = keys
		return []any{page[0], out}
	})
	mustExec(t, conn, fmt.Sprintf("CREATE SERVER viaproxy FOREIGN DATA WRAPPER pglinks_redis OPTIONS (port '%d')", proxy.Port))
	mustExec(t, conn, "CREATE USER MAPPING FOR CURRENT_USER SERVER viaproxy")
	mustExec(t, conn, "CREATE FOREIGN TABLE dup (key text, value text) SERVER viaproxy OPTIONS (type 'string', key_prefix 'dup:', scan_count '5')")

	r := rows(t, conn, "SELECT key, count(*) FROM dup GROUP BY key ORDER BY key")
	if len(r) != 40 {
		t.Fatalf("%d distinct keys, want 40", len(r))
	}
	for _, row := range r {
		if row[1] != "1" {
			t.Errorf("key %s came out %s times", row[0], row[1])
		}
	}
	if injected.Load() < 40 {
		t.Fatalf("the proxy injected only %d duplicate keys", injected.Load())
	}
}

// A full scan reads 100,000 keys; one more is past the default max_keys and
// the statement stops with an error naming the option, as it does at a
// lower max_keys set on the table.
func TestScanBounds(t *testing.T) {
	conn, _ := newDB(t)
	flush(t, plain)
	seed(t, plain, "k:", 100000, func(i int) string { return fmt.Sprint(i) })
	createServer(t, conn, "r", plain, "", "")
	mustExec(t, conn, "CREATE FOREIGN TABLE big (key text, value text) SERVER r OPTIONS (type 'string')")

	if got := one(t, conn, "SELECT count(*) FROM big"); got != "100000" {
		t.Fatalf("count = %s, want 100000", got)
	}
	if got := one(t, conn, "SELECT sum(value::bigint)::text FROM big"); got != fmt.Sprint(99999*100000/2) {
		t.Errorf("sum = %s", got)
	}

	redisDo(t, plain, "SET", "k:one-more", "0")
	pe := pgError(t, conn, "SELECT count(*) FROM big")
	if pe.Code != "54000" || pe.Message != `SCAN found more than 100000 keys for foreign table "public.big" (max_keys)` {
		t.Errorf("got %s %q", pe.Code, pe.Message)
	}
	mustExec(t, conn, "ALTER FOREIGN TABLE big OPTIONS (ADD max_keys '1000')")
	pe = pgError(t, conn, "SELECT count(*) FROM big")
	if !strings.Contains(pe.Message, "more than 1000 keys") || !strings.Contains(pe.Hint, "raise max_keys") {
		t.Errorf("got %q (hint %q)", pe.Message, pe.Hint)
	}
	// A LIMIT that stops the scan early never reaches the cap.
	if got := one(t, conn, "SELECT count(*) FROM (SELECT * FROM big LIMIT 10) s"); got != "10" {
		t.Errorf("LIMIT 10: %s rows", got)
	}
}

// seed sets n keys prefix0..prefix(n-1) with MSET in pipelined batches.
func seed(t *testing.T, s *redistest.Server, prefix string, n int, value func(int) string) {
	t.Helper()
	var cmds [][]any
	for i := 0; i < n; i += 1000 {
		cmd := []any{"MSET"}
		for j := i; j < i+1000 && j < n; j++ {
			cmd = append(cmd, fmt.Sprintf("%s%d", prefix, j), value(j))
		}
		cmds = append(cmds, cmd)
	}
	replies, err := s.Pipeline(ctxT(t), cmds)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range replies {
		if _, ok := r.(redistest.Error); ok {
			t.Fatal(r)
		}
	}
}

// Values text cannot hold give a clear error naming the key, never a
// crash: the same session goes on working. Megabyte values arrive whole.
func TestHostileValues(t *testing.T) {
	conn, _ := newDB(t)
	flush(t, plain)
	createServer(t, conn, "r", plain, "", "")
	mustExec(t, conn, "CREATE FOREIGN TABLE s (key text, value text) SERVER r OPTIONS (type 'string')")
	mustExec(t, conn, "CREATE FOREIGN TABLE h (key text, field text, value text) SERVER r OPTIONS (type 'hash')")
	pid := backendPID(t, conn)

	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	huge := strings.Repeat("x", 16<<20)              // 16 MiB
	redisDo(t, plain, "SET", "big", big)
	redisDo(t, plain, "SET", "huge", huge)
	redisDo(t, plain, "SET", "nul-value", "a\x00b")
	redisDo(t, plain, "SET", "nul\x00key", "v")
	redisDo(t, plain, "SET", "latin1", "caf\xe9")
	redisDo(t, plain, "SET", "quote\"\nkey", "\xff")
	redisDo(t, plain, "HSET", "hash-nul", "f\x00", "v")

	sum := md5.Sum([]byte(big))
	r := rows(t, conn, "SELECT length(value), md5(value) FROM s WHERE key = 'big'")
	if len(r) != 1 || r[0][0] != fmt.Sprint(len(big)) || r[0][1] != hex.EncodeToString(sum[:]) {
		t.Errorf("1 MiB value: %v", r)
	}
	if got := one(t, conn, "SELECT length(value) FROM s WHERE key = 'huge'"); got != fmt.Sprint(len(huge)) {
		t.Errorf("16 MiB value: length %s", got)
	}

	for _, tc := range []struct{ sql, code, msg string }{
		{"SELECT * FROM s WHERE key = 'nul-value'", "22021",
			`the value of Redis key "nul-value" contains a NUL byte, which text cannot hold`},
		{"SELECT * FROM s WHERE key = 'latin1'", "22021",
			`the value of Redis key "latin1" is not valid UTF-8 text`},
		{"SELECT * FROM s WHERE key = E'quote\"\\nkey'", "22021",
			`the value of Redis key "quote\"\nkey" is not valid UTF-8 text`},
		{"SELECT * FROM h", "22021",
			`the field of Redis key "hash-nul" contains a NUL byte, which text cannot hold`},
	} {
		pe := pgError(t, conn, tc.sql)
		if pe.Code != tc.code || pe.Message != tc.msg {
			t.Errorf("%s:\n got %s %q\nwant %s %q", tc.sql, pe.Code, pe.Message, tc.code, tc.msg)
		}
	}
	// A key that is not text stops a scan that reaches it.
	redisDo(t, plain, "DEL", "nul-value", "latin1", "quote\"\nkey")
	pe := pgError(t, conn, "SELECT * FROM s")
	if want := `the name of Redis key "nul\x00key" contains a NUL byte, which text cannot hold`; pe.Message != want {
		t.Errorf("got %q, want %q", pe.Message, want)
	}

	if got := backendPID(t, conn); got != pid {
		t.Fatalf("the backend changed from %s to %s: it crashed", pid, got)
	}
	if got := one(t, conn, "SELECT length(value) FROM s WHERE key = 'big'"); got != fmt.Sprint(len(big)) {
		t.Errorf("after the errors: %s", got)
	}
}

// Redis bytes are UTF-8; a LATIN1 database gets them converted, writes go
// back as UTF-8, and a character LATIN1 lacks is an error naming the key.
func TestDatabaseEncoding(t *testing.T) {
	ctx := ctxT(t)
	name := fmt.Sprintf("latin1_%d", dbSeq.Add(1))
	if err := cluster.Exec(ctx, "postgres", "CREATE DATABASE "+name+" ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"); err != nil {
		t.Fatal(err)
	}
	if err := cluster.Exec(ctx, name, "CREATE EXTENSION pglinks_redis"); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, cluster.SuperURL(name))
	mustExec(t, conn, "SET client_encoding = 'UTF8'") // what this test sends and expects
	flush(t, plain)
	redisDo(t, plain, "SET", "café", "crème brûlée")
	redisDo(t, plain, "SET", "check", "✓")
	createServer(t, conn, "r", plain, "writable 'true'", "")
	mustExec(t, conn, "CREATE FOREIGN TABLE s (key text, value text) SERVER r OPTIONS (type 'string')")

	if got := one(t, conn, "SELECT value FROM s WHERE key = 'café'"); got != "crème brûlée" {
		t.Errorf("value = %q", got)
	}
	if plan := explain(t, conn, "SELECT value FROM s WHERE key = 'café'"); !strings.Contains(plan, `GET "caf\xc3\xa9"`) {
		t.Errorf("EXPLAIN shows the key's UTF-8 bytes escaped in a LATIN1 database:\n%s", plan)
	}
	mustExec(t, conn, "INSERT INTO s VALUES ('naïve', 'façade')")
	if v := redisDo(t, plain, "GET", "naïve"); v != "façade" {
		t.Errorf("written as %q", v)
	}
	pe := pgError(t, conn, "SELECT value FROM s WHERE key = 'check'")
	if pe.Code != "22P05" || !strings.Contains(pe.Where, `reading the value of Redis key "check"`) {
		t.Errorf("got %s %q (context %q)", pe.Code, pe.Message, pe.Where)
	}
}
