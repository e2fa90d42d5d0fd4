package fdwtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/redistest"
)

// A Redis that stops answering never holds a statement past its bounds:
// statement_timeout and pg_cancel_backend end it while it waits (mid-SCAN
// too), command_timeout and connect_timeout end it by themselves, and the
// session works again afterwards on a new connection. The bounds asserted
// are loose on purpose: the machine is shared.
func TestStalledRedis(t *testing.T) {
	conn, db := newDB(t)
	ctx := context.Background()

	t.Run("StatementTimeoutMidScan", func(t *testing.T) {
		flush(t, plain)
		for i := 0; i < 50; i++ {
			redisDo(t, plain, "SET", fmt.Sprintf("s:%d", i), "v")
		}
		proxy, err := redistest.NewProxy(plain)
		if err != nil {
			t.Fatal(err)
		}
		defer proxy.Close()
		proxy.StallAt("SCAN", 2) // answers the first page, then hangs
		mustExec(t, conn, fmt.Sprintf("CREATE SERVER stall FOREIGN DATA WRAPPER pglinks_redis OPTIONS (port '%d')", proxy.Port))
		mustExec(t, conn, "CREATE USER MAPPING FOR CURRENT_USER SERVER stall")
		mustExec(t, conn, "CREATE FOREIGN TABLE stalled (key text, value text) SERVER stall OPTIONS (type 'string', scan_count '5')")

		mustExec(t, conn, "SET statement_timeout = '1s'")
		start := time.Now()
		pe := pgError(t, conn, "SELECT count(*) FROM stalled")
		took := time.Since(start)
		mustExec(t, conn, "RESET statement_timeout")
		if pe.Code != "57014" || pe.Message != "canceling statement due to statement timeout" || proxy.Stalled() != 1 {
			t.Fatalf("got %s %q, %d stalled connections", pe.Code, pe.Message, proxy.Stalled())
		}
		if took > 10*time.Second {
			t.Errorf("the statement ended %v after it began (statement_timeout 1s)", took)
		}
		t.Logf("stalled mid-SCAN: ended by statement_timeout 1s after %v", took.Round(time.Millisecond))

		// The interrupted connection is not reused: the next statement
		// connects afresh and reads everything.
		proxy.StallAt("", 0)
		if got := one(t, conn, "SELECT count(*) FROM stalled"); got != "50" {
			t.Errorf("after the timeout: %s keys", got)
		}
	})

	t.Run("CancelWhilePaused", func(t *testing.T) {
		srv, err := redistest.Start(ctx, redistest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Stop()
		redisDo(t, srv, "SET", "k", "v")
		createServer(t, conn, "paused", srv, "", "")
		mustExec(t, conn, "CREATE FOREIGN TABLE paused_t (key text, value text) SERVER paused OPTIONS (type 'string')")
		if got := one(t, conn, "SELECT value FROM paused_t WHERE key = 'k'"); got != "v" {
			t.Fatalf("before the pause: %q", got)
		}
		pid := backendPID(t, conn)
		if err := srv.Pause(); err != nil {
			t.Fatal(err)
		}
		defer srv.Resume()

		done := make(chan error, 1)
		start := time.Now()
		go func() {
			_, err := conn.Exec(context.Background(), "SELECT * FROM paused_t WHERE key = 'k'")
			done <- err
		}()
		admin := connect(t, cluster.SuperURL(db))
		waitFor(t, 10*time.Second, "the backend waiting on Redis", func() bool {
			return one(t, admin, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Extension'", atoi(t, pid)) == "1"
		})
		mustExec(t, admin, "SELECT pg_cancel_backend($1)", atoi(t, pid))
		var err2 error
		select {
		case err2 = <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("pg_cancel_backend did not end the statement within 20 s")
		}
		var pe *pgconn.PgError
		if !errors.As(err2, &pe) || pe.Code != "57014" || pe.Message != "canceling statement due to user request" {
			t.Fatalf("got %v", err2)
		}
		t.Logf("paused Redis: pg_cancel_backend ended the statement %v after it began", time.Since(start).Round(time.Millisecond))
		srv.Resume()
		if got := one(t, conn, "SELECT value FROM paused_t WHERE key = 'k'"); got != "v" {
			t.Errorf("after the cancel: %q", got)
		}
	})

	t.Run("CommandTimeout", func(t *testing.T) {
		flush(t, plain)
		redisDo(t, plain, "SET", "k", "v")
		createServer(t, conn, "slow", plain, "command_timeout '0.5'", "")
		mustExec(t, conn, "CREATE FOREIGN TABLE slow_t (key text, value text) SERVER slow OPTIONS (type 'string')")
		if got := one(t, conn, "SELECT value FROM slow_t WHERE key = 'k'"); got != "v" {
			t.Fatalf("before DEBUG SLEEP: %q", got)
		}
		// DEBUG SLEEP blocks the whole server, as a long command would.
		sleeper, err := plain.Dial(ctx, redistest.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer sleeper.Close()
		slept := make(chan error, 1)
		go func() {
			_, err := sleeper.Do(ctx, "DEBUG", "SLEEP", "3")
			slept <- err
		}()
		// Redis is blocked once a PING of another client goes unanswered.
		waitFor(t, 10*time.Second, "DEBUG SLEEP to block Redis", func() bool {
			probe, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			c, err := plain.Dial(probe, redistest.DialOptions{})
			if err != nil {
				return false
			}
			defer c.Close()
			_, err = c.Do(probe, "PING")
			return err != nil
		})
		start := time.Now()
		pe := pgError(t, conn, "SELECT value FROM slow_t WHERE key = 'k'")
		took := time.Since(start)
		if err := <-slept; err != nil {
			t.Fatal(err)
		}
		want := "Redis at 127.0.0.1:" + strconv.Itoa(plain.Port) + " did not answer GET within 0.5 s (command_timeout)"
		if pe.Code != "08006" || pe.Message != want {
			t.Fatalf("got %s %q, want 08006 %q", pe.Code, pe.Message, want)
		}
		if took > 10*time.Second {
			t.Errorf("command_timeout 0.5 s took %v", took)
		}
		if got := one(t, conn, "SELECT value FROM slow_t WHERE key = 'k'"); got != "v" {
			t.Errorf("after the timeout: %q", got)
		}
	})

	t.Run("ConnectTimeout", func(t *testing.T) {
		silent, err := redistest.NewSilentListener()
		if err != nil {
			t.Fatal(err)
		}
		defer silent.Close()
		port := strconv.Itoa(silent.Port)
		mustExec(t, conn, "CREATE SERVER silent FOREIGN DATA WRAPPER pglinks_redis OPTIONS (port '"+port+"', connect_timeout '0.5')")
		mustExec(t, conn, "CREATE USER MAPPING FOR CURRENT_USER SERVER silent OPTIONS (password 'pw')")
		mustExec(t, conn, "CREATE SERVER silenttls FOREIGN DATA WRAPPER pglinks_redis OPTIONS (port '"+port+"', tls 'true', connect_timeout '0.5')")
		mustExec(t, conn, "CREATE USER MAPPING FOR CURRENT_USER SERVER silenttls")
		for server, awaited := range map[string]string{"silent": "answer AUTH", "silenttls": "complete the TLS handshake"} {
			pe := pgError(t, conn, "SELECT * FROM pglinks_redis_ping('"+server+"')")
			want := "Redis at 127.0.0.1:" + port + " did not " + awaited + " within 0.5 s (connect_timeout)"
			if pe.Message != want {
				t.Errorf("%s: got %q, want %q", server, pe.Message, want)
			}
		}
	})
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// As on hosted plans: the database's owner is no superuser and has USAGE on
// the wrapper. It must give a password, and the Redis must ask for one; a
// Redis with an ACL user then works like any other.
func TestNonSuperuserOwner(t *testing.T) {
	ctx := context.Background()
	name := fmt.Sprintf("owned_%d", dbSeq.Add(1))
	d, err := cluster.CreateDatabase(ctx, name, pgtest.DBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cluster.Exec(ctx, name, "CREATE EXTENSION pglinks_redis; GRANT USAGE ON FOREIGN DATA WRAPPER pglinks_redis TO "+d.Owner); err != nil {
		t.Fatal(err)
	}
	locked, err := redistest.Start(ctx, redistest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer locked.Stop()
	const password = "App-pa55-for-owner"
	if err := locked.AddUser(ctx, "app", password, true); err != nil {
		t.Fatal(err)
	}
	redisDo(t, locked, "SET", "widget:1", "7")

	owner := connect(t, d.URL)
	createServer(t, owner, "open_nopw", plain, "", "")
	createServer(t, owner, "open_pw", plain, "", "user 'default', password 'anything'")
	createServer(t, owner, "locked", locked, "writable 'true'", "user 'app', password '"+password+"'")
	for _, s := range []string{"open_nopw", "open_pw", "locked"} {
		mustExec(t, owner, "CREATE FOREIGN TABLE "+s+"_t (key text, value text) SERVER "+s+" OPTIONS (type 'string')")
	}

	pe := pgError(t, owner, "SELECT * FROM open_nopw_t")
	if pe.Code != "2F003" || pe.Message != "password is required" {
		t.Errorf("no password: %s %q", pe.Code, pe.Message)
	}
	pe = pgError(t, owner, "SELECT * FROM open_pw_t")
	if pe.Code != "28000" || !strings.HasSuffix(pe.Message, "does not ask for a password") || !strings.Contains(pe.Hint, "password_required") {
		t.Errorf("open Redis: %s %q (hint %q)", pe.Code, pe.Message, pe.Hint)
	}
	if got := one(t, owner, "SELECT value FROM locked_t WHERE key = 'widget:1'"); got != "7" {
		t.Errorf("through the ACL user: %q", got)
	}
	mustExec(t, owner, "INSERT INTO locked_t VALUES ('widget:2', '8')")
	if v := redisDo(t, locked, "GET", "widget:2"); v != "8" {
		t.Errorf("written through the ACL user: %v", v)
	}
	if got := one(t, owner, "SELECT dbsize FROM pglinks_redis_ping('locked')"); got != "2" {
		t.Errorf("ping: dbsize %s", got)
	}
}
