package links

import (
	"context"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/pgtest"
)

func TestCreateLink(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		res, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "sales", CopyEnums: true, Actor: "ada@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Tables != 3 {
			t.Errorf("imported %d tables, want 3", res.Tables)
		}
		if got := strings.Join(res.CopiedTypes, ","); got != "public.order_status" {
			t.Errorf("copied types %q, want public.order_status", got)
		}
		for _, ddl := range res.DDL {
			if strings.Contains(ddl, f.remote.Password) {
				t.Fatalf("DDL for the audit trail holds the password: %s", ddl)
			}
		}
		l := res.Link
		if l.RemoteConfigVar != "HEROKU_POSTGRESQL_BLUE_URL" || l.ServerName != "sales" || l.CreatedBy != "ada@example.com" || l.CreatedAt.IsZero() {
			t.Errorf("link read back = %+v", l)
		}

		// The link works: the local owner queries the remote through it.
		if n := queryInt(t, f.local.URL, "SELECT count(*) FROM sales.customers"); n != 2 {
			t.Errorf("sales.customers has %d rows through the link, want 2", n)
		}
		if n := queryInt(t, f.local.URL, "SELECT count(*) FROM sales.orders WHERE status = 'paid'"); n != 1 {
			t.Errorf("paid orders through the link = %d, want 1", n)
		}

		// The inventory reads it back from the catalog.
		inv := f.svc.Inventory(ctx)
		if len(inv) != 2 || !inv[0].Reachable || !inv[0].Support.OK || len(inv[0].Links) != 1 || inv[0].Links[0].Name != "sales" || inv[0].Links[0].TableCount != 3 {
			t.Fatalf("inventory = %+v", inv)
		}
		if len(inv[1].Links) != 0 {
			t.Errorf("remote lists links: %+v", inv[1].Links)
		}

		// \det sales.*, whatever the search_path, with hostile names kept verbatim.
		_, tables, err := allForeignTables(ctx, f.svc, "DATABASE_URL", "sales")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, ft := range tables {
			names = append(names, ft.Name)
			if ft.Schema != "sales" || ft.Server != "sales" || ft.RemoteSchema != "public" {
				t.Errorf("table %+v", ft)
			}
		}
		if got := strings.Join(names, "|"); got != "<script>alert(1)</script>|customers|orders" {
			t.Errorf("tables = %q", got)
		}
		if c := tables[2].Columns; len(c) != 4 || c[3].Name != "status" || c[3].Type != "public.order_status" || !c[3].NotNull {
			t.Errorf("orders columns = %+v", c)
		}
		if c := tables[0].Columns; len(c) != 2 || c[1].Name != "'; DROP TABLE customers; --" {
			t.Errorf("hostile columns = %+v", c)
		}
	})

	t.Run("PasswordWithQuotes", func(t *testing.T) {
		t.Parallel()
		// The remote password goes into the user mapping as a literal: quotes
		// and backslashes must survive quoting exactly.
		f := newFixture(t)
		pw := `it's a \ "tricky" pa$$word`
		lit, _ := fleet.QuoteLiteral(pw)
		if err := clusterB.Exec(ctx, "postgres", "ALTER ROLE "+fleet.Ident(f.remote.Owner)+" PASSWORD "+lit); err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(f.remote.URL)
		u.User = url.UserPassword(f.remote.Owner, pw)
		svc := newService(t, []string{"DATABASE_URL=" + f.local.URL, "HEROKU_POSTGRESQL_BLUE_URL=" + u.String()})
		res, err := svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "quoted", CopyEnums: true})
		if err != nil {
			t.Fatal(err)
		}
		if n := queryInt(t, f.local.URL, "SELECT count(*) FROM quoted.customers"); n != 2 {
			t.Fatalf("rows through the link: %d", n)
		}
		for _, ddl := range res.DDL {
			if strings.Contains(ddl, "tricky") {
				t.Fatalf("DDL for the audit trail holds the password: %s", ddl)
			}
		}
	})

	t.Run("DefaultName", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		res, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", CopyEnums: true})
		if err != nil {
			t.Fatal(err)
		}
		remote, _ := f.svc.Fleet.Get("HEROKU_POSTGRESQL_BLUE_URL")
		// The resource name without its "postgresql-", as the form shows it.
		want := strings.ReplaceAll(strings.TrimPrefix(remote.ResourceName, "postgresql-"), "-", "_")
		if res.Link.Name != want || want != DefaultName(remote.ResourceName, "", nil) {
			t.Errorf("name = %q, want %q", res.Link.Name, want)
		}
		// Taken by that link, the default gets a suffix: a second link
		// from the same remote needs no name typed.
		if name, err := f.svc.DefaultLinkName(ctx, "HEROKU_POSTGRESQL_BLUE_URL", "DATABASE_URL", ""); err != nil || name != want+"_2" {
			t.Errorf("second default name = %q, %v; want %q", name, err, want+"_2")
		}
	})

	t.Run("ErrInvalidName", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		for _, name := range []string{"Sales", "sales; DROP SCHEMA public", "public", "pg_catalog", strings.Repeat("a", 64)} {
			_, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: name, CopyEnums: true})
			if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "name" {
				t.Errorf("%q: err = %v, want invalid on name", name, err)
			}
		}
	})

	t.Run("ErrSameDatabase", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		_, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "DATABASE_URL", LocalVar: "DATABASE_URL", Name: "self"})
		if !errs.Is(err, errs.Invalid) || !strings.Contains(errs.MessageOf(err), "itself") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("ErrUnknownDatabase", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		_, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "NOPE_URL", LocalVar: "DATABASE_URL", Name: "x"})
		if !errs.Is(err, errs.NotFound) || errs.FieldOf(err) != "remote" {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("ErrNameTaken", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		execAs(t, f.local.URL, "CREATE SCHEMA reports; CREATE TABLE reports.keep (id int)")
		_, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "reports", CopyEnums: true})
		if !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), "schema") {
			t.Fatalf("err = %v", err)
		}
		execAs(t, f.local.URL, "CREATE SERVER handmade FOREIGN DATA WRAPPER postgres_fdw")
		_, err = f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "handmade", CopyEnums: true})
		if !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), "foreign server") {
			t.Fatalf("err = %v", err)
		}
		if n := queryInt(t, f.local.URL, "SELECT count(*) FROM reports.keep"); n != 0 {
			t.Fatal("reports.keep changed")
		}
		// A second link with a taken name after a good one.
		if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "sales", CopyEnums: true}); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "sales", CopyEnums: true})
		if !errs.Is(err, errs.Conflict) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("ErrMissingType", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		_, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "sales"})
		msg := errs.MessageOf(err)
		if !errs.Is(err, errs.Invalid) || !strings.Contains(msg, "public.order_status (enum, missing, used by orders.status)") {
			t.Fatalf("err = %v", err)
		}
		assertNothingLeft(t, f.local.URL, "sales")
		if n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_type WHERE typname = 'order_status'"); n != 0 {
			t.Fatal("enum copied although not asked")
		}
	})

	t.Run("ErrRemoteDown", func(t *testing.T) {
		t.Parallel()
		closed := closedPortURL(t)
		f := newFixture(t, "HEROKU_POSTGRESQL_GRAY_URL="+closed)
		start := time.Now()
		_, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_GRAY_URL", LocalVar: "DATABASE_URL", Name: "gone"})
		if !errs.Is(err, errs.Unavailable) || !strings.Contains(errs.MessageOf(err), "unreachable") {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(errs.MessageOf(err), "secret") {
			t.Fatalf("message leaks the password: %s", errs.MessageOf(err))
		}
		t.Logf("closed port reported after %v", time.Since(start))
		assertNothingLeft(t, f.local.URL, "gone")
	})

	t.Run("ErrRemoteSilent", func(t *testing.T) {
		t.Parallel()
		// Accepts TCP and never answers: must fail within the connect timeout.
		f := newFixture(t, "HEROKU_POSTGRESQL_GRAY_URL="+blackholeURL(t))
		_, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_GRAY_URL", LocalVar: "DATABASE_URL", Name: "silent"})
		if !errs.Is(err, errs.Unavailable) || !strings.Contains(errs.MessageOf(err), "no answer in time") {
			t.Fatalf("err = %v", err)
		}
		assertNothingLeft(t, f.local.URL, "silent")
	})

	t.Run("ErrBadCredentials", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		bad := strings.Replace(f.remote.URL, f.remote.Password, "wrong-password", 1)
		f.svc = newService(t, append(f.env, "HEROKU_POSTGRESQL_GRAY_URL="+bad))
		_, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_GRAY_URL", LocalVar: "DATABASE_URL", Name: "badpw"})
		if !errs.Is(err, errs.Unavailable) || !strings.Contains(errs.MessageOf(err), "refused the connection: password refused") {
			t.Fatalf("err = %v", err)
		}
		assertNothingLeft(t, f.local.URL, "badpw")
	})

	t.Run("ErrMidCreateRollsBack", func(t *testing.T) {
		t.Parallel()
		// The remote's password is rotated after pglinks connected: pglinks'
		// pooled connection still works, but postgres_fdw's fresh connection
		// from the local server fails at IMPORT FOREIGN SCHEMA, after the
		// server, mapping and schema were made. All of it must roll back.
		f := newFixture(t)
		if _, _, err := f.svc.preflightRemote(ctx, mustDB(t, f.svc, "HEROKU_POSTGRESQL_BLUE_URL"), "public", nil); err != nil {
			t.Fatal(err)
		}
		if err := clusterB.Exec(ctx, "postgres", "ALTER ROLE "+fleet.Ident(f.remote.Owner)+" PASSWORD 'rotated-password'"); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "rotated", CopyEnums: true})
		if !errs.Is(err, errs.Unavailable) || !strings.Contains(errs.MessageOf(err), "password refused") {
			t.Fatalf("err = %v", err)
		}
		assertNothingLeft(t, f.local.URL, "rotated")
		if n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_type WHERE typname = 'order_status'"); n != 0 {
			t.Fatal("copied enum survived the rollback")
		}
	})

	t.Run("ErrRemoteAsksNoPassword", func(t *testing.T) {
		t.Parallel()
		// A remote that lets the role in without a password: postgres_fdw
		// refuses non-superusers there, and the message must say why.
		f := newFixture(t)
		if err := clusterB.PrependHBA(ctx, "host "+f.remote.Name+" "+f.remote.Owner+" 127.0.0.1/32 trust"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // pg_reload_conf is asynchronous
		_, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "trusting", CopyEnums: true})
		if !errs.Is(err, errs.Unavailable) || !strings.Contains(errs.MessageOf(err), "without asking for a password") {
			t.Fatalf("err = %v", err)
		}
		assertNothingLeft(t, f.local.URL, "trusting")
	})

	t.Run("ErrNoFDW", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		nofdw := newDB(t, clusterA, "nofdw", pgtest.DBOptions{NoFDW: true})
		svc := newService(t, append(f.env, "HEROKU_POSTGRESQL_WHITE_URL="+nofdw.URL))
		_, err := svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "HEROKU_POSTGRESQL_WHITE_URL", Name: "nope", CopyEnums: true})
		if !errs.Is(err, errs.Invalid) || !strings.Contains(errs.MessageOf(err), "postgres_fdw") || errs.FieldOf(err) != "local" {
			t.Fatalf("err = %v", err)
		}
		assertNothingLeft(t, nofdw.URL, "nope")
		st := mustStatus(t, svc, "HEROKU_POSTGRESQL_WHITE_URL")
		if !st.Reachable || st.Support.OK || !strings.Contains(st.Support.Reason, "postgres_fdw is not installed") {
			t.Fatalf("status = %+v", st)
		}
	})

	t.Run("ConcurrentSameName", func(t *testing.T) {
		t.Parallel()
		// Two pglinks processes (separate services, separate connections)
		// create the same link at once: exactly one wins.
		f := newFixture(t)
		other := newService(t, f.env)
		var wg sync.WaitGroup
		results := make([]error, 2)
		for i, svc := range []*Service{f.svc, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, results[i] = svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "race", CopyEnums: true})
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range results {
			switch {
			case err == nil:
				wins++
			case !errs.Is(err, errs.Conflict):
				t.Errorf("loser got %v, want a conflict", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d creates won: %v", wins, results)
		}
		if s, sv, m := linkObjects(t, f.local.URL, "race"); s != 1 || sv != 1 || m != 1 {
			t.Fatalf("catalog: %d schemas, %d servers, %d mappings", s, sv, m)
		}
	})

	t.Run("ErrLockBusy", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.svc.Fleet.Deadlines.Lock = 200 * time.Millisecond
		conn, err := pgx.Connect(ctx, f.local.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('pglinks:link:' || $1, 0))", "busy"); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "busy", CopyEnums: true})
		if !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), "in progress") {
			t.Fatalf("err = %v", err)
		}
	})
}

func mustDB(t testing.TB, svc *Service, configVar string) *fleet.Database {
	t.Helper()
	d, err := svc.database(configVar, "")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// closedPortURL points at a port nobody listens on.
func closedPortURL(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "postgres://someone:secret@" + addr + "/gone?sslmode=disable"
}

// blackholeURL points at a listener that accepts connections and never
// answers.
func blackholeURL(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "postgres://someone:secret@" + l.Addr().String() + "/silent?sslmode=disable"
}
