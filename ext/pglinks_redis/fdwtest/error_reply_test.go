package fdwtest

import (
	"strconv"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/redistest"
)

// An error reply is the Redis's own text: it reaches the error message
// escaped (a control character must not rewrite the terminal of the psql
// user who ran the query) and cut (a Redis that sends megabytes makes no
// megabyte error message), as keys in messages are.
func TestErrorReplyEscapedAndCut(t *testing.T) {
	conn, _ := newDB(t)
	flush(t, plain)
	redisDo(t, plain, "SET", "k", "v")
	proxy, err := redistest.NewProxy(plain)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	port := strconv.Itoa(proxy.Port)
	mustExec(t, conn, "CREATE SERVER odd FOREIGN DATA WRAPPER pglinks_redis OPTIONS (port '"+port+"', command_timeout '5')")
	mustExec(t, conn, "CREATE USER MAPPING FOR CURRENT_USER SERVER odd")
	mustExec(t, conn, "CREATE FOREIGN TABLE odd_t (key text, value text) SERVER odd OPTIONS (type 'string')")
	proxy.RewriteRaw(func(cmd []string) []byte {
		if cmd[0] == "GET" {
			return []byte("-ERR \x1b]0;owned\x07\x1b[2J" + strings.Repeat("A", 1<<20) + "\r\n")
		}
		return nil
	})
	pe := pgError(t, conn, "SELECT * FROM odd_t WHERE key = 'k'")
	proxy.RewriteRaw(nil)
	if !strings.Contains(pe.Message, "answered GET with an error") {
		t.Fatalf("message: %.200q", pe.Message)
	}
	if strings.ContainsAny(pe.Message+pe.Detail, "\x1b\x07") {
		t.Errorf("a control character of the Redis's error reply is in the error message: %.120q", pe.Message)
	}
	if n := len(pe.Message) + len(pe.Detail); n > 4096 {
		t.Errorf("the error message holds the Redis's error reply whole: %d bytes", n)
	}
}
