package fdwtest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/redistest"
)

// Replies no Redis sends (a peer that is not Redis, or a broken one) end the
// statement with an error naming the problem; the backend survives and the
// next statement connects afresh. What the Redis said reaches the message
// escaped (a control character must not rewrite the terminal of the psql
// user who ran the query) and cut (a Redis that sends megabytes makes no
// megabyte error message), as keys in messages are.
func TestHostileReplies(t *testing.T) {
	conn, _ := newDB(t)
	flush(t, plain)
	redisDo(t, plain, "SET", "k", "v")
	proxy, err := redistest.NewProxy(plain)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	port := strconv.Itoa(proxy.Port)
	mustExec(t, conn, "CREATE SERVER odd FOREIGN DATA WRAPPER pglinks_redis OPTIONS (port '"+port+"', command_timeout '1')")
	mustExec(t, conn, "CREATE USER MAPPING FOR CURRENT_USER SERVER odd")
	mustExec(t, conn, "CREATE FOREIGN TABLE odd_t (key text, value text) SERVER odd OPTIONS (type 'string')")
	pid := backendPID(t, conn)
	endpoint := "Redis at 127.0.0.1:" + port

	for _, tc := range []struct {
		name, command, reply, query, want string
	}{
		{"HugeArray", "GET", "*2147483647\r\n", "key = 'k'",
			endpoint + " to GET: an array of 2147483647 elements is more than any reply this wrapper asks for"},
		{"OverflowingArray", "GET", "*9999999999\r\n", "key = 'k'", endpoint + " to GET: Multi-bulk length out of range"},
		{"UnknownType", "GET", "?what\r\n", "key = 'k'", endpoint + " to GET: Protocol error"},
		{"DeepNesting", "GET", strings.Repeat("*1\r\n", 9) + ":1\r\n", "key = 'k'", "nested multi bulk replies with depth > 7"},
		{"IntegerForGet", "GET", ":12\r\n", "key = 'k'", "unexpected reply from " + endpoint + " to GET"},
		{"StatusForGet", "GET", "+OK\r\n", "key = 'k'", "unexpected reply from " + endpoint + " to GET"},
		{"ShortMGET", "MGET", "*1\r\n$1\r\nv\r\n", "key IN ('k', 'j')", "unexpected reply from " + endpoint + " to MGET"},
		{"ErrorReply", "MGET", "-ERR something broke\r\n", "key IN ('k', 'j')",
			endpoint + ` answered MGET with an error: "ERR something broke"`},
		{"HostileErrorReply", "GET", "-ERR \x1b]0;owned\x07\x1b[2J" + strings.Repeat("A", 1<<20) + "\r\n", "key = 'k'",
			endpoint + ` answered GET with an error: "ERR \x1b]0;owned\x07\x1b[2JAAAA`},
		{"ClusterNode", "GET", "-MOVED 3999 127.0.0.1:6381\r\n", "key = 'k'", "is a cluster node; Redis Cluster is not supported"},
		{"TruncatedBulk", "GET", "$10\r\nabc", "key = 'k'", endpoint + " did not answer GET within 1 s (command_timeout)"},
		{"BadCursor", "SCAN", "*2\r\n$3\r\nabc\r\n*0\r\n", "true", "unexpected reply from " + endpoint + " to SCAN"},
		{"IntegerKey", "SCAN", "*2\r\n$1\r\n0\r\n*1\r\n:5\r\n", "true", "unexpected reply from " + endpoint + " to SCAN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy.RewriteRaw(func(cmd []string) []byte {
				if cmd[0] == tc.command {
					return []byte(tc.reply)
				}
				return nil
			})
			pe := pgError(t, conn, "SELECT * FROM odd_t WHERE "+tc.query)
			proxy.RewriteRaw(nil)
			if !strings.Contains(pe.Message, tc.want) {
				t.Errorf("got %.300q, want %q", pe.Message, tc.want)
			}
			if strings.ContainsAny(pe.Message+pe.Detail, "\x1b\x07") {
				t.Errorf("a control character the Redis sent is in the error: %.300q", pe.Message)
			}
			if n := len(pe.Message) + len(pe.Detail); n > 4096 {
				t.Errorf("the error holds %d bytes of what the Redis sent", n)
			}
			if got := fmt.Sprint(rows(t, conn, "SELECT key, value FROM odd_t WHERE key = 'k'")); got != "[[k v]]" {
				t.Errorf("afterwards: %s", got)
			}
		})
	}
	if got := backendPID(t, conn); got != pid {
		t.Fatalf("the backend changed from %s to %s: it crashed", pid, got)
	}
}
