package fdwtest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/redistest"
)

// A TLS-only Redis with a certificate from a throwaway CA: verification is
// on by default and fails without the CA, works with it (as a file or as
// PEM text), and can be turned off; plain and TLS mixed up say which.
func TestTLS(t *testing.T) {
	conn, _ := newDB(t)
	flush(t, secure)
	redisDo(t, secure, "SET", "widget:1", "42")

	t.Run("ErrVerifyWithoutCA", func(t *testing.T) {
		createServer(t, conn, "noca", secure, "tls 'true'", "")
		pe := pgError(t, conn, "SELECT * FROM pglinks_redis_ping('noca')")
		if pe.Code != "HV00N" || !strings.HasPrefix(pe.Message, "could not verify the TLS certificate of Redis at 127.0.0.1:") ||
			!strings.Contains(pe.Hint, "tls_verify 'false'") {
			t.Errorf("got %s %q (hint %q)", pe.Code, pe.Message, pe.Hint)
		}
	})
	for _, tc := range []struct{ name, opts string }{
		{"CAFile", "tls 'true', tls_ca_file " + quoteLiteral(secure.CAFile)},
		{"CAText", "tls 'true', tls_ca " + quoteLiteral(secure.CAPEM)},
		{"VerifyOff", "tls 'true', tls_verify 'false'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server := "s_" + strings.ToLower(tc.name)
			createServer(t, conn, server, secure, tc.opts, "")
			mustExec(t, conn, "CREATE FOREIGN TABLE "+server+"_t (key text, value text) SERVER "+server+" OPTIONS (type 'string')")
			if got := one(t, conn, "SELECT value FROM "+server+"_t WHERE key = 'widget:1'"); got != "42" {
				t.Errorf("value = %q", got)
			}
			if got := one(t, conn, "SELECT dbsize FROM pglinks_redis_ping('"+server+"')"); got != "1" {
				t.Errorf("dbsize = %q", got)
			}
		})
	}
	t.Run("HostName", func(t *testing.T) {
		// A certificate for "localhost" only: right for host 'localhost',
		// refused for the same server's IP address.
		named, err := redistest.Start(context.Background(), redistest.Options{TLS: true, CertHosts: []string{"localhost"}})
		if err != nil {
			t.Fatal(err)
		}
		defer named.Stop()
		ca := ", tls 'true', tls_ca " + quoteLiteral(named.CAPEM)
		port := strconv.Itoa(named.Port)
		mustExec(t, conn, "CREATE SERVER byname FOREIGN DATA WRAPPER pglinks_redis OPTIONS (host 'localhost', port '"+port+"'"+ca+")")
		mustExec(t, conn, "CREATE SERVER byip FOREIGN DATA WRAPPER pglinks_redis OPTIONS (host '127.0.0.1', port '"+port+"'"+ca+")")
		mustExec(t, conn, "CREATE USER MAPPING FOR CURRENT_USER SERVER byname")
		mustExec(t, conn, "CREATE USER MAPPING FOR CURRENT_USER SERVER byip")
		if got := one(t, conn, "SELECT dbsize FROM pglinks_redis_ping('byname')"); got != "0" {
			t.Errorf("dbsize = %q", got)
		}
		pe := pgError(t, conn, "SELECT * FROM pglinks_redis_ping('byip')")
		if pe.Message != "could not verify the TLS certificate of Redis at 127.0.0.1:"+port+": IP address mismatch" {
			t.Errorf("got %q", pe.Message)
		}
	})
	t.Run("ErrPlainToTLSPort", func(t *testing.T) {
		createServer(t, conn, "plainclient", secure, "connect_timeout '3', command_timeout '3'", "")
		pe := pgError(t, conn, "SELECT * FROM pglinks_redis_ping('plainclient')")
		if !strings.HasPrefix(pe.Message, "could not read from Redis at 127.0.0.1:") && !strings.Contains(pe.Message, "closed the connection") ||
			!strings.Contains(pe.Hint, "tls 'true'") {
			t.Errorf("got %q (hint %q)", pe.Message, pe.Hint)
		}
	})
	t.Run("ErrTLSToPlainPort", func(t *testing.T) {
		// A plain Redis takes the TLS hello for the start of a command and
		// waits for the rest: the handshake ends at connect_timeout.
		createServer(t, conn, "tlsclient", plain, "tls 'true', tls_verify 'false', connect_timeout '1'", "")
		pe := pgError(t, conn, "SELECT * FROM pglinks_redis_ping('tlsclient')")
		if pe.Message != "Redis at 127.0.0.1:"+strconv.Itoa(plain.Port)+" did not complete the TLS handshake within 1 s (connect_timeout)" ||
			!strings.Contains(pe.Hint, "TLS port") {
			t.Errorf("got %q (hint %q)", pe.Message, pe.Hint)
		}
	})
}

// An ACL user's password, over TLS: it authenticates, a wrong one is
// refused by name, and the password is in no message, no EXPLAIN and not
// in the server's log.
func TestACLPassword(t *testing.T) {
	ctx := context.Background()
	srv, err := redistest.Start(ctx, redistest.Options{TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	const password = "Pa55-word-of-app-NEVER-shown"
	const wrong = "Wrong-pa55-NEVER-shown"
	if err := srv.AddUser(ctx, "app", password, true); err != nil {
		t.Fatal(err)
	}
	redisDo(t, srv, "SET", "k", "v")

	conn, _ := newDB(t)
	ca := "tls 'true', tls_ca " + quoteLiteral(srv.CAPEM)
	createServer(t, conn, "good", srv, ca, "user 'app', password '"+password+"'")
	createServer(t, conn, "bad", srv, ca, "user 'app', password '"+wrong+"'")
	createServer(t, conn, "none", srv, ca, "")
	for _, name := range []string{"good", "bad", "none"} {
		mustExec(t, conn, "CREATE FOREIGN TABLE "+name+"_t (key text, value text) SERVER "+name+" OPTIONS (type 'string')")
	}

	if got := one(t, conn, "SELECT value FROM good_t WHERE key = 'k'"); got != "v" {
		t.Errorf("value = %q", got)
	}
	var seen []string
	plan := strings.Join(flatten(rows(t, conn, "EXPLAIN (VERBOSE, ANALYZE) SELECT * FROM good_t")), "\n")
	if !strings.Contains(plan, "Redis server: 127.0.0.1:"+strconv.Itoa(srv.Port)+" db 0, TLS") {
		t.Errorf("EXPLAIN VERBOSE:\n%s", plan)
	}
	seen = append(seen, plan)

	pe := pgError(t, conn, "SELECT * FROM bad_t")
	if pe.Code != "28P01" || pe.Message != "Redis at 127.0.0.1:"+strconv.Itoa(srv.Port)+` refused the password of user "app" (WRONGPASS)` {
		t.Errorf("wrong password: %s %q", pe.Code, pe.Message)
	}
	seen = append(seen, pe.Message, pe.Detail, pe.Hint)
	pe = pgError(t, conn, "SELECT * FROM none_t")
	if pe.Code != "28000" || !strings.Contains(pe.Message, "requires a password") {
		t.Errorf("no password: %s %q", pe.Code, pe.Message)
	}
	seen = append(seen, pe.Message, pe.Detail, pe.Hint)
	seen = append(seen, flatten(rows(t, conn, "SELECT srvname, array_to_string(srvoptions, ',') FROM pg_foreign_server"))...)

	log, err := os.ReadFile(filepath.Join(cluster.Dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	seen = append(seen, string(log))
	for _, s := range seen {
		if strings.Contains(s, password) || strings.Contains(s, wrong) {
			t.Fatalf("a password is shown: %q", s)
		}
	}
}
