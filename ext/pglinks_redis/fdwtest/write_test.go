package fdwtest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Tables are read-only unless the server or the table says writable; then
// INSERT, UPDATE and DELETE become Redis commands at once, which a ROLLBACK
// does not undo.
func TestWrites(t *testing.T) {
	conn, _ := newDB(t)
	flush(t, plain)
	createServer(t, conn, "ro", plain, "", "")
	createServer(t, conn, "rw", plain, "writable 'true'", "")
	redisDo(t, plain, "SET", "c:1", "1")

	t.Run("ErrReadOnly", func(t *testing.T) {
		mustExec(t, conn, "CREATE FOREIGN TABLE ro_s (key text, value text) SERVER ro OPTIONS (type 'string')")
		mustExec(t, conn, "CREATE FOREIGN TABLE rw_but_table_ro (key text, value text) SERVER rw OPTIONS (type 'string', writable 'false')")
		for _, sql := range []string{
			"INSERT INTO ro_s VALUES ('c:2', 'x')",
			"UPDATE ro_s SET value = 'x' WHERE key = 'c:1'",
			"DELETE FROM ro_s WHERE key = 'c:1'",
			"INSERT INTO rw_but_table_ro VALUES ('c:2', 'x')",
		} {
			pe := pgError(t, conn, sql)
			if !strings.HasSuffix(pe.Message, `" is read-only`) ||
				!strings.Contains(pe.Detail, "not transactional: a ROLLBACK does not undo them") ||
				!strings.Contains(pe.Hint, "OPTIONS (ADD writable 'true')") {
				t.Errorf("%s: %q / %q / %q", sql, pe.Message, pe.Detail, pe.Hint)
			}
		}
		if v := redisDo(t, plain, "GET", "c:1"); v != "1" {
			t.Errorf("c:1 = %v", v)
		}
		if v := redisDo(t, plain, "EXISTS", "c:2"); v != int64(0) {
			t.Errorf("c:2 was written")
		}
		if got := one(t, conn, "SELECT is_insertable_into FROM information_schema.tables WHERE table_name = 'ro_s'"); got != "NO" {
			t.Errorf("is_insertable_into = %s", got)
		}
	})

	t.Run("String", func(t *testing.T) {
		mustExec(t, conn, "CREATE FOREIGN TABLE s (key text, value text) SERVER rw OPTIONS (type 'string', key_prefix 'c:')")
		var n int
		c := calls(t, plain, func() {
			n = len(rows(t, conn, "INSERT INTO s SELECT 'c:' || g, 'v' || g FROM generate_series(10, 259) g RETURNING 1"))
		})
		if n != 250 || c["set"] != 250 {
			t.Errorf("INSERT RETURNING: %d rows, commands %v", n, c)
		}
		// Without RETURNING, rows go batch_size (100) at a time.
		tag, err := conn.Exec(ctxT(t), "INSERT INTO s SELECT 'c:b' || g, 'b' FROM generate_series(1, 250) g")
		if err != nil || tag.RowsAffected() != 250 {
			t.Fatalf("batched INSERT: %v %v", tag, err)
		}
		if v := redisDo(t, plain, "GET", "c:b250"); v != "b" {
			t.Errorf("c:b250 = %v", v)
		}
		tag, err = conn.Exec(ctxT(t), "UPDATE s SET value = value || '!' WHERE key IN ('c:10', 'c:11', 'c:missing')")
		if err != nil || tag.RowsAffected() != 2 || redisDo(t, plain, "GET", "c:11") != "v11!" {
			t.Errorf("UPDATE: %v %v", tag, err)
		}
		tag, err = conn.Exec(ctxT(t), "DELETE FROM s WHERE key LIKE 'c:b%'")
		if err != nil || tag.RowsAffected() != 250 || redisDo(t, plain, "EXISTS", "c:b1") != int64(0) {
			t.Errorf("DELETE: %v %v", tag, err)
		}
		if got := fmt.Sprint(rows(t, conn, "DELETE FROM s WHERE key = 'c:12' RETURNING key")); got != "[[c:12]]" {
			t.Errorf("DELETE RETURNING: %s", got)
		}

		// Not transactional: a ROLLBACK leaves Redis as the statement left it.
		mustExec(t, conn, "BEGIN")
		mustExec(t, conn, "INSERT INTO s VALUES ('c:rolled-back', 'still here')")
		mustExec(t, conn, "ROLLBACK")
		if v := redisDo(t, plain, "GET", "c:rolled-back"); v != "still here" {
			t.Errorf("after ROLLBACK: %v", v)
		}

		for sql, want := range map[string]string{
			"UPDATE s SET key = 'c:new' WHERE key = 'c:10'":            "cannot change the key of a row of Redis table",
			"INSERT INTO s VALUES ('elsewhere', 'x')":                  `key "elsewhere" does not start with the key_prefix "c:" of Redis table "public.s"`,
			"INSERT INTO s VALUES ('c:null', NULL)":                    `value cannot be NULL in Redis table "public.s"`,
			"INSERT INTO s VALUES ('c:1', 'x') ON CONFLICT DO NOTHING": "INSERT ... ON CONFLICT is not supported",
		} {
			if pe := pgError(t, conn, sql); !strings.Contains(pe.Message, want) {
				t.Errorf("%s: %q, want %q", sql, pe.Message, want)
			}
		}
		plan := explain(t, conn, "INSERT INTO s VALUES ('c:x', 'y')")
		if !strings.Contains(plan, "Redis command: SET per row") || !strings.Contains(plan, "not transactional") {
			t.Errorf("EXPLAIN INSERT:\n%s", plan)
		}
	})

	// COPY FROM and rows routed to a partition reach the table without a
	// plan of their own.
	t.Run("CopyAndPartitions", func(t *testing.T) {
		mustExec(t, conn, "CREATE FOREIGN TABLE cp (key text, value text) SERVER rw OPTIONS (type 'string', key_prefix 'cp:')")
		n, err := conn.CopyFrom(ctxT(t), pgx.Identifier{"cp"}, []string{"key", "value"},
			pgx.CopyFromRows([][]any{{"cp:1", "one"}, {"cp:2", "two"}}))
		if err != nil || n != 2 || redisDo(t, plain, "GET", "cp:2") != "two" {
			t.Errorf("COPY: %d rows, %v", n, err)
		}
		if _, err := conn.CopyFrom(ctxT(t), pgx.Identifier{"ro_s"}, []string{"key", "value"},
			pgx.CopyFromRows([][]any{{"c:copied", "x"}})); err == nil || redisDo(t, plain, "EXISTS", "c:copied") != int64(0) {
			t.Errorf("COPY into a read-only table: %v", err)
		}
		mustExec(t, conn, `
			CREATE TABLE counters (key text, value text) PARTITION BY LIST (left(key, 3));
			CREATE TABLE counters_local PARTITION OF counters FOR VALUES IN ('pg:');
			CREATE FOREIGN TABLE counters_redis PARTITION OF counters FOR VALUES IN ('cp:')
				SERVER rw OPTIONS (type 'string', key_prefix 'cp:')`)
		mustExec(t, conn, "INSERT INTO counters VALUES ('pg:1', 'kept here'), ('cp:3', 'sent to Redis')")
		if v := redisDo(t, plain, "GET", "cp:3"); v != "sent to Redis" {
			t.Errorf("routed row: %v", v)
		}
		if got := one(t, conn, "SELECT count(*) FROM counters"); got != "4" {
			t.Errorf("partitioned table: %s rows", got)
		}
	})

	t.Run("Hash", func(t *testing.T) {
		mustExec(t, conn, "CREATE FOREIGN TABLE h (key text, field text, value text) SERVER rw OPTIONS (type 'hash')")
		mustExec(t, conn, "INSERT INTO h VALUES ('user:1', 'name', 'Ada'), ('user:1', 'email', 'ada@x'), ('user:2', 'name', 'Bo')")
		mustExec(t, conn, "UPDATE h SET value = upper(value) WHERE key = 'user:1' AND field = 'name'")
		mustExec(t, conn, "DELETE FROM h WHERE key = 'user:1' AND field = 'email'")
		if got := fmt.Sprint(redisDo(t, plain, "HGETALL", "user:1")); got != "[name ADA]" {
			t.Errorf("user:1 = %s", got)
		}
		if pe := pgError(t, conn, "UPDATE h SET field = 'n' WHERE key = 'user:2'"); !strings.Contains(pe.Message, "cannot change the field") {
			t.Errorf("got %q", pe.Message)
		}
		redisDo(t, plain, "SET", "plain-string", "x")
		if pe := pgError(t, conn, "INSERT INTO h VALUES ('plain-string', 'f', 'v')"); !strings.Contains(pe.Message, "holds another type than hash") {
			t.Errorf("got %q", pe.Message)
		}
	})

	t.Run("List", func(t *testing.T) {
		mustExec(t, conn, "CREATE FOREIGN TABLE l (key text, index bigint, value text) SERVER rw OPTIONS (type 'list')")
		got := rows(t, conn, "INSERT INTO l (key, value) VALUES ('q', 'a'), ('q', 'b'), ('q', 'c') RETURNING index")
		if fmt.Sprint(got) != "[[0] [1] [2]]" {
			t.Errorf("RETURNING index: %v", got)
		}
		mustExec(t, conn, "UPDATE l SET value = 'B' WHERE key = 'q' AND index = 1")
		if got := fmt.Sprint(redisDo(t, plain, "LRANGE", "q", "0", "-1")); got != "[a B c]" {
			t.Errorf("q = %s", got)
		}
		if pe := pgError(t, conn, "DELETE FROM l WHERE key = 'q'"); !strings.Contains(pe.Message, `cannot DELETE from list table "public.l"`) {
			t.Errorf("got %q", pe.Message)
		}
		if pe := pgError(t, conn, "INSERT INTO l VALUES ('q', 7, 'x')"); !strings.Contains(pe.Message, "index must be NULL") {
			t.Errorf("got %q", pe.Message)
		}
	})

	t.Run("Set", func(t *testing.T) {
		mustExec(t, conn, "CREATE FOREIGN TABLE st (key text, member text) SERVER rw OPTIONS (type 'set')")
		mustExec(t, conn, "INSERT INTO st VALUES ('tags', 'red'), ('tags', 'green'), ('tags', 'blue')")
		mustExec(t, conn, "UPDATE st SET member = 'GREEN' WHERE key = 'tags' AND member = 'green'")
		mustExec(t, conn, "DELETE FROM st WHERE key = 'tags' AND member = 'blue'")
		if got := one(t, conn, "SELECT string_agg(member, ',' ORDER BY member) FROM st"); got != "GREEN,red" {
			t.Errorf("set = %s", got)
		}
	})

	t.Run("SortedSet", func(t *testing.T) {
		mustExec(t, conn, "CREATE FOREIGN TABLE z (key text, member text, score float8) SERVER rw OPTIONS (type 'zset')")
		mustExec(t, conn, "INSERT INTO z VALUES ('board', 'ann', 1.5), ('board', 'bob', 'infinity'), ('board', 'cy', 0.1)")
		mustExec(t, conn, "UPDATE z SET score = score + 10 WHERE member = 'ann'")
		mustExec(t, conn, "UPDATE z SET member = 'CY' WHERE member = 'cy'")
		mustExec(t, conn, "DELETE FROM z WHERE member = 'bob'")
		if got := fmt.Sprint(redisDo(t, plain, "ZRANGE", "board", "0", "-1", "WITHSCORES")); got != "[CY 0.10000000000000001 ann 11.5]" {
			t.Errorf("board = %s", got)
		}
		if pe := pgError(t, conn, "INSERT INTO z VALUES ('board', 'nan', 'NaN')"); !strings.Contains(pe.Message, "score cannot be NaN") {
			t.Errorf("got %q", pe.Message)
		}
	})
}
