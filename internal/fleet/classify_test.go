package fleet

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// Every cause of a failure to reach a fleet database, produced for real
// against real servers, is classified by Classify, worded by ConnectError,
// and backed off only when asking again can help.
func TestClassifyRealFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two clusters")
	}
	ctx := context.Background()
	main, err := pgtest.Start(ctx, pgtest.Options{ForTests: true})
	if err != nil {
		t.Fatal(err)
	}
	defer main.Stop()
	tiny, err := pgtest.Start(ctx, pgtest.Options{ForTests: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tiny.Stop()
	db, err := main.CreateDatabase(ctx, "classify", pgtest.DBOptions{NoFDW: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := main.Exec(ctx, "postgres", `CREATE ROLE tls_only LOGIN PASSWORD 'tls-only-pw'; CREATE ROLE no_login NOLOGIN PASSWORD 'no-login-pw'; GRANT CONNECT ON DATABASE classify TO tls_only`); err != nil {
		t.Fatal(err)
	}
	if err := main.PrependHBA(ctx, "hostnossl all tls_only 127.0.0.1/32 reject"); err != nil {
		t.Fatal(err)
	}
	closed, err := pgtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() { // accepts, acknowledges, never answers
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	url := func(user, pw, host string, port int, dbname, sslmode string) string {
		return "postgres://" + user + ":" + pw + "@" + net.JoinHostPort(host, strconv.Itoa(port)) + "/" + dbname + "?sslmode=" + sslmode
	}
	type tc struct {
		name, url string
		want      Cause
		words     string // in ConnectError's message
	}
	cases := []tc{
		{"ClosedPort", url("u", "p", "127.0.0.1", closed, "db", "disable"), CauseConnRefused, "is unreachable: connection refused: nothing accepts connections at 127.0.0.1:" + strconv.Itoa(closed)},
		{"HostNotFound", url("u", "p", "nonexistent.invalid", 5432, "db", "disable"), CauseHostNotFound, "is unreachable: host not found: the host name nonexistent.invalid does not resolve"},
		{"SilentListener", url("u", "p", "127.0.0.1", silent.Addr().(*net.TCPAddr).Port, "db", "disable"), CauseTimeout, "is unreachable: not answering: no answer in time"},
		{"WrongPassword", url(db.Owner, "not-the-password", "127.0.0.1", main.Port, db.Name, "disable"), CausePassword, "refused the connection: password refused"},
		// A role that does not exist is refused like a wrong password:
		// scram-sha-256 does not tell a client which it was.
		{"MissingRole", url("no_such_role", "x", "127.0.0.1", main.Port, db.Name, "disable"), CausePassword, "refused the connection: password refused"},
		{"RoleMayNotLogIn", url("no_login", "no-login-pw", "127.0.0.1", main.Port, db.Name, "disable"), CauseRole, `refused the connection: role refused: role "no_login" is not permitted to log in`},
		{"MissingDatabase", url(db.Owner, db.Password, "127.0.0.1", main.Port, "no_such_db", "disable"), CauseNoDatabase, "refused the connection: database does not exist: the server answers but has no database no_such_db"},
		{"TLSRequired", url("tls_only", "tls-only-pw", "127.0.0.1", main.Port, db.Name, "disable"), CauseTLSRequired, "refused the connection: TLS required"},
		{"TLSRefused", url(db.Owner, db.Password, "127.0.0.1", main.Port, db.Name, "require"), CauseTLSRefused, "refused the connection: TLS refused"},
	}
	check := func(t *testing.T, c tc) {
		t.Helper()
		f, err := Load([]string{"DATABASE_URL=" + c.url})
		if err != nil {
			t.Fatal(err)
		}
		f.Log = slog.New(slog.DiscardHandler)
		f.Deadlines.Connect = time.Second
		defer f.Close()
		d := f.Databases[0]
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		conn, err := f.Acquire(actx, d, ClassStatus)
		if err == nil {
			conn.Release()
			t.Fatal("connected")
		}
		got := Classify(err)
		msg := errs.MessageOf(err)
		if got.Cause != c.want || !strings.Contains(msg, c.words) {
			t.Fatalf("cause %q (%q), message %q; want %q with %q", got.Cause, got.Detail, msg, c.want, c.words)
		}
		if !c.want.Network() && strings.Contains(msg, "unreachable") || c.want != CauseTimeout && strings.Contains(msg, "not answering") {
			t.Errorf("message %q misnames the cause", msg)
		}
		if strings.Contains(msg, "not-the-password") || strings.Contains(msg, db.Password) {
			t.Errorf("message %q shows a password", msg)
		}
		// A card's read of it: backed off only when asking again can help.
		ss := NewSnapshots(f, SnapshotOptions{Kind: "card", FleetOutages: true}, func(context.Context, string) (Reader[string], error) {
			return func(ctx context.Context, s *Session) Read[string] {
				if _, err := s.Conn(ctx); err != nil {
					return Read[string]{Down: errs.MessageOf(err), Cause: Classify(err).Cause}
				}
				return Read[string]{Val: "up"}
			}, nil
		})
		sn := ss.Refresh(ctx, d)
		o, down := f.Outage(d.ConfigVar)
		if sn.FailingSince.IsZero() || !down || o.Cause != c.want {
			t.Fatalf("snapshot %+v, outage %+v", sn, o)
		}
		if retried := !sn.RetryAt.IsZero(); retried != c.want.Retried() {
			t.Errorf("backed off %v (retry at %v), want %v", retried, sn.RetryAt, c.want.Retried())
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { check(t, c) })
	}

	// The tiny cluster: every connection slot taken, then shutting down,
	// then not accepting connections yet (a standby starting up).
	tdb, err := tiny.CreateDatabase(ctx, "tiny", pgtest.DBOptions{NoFDW: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range []string{"ALTER SYSTEM SET max_connections = 4", "ALTER SYSTEM SET superuser_reserved_connections = 1"} {
		if err := tiny.Exec(ctx, "postgres", set); err != nil {
			t.Fatal(err)
		}
	}
	tiny.Halt()
	if err := tiny.Resume(ctx, 0); err != nil {
		t.Fatal(err)
	}
	t.Run("TooManyConnections", func(t *testing.T) {
		var held []*pgx.Conn
		defer func() {
			for _, c := range held {
				c.Close(ctx)
			}
		}()
		for range 10 { // max_connections minus the reserved slots
			c, err := pgx.Connect(ctx, tdb.URL)
			if err != nil {
				break
			}
			held = append(held, c)
		}
		if len(held) == 10 {
			t.Fatal("max_connections = 4 let 10 sessions in")
		}
		check(t, tc{"", tdb.URL, CauseTooMany, "refused the connection: too many connections: no connection slot is left"})
	})
	t.Run("ShuttingDown", func(t *testing.T) {
		session, err := pgx.Connect(ctx, tiny.SuperURL("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		tiny.SmartShutdown()
		defer session.Close(ctx)
		check(t, tc{"", tdb.URL, CauseShutting, "refused the connection: shutting down: the server is shutting down"})
	})
	tiny.Halt()
	if err := tiny.ResumeNotAccepting(ctx); err != nil {
		t.Fatal(err)
	}
	t.Run("StartingUp", func(t *testing.T) {
		check(t, tc{"", tdb.URL, CauseStarting, "refused the connection: starting up: the server is starting up or recovering"})
	})
}
