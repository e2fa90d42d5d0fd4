package fdwtest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/redistest"
)

// pglinks_redis_ping answers with what Redis says about itself, over a fresh
// connection; a server of another wrapper, an unreachable Redis and a role
// without USAGE get clear errors.
func TestPing(t *testing.T) {
	conn, _ := newDB(t)
	flush(t, plain)
	redisDo(t, plain, "MSET", "a", "1", "b", "2", "c", "3")
	createServer(t, conn, "r", plain, "", "")

	if got := one(t, conn, "SELECT pglinks_redis_version()"); got != "1.0" {
		t.Errorf("pglinks_redis_version() = %q", got)
	}
	r := rows(t, conn, "SELECT redis_version, redis_mode, dbsize, latency_ms > 0 FROM pglinks_redis_ping('r')")
	if len(r) != 1 || !strings.HasPrefix(r[0][0], "7.") || r[0][1] != "standalone" ||
		r[0][2] != "3" || r[0][3] != "true" {
		t.Errorf("ping = %v, want Redis 7.x, standalone, 3 keys, a latency", r)
	}

	t.Run("ErrNotRedis", func(t *testing.T) {
		mustExec(t, conn, "CREATE EXTENSION postgres_fdw")
		mustExec(t, conn, "CREATE SERVER pg FOREIGN DATA WRAPPER postgres_fdw")
		pe := pgError(t, conn, "SELECT * FROM pglinks_redis_ping('pg')")
		if !strings.Contains(pe.Message, `server "pg" does not use the pglinks_redis wrapper`) {
			t.Errorf("got %q", pe.Message)
		}
	})
	t.Run("ErrRefused", func(t *testing.T) {
		port, err := pgtest.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, conn, fmt.Sprintf("CREATE SERVER closed FOREIGN DATA WRAPPER pglinks_redis OPTIONS (port '%d')", port))
		mustExec(t, conn, "CREATE USER MAPPING FOR CURRENT_USER SERVER closed")
		pe := pgError(t, conn, "SELECT * FROM pglinks_redis_ping('closed')")
		want := "could not connect to Redis at 127.0.0.1:" + strconv.Itoa(port) + ": Connection refused"
		if pe.Message != want || pe.Code != "HV00N" {
			t.Errorf("got %s %q, want HV00N %q", pe.Code, pe.Message, want)
		}
	})
	t.Run("ErrNoUsage", func(t *testing.T) {
		mustExec(t, conn, "CREATE ROLE nobody_ping LOGIN PASSWORD 'pw-nobody'")
		mustExec(t, conn, "GRANT CONNECT ON DATABASE "+one(t, conn, "SELECT current_database()")+" TO nobody_ping")
		other := connect(t, cluster.URL("nobody_ping", "pw-nobody", one(t, conn, "SELECT current_database()")))
		pe := pgError(t, other, "SELECT * FROM pglinks_redis_ping('r')")
		if pe.Code != "42501" || !strings.Contains(pe.Message, "permission denied for foreign server r") {
			t.Errorf("got %s %q", pe.Code, pe.Message)
		}
	})
}

// Options are checked when they are set; credentials are refused as server
// options and never echoed.
func TestOptions(t *testing.T) {
	conn, db := newDB(t)
	const secret = "s3cret-Never-Shown"

	for _, tc := range []struct {
		name, sql, want string
	}{
		{"PasswordOnServer", "CREATE SERVER x FOREIGN DATA WRAPPER pglinks_redis OPTIONS (password '" + secret + "')",
			"Redis credentials belong in the user mapping, not in the server's options"},
		{"UserOnServer", "CREATE SERVER x FOREIGN DATA WRAPPER pglinks_redis OPTIONS (user 'app')",
			"Redis credentials belong in the user mapping, not in the server's options"},
		{"Unknown", "CREATE SERVER x FOREIGN DATA WRAPPER pglinks_redis OPTIONS (dbname 'x')", `invalid option "dbname"`},
		{"Port", "CREATE SERVER x FOREIGN DATA WRAPPER pglinks_redis OPTIONS (port '70000')", `invalid value for option "port": "70000"`},
		{"Timeout", "CREATE SERVER x FOREIGN DATA WRAPPER pglinks_redis OPTIONS (command_timeout 'soon')", `invalid value for option "command_timeout": "soon"`},
		{"TLSBool", "CREATE SERVER x FOREIGN DATA WRAPPER pglinks_redis OPTIONS (tls 'maybe')", `invalid value for option "tls": "maybe"`},
		{"TLSCA", "CREATE SERVER x FOREIGN DATA WRAPPER pglinks_redis OPTIONS (tls_ca 'not a certificate')", `invalid value for option "tls_ca"`},
		{"WrapperOption", "ALTER FOREIGN DATA WRAPPER pglinks_redis OPTIONS (host 'x')", `invalid option "host"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pe := pgError(t, conn, tc.sql)
			if !strings.Contains(pe.Message, tc.want) {
				t.Errorf("got %q, want %q", pe.Message, tc.want)
			}
			if strings.Contains(pe.Message+pe.Detail+pe.Hint, secret) {
				t.Errorf("the password is in the error: %+v", pe)
			}
		})
	}

	createServer(t, conn, "r", plain, "", "")
	t.Run("MappingUserWithoutPassword", func(t *testing.T) {
		pe := pgError(t, conn, "ALTER USER MAPPING FOR CURRENT_USER SERVER r OPTIONS (ADD user 'app')")
		if !strings.Contains(pe.Message, `user mapping option "user" needs "password" too`) {
			t.Errorf("got %q", pe.Message)
		}
	})
	t.Run("TableType", func(t *testing.T) {
		pe := pgError(t, conn, "CREATE FOREIGN TABLE nt (key text, value text) SERVER r")
		if !strings.Contains(pe.Message, `a Redis foreign table needs the option "type"`) {
			t.Errorf("got %q", pe.Message)
		}
		pe = pgError(t, conn, "CREATE FOREIGN TABLE nt (key text, value text) SERVER r OPTIONS (type 'stream')")
		if !strings.Contains(pe.Message, `invalid value for option "type": "stream"`) {
			t.Errorf("got %q", pe.Message)
		}
	})

	// What only a superuser may set: password_required=false (a Redis
	// without a password for everyone allowed on the server) and a file
	// the server process reads.
	t.Run("ErrNotSuperuser", func(t *testing.T) {
		mustExec(t, conn, "CREATE ROLE opt_owner LOGIN PASSWORD 'pw-owner'")
		mustExec(t, conn, "GRANT USAGE ON FOREIGN DATA WRAPPER pglinks_redis TO opt_owner")
		mustExec(t, conn, "GRANT CREATE ON DATABASE "+db+" TO opt_owner")
		owner := connect(t, cluster.URL("opt_owner", "pw-owner", db))
		mustExec(t, owner, "CREATE SERVER mine FOREIGN DATA WRAPPER pglinks_redis")
		pe := pgError(t, owner, "CREATE USER MAPPING FOR CURRENT_USER SERVER mine OPTIONS (password_required 'false')")
		if pe.Code != "42501" || !strings.Contains(pe.Message, "password_required=false is superuser-only") {
			t.Errorf("got %s %q", pe.Code, pe.Message)
		}
		pe = pgError(t, owner, "ALTER SERVER mine OPTIONS (ADD tls_ca_file '/etc/ssl/certs/ca-certificates.crt')")
		if pe.Code != "42501" || !strings.Contains(pe.Message, "tls_ca_file") {
			t.Errorf("got %s %q", pe.Code, pe.Message)
		}
	})
}

// A session's cached connection follows ALTER SERVER and ALTER USER
// MAPPING at once (a moved Redis, a rotated password), and two scans of one
// server in one statement share it without mixing their replies.
func TestConnectionFollowsChanges(t *testing.T) {
	ctx := context.Background()
	conn, _ := newDB(t)
	flush(t, plain)
	redisDo(t, plain, "SET", "where", "plain")
	other, err := redistest.Start(ctx, redistest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Stop()
	redisDo(t, other, "SET", "where", "other")
	if err := other.AddUser(ctx, "app", "first-pw", true); err != nil {
		t.Fatal(err)
	}

	createServer(t, conn, "r", plain, "", "")
	mustExec(t, conn, "CREATE FOREIGN TABLE t (key text, value text) SERVER r OPTIONS (type 'string')")
	if got := one(t, conn, "SELECT value FROM t WHERE key = 'where'"); got != "plain" {
		t.Fatalf("before: %q", got)
	}
	mustExec(t, conn, fmt.Sprintf("ALTER SERVER r OPTIONS (SET port '%d')", other.Port))
	mustExec(t, conn, "ALTER USER MAPPING FOR CURRENT_USER SERVER r OPTIONS (ADD user 'app', ADD password 'first-pw')")
	if got := one(t, conn, "SELECT value FROM t WHERE key = 'where'"); got != "other" {
		t.Errorf("after ALTER SERVER: %q", got)
	}
	if _, err := other.Do(ctx, "ACL", "SETUSER", "app", "resetpass", ">second-pw"); err != nil {
		t.Fatal(err)
	}
	// The open connection stays authenticated, as Redis keeps it; the new
	// password takes effect with the mapping.
	mustExec(t, conn, "ALTER USER MAPPING FOR CURRENT_USER SERVER r OPTIONS (SET password 'second-pw')")
	if got := one(t, conn, "SELECT value FROM t WHERE key = 'where'"); got != "other" {
		t.Errorf("after the rotation: %q", got)
	}
	mustExec(t, conn, "ALTER USER MAPPING FOR CURRENT_USER SERVER r OPTIONS (SET password 'first-pw')")
	if pe := pgError(t, conn, "SELECT value FROM t WHERE key = 'where'"); pe.Code != "28P01" {
		t.Errorf("an old password: %s %q", pe.Code, pe.Message)
	}

	mustExec(t, conn, "ALTER USER MAPPING FOR CURRENT_USER SERVER r OPTIONS (SET password 'second-pw')")
	seed(t, other, "n:", 500, func(i int) string { return strconv.Itoa(i) })
	// The outer SCAN's pages and the inner GETs alternate on one connection.
	const selfJoin = "SELECT count(*) FROM t a JOIN t b ON b.key = a.key WHERE a.key LIKE 'n:%' AND b.value = a.value"
	if plan := explain(t, conn, selfJoin); !strings.Contains(plan, "GET (1 key per execution)") || !strings.Contains(plan, "SCAN COUNT") {
		t.Errorf("self-join plan:\n%s", plan)
	}
	mustExec(t, conn, "ALTER FOREIGN TABLE t OPTIONS (ADD scan_count '50', ADD batch_size '7')")
	if got := one(t, conn, selfJoin); got != "500" {
		t.Errorf("self-join: %s rows", got)
	}
}
