package pgtest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/pgversion"
)

func TestClusterOwnerDatabase(t *testing.T) {
	ctx := context.Background()
	c, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })

	db, err := c.CreateDatabase(ctx, "shop", DBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var super, usage bool
	if err := conn.QueryRow(ctx, `SELECT rolsuper, has_foreign_data_wrapper_privilege('postgres_fdw', 'USAGE')
		FROM pg_roles WHERE rolname = current_user`).Scan(&super, &usage); err != nil {
		t.Fatal(err)
	}
	if super || !usage {
		t.Fatalf("owner role: superuser=%v fdw usage=%v, want false/true", super, usage)
	}

	if _, err := pgx.Connect(ctx, c.URL(db.Owner, "wrong", db.Name)); err == nil {
		t.Fatal("wrong password accepted: the cluster must ask for passwords over TCP")
	}
}

func TestHaltResume(t *testing.T) {
	ctx := context.Background()
	c, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if err := c.Exec(ctx, "postgres", "CREATE TABLE kept (id int)"); err != nil {
		t.Fatal(err)
	}
	c.Halt()
	if err := c.Exec(ctx, "postgres", "SELECT 1"); err == nil {
		t.Fatal("a halted cluster still answers")
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Resume(ctx, port); err != nil {
		t.Fatal(err)
	}
	if c.Port != port {
		t.Fatalf("port = %d, want %d", c.Port, port)
	}
	if err := c.Exec(ctx, "postgres", "SELECT * FROM kept"); err != nil {
		t.Fatalf("data lost across Halt/Resume: %v", err)
	}
}

// TestEveryMajor starts one cluster of each supported major (and 13, the
// older server the tests use to check what pglinks says about one), in
// parallel, and checks each runs the version asked for, with postgres_fdw
// and password authentication as on hosted plans.
func TestEveryMajor(t *testing.T) {
	majors := append([]int{13}, pgversion.Supported()...)
	for _, major := range majors {
		t.Run(fmt.Sprint(major), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c, err := Start(ctx, Options{Major: major, Logical: true, ForTests: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Stop() })
			if c.Major() != major {
				t.Fatalf("Major() = %d, want %d", c.Major(), major)
			}
			db, err := c.CreateDatabase(ctx, "shop", DBOptions{})
			if err != nil {
				t.Fatal(err)
			}
			version := MustQueryString(t, db.URL, "SELECT version()")
			if want := fmt.Sprintf("PostgreSQL %d.", major); !strings.HasPrefix(version, want) {
				t.Fatalf("version() = %q, want %s...", version, want)
			}
			num := MustQueryInt(t, db.URL, "SELECT current_setting('server_version_num')::int")
			if num/10000 != major {
				t.Fatalf("server_version_num = %d", num)
			}
			if n := MustQueryInt(t, db.URL, "SELECT count(*) FROM pg_extension WHERE extname = 'postgres_fdw'"); n != 1 {
				t.Fatal("postgres_fdw is not installed")
			}
			if w := MustQueryString(t, db.URL, "SHOW wal_level"); w != "logical" {
				t.Fatalf("wal_level = %s", w)
			}
			if _, err := pgx.Connect(ctx, c.URL(db.Owner, "wrong", db.Name)); err == nil {
				t.Fatal("wrong password accepted")
			}
		})
	}
}

func TestMajorNotFound(t *testing.T) {
	t.Setenv("PGLINKS_PG_CACHE", t.TempDir())
	_, err := Start(context.Background(), Options{Major: 12})
	if err == nil || !strings.Contains(err.Error(), "PostgreSQL 12 not found") || !strings.Contains(err.Error(), "scripts/deps.sh test") {
		t.Fatalf("err = %v, want one naming the major and scripts/deps.sh test", err)
	}
}

func TestMajorOf(t *testing.T) {
	for in, want := range map[string]int{"15.18 (Debian 15.18-0+deb12u1)": 15, "18.4": 18, "19beta1": 19, "9.6.24": 9, "": 0} {
		if got := majorOf(in); got != want {
			t.Errorf("majorOf(%q) = %d, want %d", in, got, want)
		}
	}
}

// A ForTests cluster keeps one-iteration scram-sha-256 secrets, and they
// work as any other: the right password in, a wrong one refused, through
// pgx and through postgres_fdw (libpq) alike.
func TestForTestsAuth(t *testing.T) {
	ctx := context.Background()
	c, err := Start(ctx, Options{ForTests: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	db, err := c.CreateDatabase(ctx, "fast", DBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"postgres", db.Owner} {
		secret := MustQueryString(t, c.SuperURL("postgres"), "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role)
		if !strings.HasPrefix(secret, "SCRAM-SHA-256$1:") {
			t.Fatalf("%s's secret %.16s..., want one iteration", role, secret)
		}
	}
	if _, err := pgx.Connect(ctx, c.URL(db.Owner, "wrong", db.Name)); err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("wrong password: %v", err)
	}
	// The owner's password through libpq: a loopback user mapping.
	MustExec(t, db.URL, fmt.Sprintf(`CREATE SERVER self FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port '%d', dbname 'fast');
		CREATE USER MAPPING FOR CURRENT_USER SERVER self OPTIONS (user '%s', password '%s');
		CREATE TABLE t (x int); INSERT INTO t VALUES (7);
		CREATE FOREIGN TABLE ft (x int) SERVER self OPTIONS (table_name 't')`, c.Port, db.Owner, db.Password))
	if n := MustQueryInt(t, db.URL, "SELECT x FROM ft"); n != 7 {
		t.Fatalf("through postgres_fdw: %d", n)
	}
}

// WaitingTests sets -parallel unless it was given on the command line.
func TestWaitingTests(t *testing.T) {
	f := flag.Lookup("test.parallel")
	before := f.Value.String()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	WaitingTests(5)
	got := f.Value.String()
	if given && got != before {
		t.Errorf("-parallel %s was given, WaitingTests made it %s", before, got)
	}
	if !given && got != "5" {
		t.Errorf("-parallel not given: %s after WaitingTests(5), want 5", got)
	}
}

// Clusters are copies of one initdb per set of binaries, made once even
// when several processes ask at the same time, and each takes a password
// of its own: the template's opens none of them.
func TestTemplate(t *testing.T) {
	ctx := context.Background()
	bin, err := BinDir()
	if err != nil {
		t.Fatal(err)
	}
	cred, err := serverCred()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{bin: bin, cred: cred}
	dir, err := os.MkdirTemp("", "pgtest-template-") // t.TempDir's parent is closed to the server user
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "templates")
	got := make([]dataTemplate, 3)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			var err error
			if got[i], err = c.dataTemplate(ctx, root); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, g := range got[1:] {
		if g != got[0] {
			t.Fatalf("templates differ: %+v and %+v", got[0], g)
		}
	}
	if entries, _ := os.ReadDir(root); len(entries) != 1 {
		t.Fatalf("%d entries in the template root, want one (no initdb left half-made): %v", len(entries), entries)
	}
	// A template that lost a file (a /tmp cleaner) is made again.
	conf := filepath.Join(got[0].data, "postgresql.conf")
	if err := os.Remove(conf); err != nil {
		t.Fatal(err)
	}
	again, err := c.dataTemplate(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if again.password == got[0].password {
		t.Fatal("a damaged template was used again")
	}
	if _, err := os.Stat(conf); err != nil {
		t.Fatalf("the template made again: %v", err)
	}

	a, err := Start(ctx, Options{ForTests: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	b, err := Start(ctx, Options{ForTests: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	tmpl, err := a.dataTemplate(ctx, templateRoot)
	if err != nil {
		t.Fatal(err)
	}
	if a.superPassword == b.superPassword || a.superPassword == tmpl.password {
		t.Fatal("clusters share a superuser password")
	}
	for _, c := range []*Cluster{a, b} {
		if _, err := pgx.Connect(ctx, c.URL("postgres", tmpl.password, "postgres")); err == nil || !strings.Contains(err.Error(), "password authentication failed") {
			t.Fatalf("the template's password: %v", err)
		}
		MustExec(t, c.SuperURL("postgres"), "SELECT 1")
	}
}
