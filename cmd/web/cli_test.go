package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/pglinks/pglinks/internal/app"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/redistest"
	"github.com/pglinks/pglinks/internal/replication"
	"github.com/pglinks/pglinks/internal/state"
)

// cliEnv is a running pglinks (the real app over httptest) with two fleet
// databases on a throwaway cluster, the built binary, and an admin's and
// a viewer's token.
type cliEnv struct {
	bin, url             string
	admin, viewer        string
	local, remote, state *pgtest.Database
	redis                *redistest.Server // with newCLIEnvWith(t, true)
}

func newCLIEnv(t *testing.T) *cliEnv { t.Helper(); return newCLIEnvWith(t, false) }

// newCLIEnvWith, with redis, also serves REDIS_URL (a Redis with a
// password) and installs pglinks_redis in the local database.
func newCLIEnvWith(t *testing.T, redis bool) *cliEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	ctx := context.Background()
	c, err := pgtest.Start(ctx, pgtest.Options{ForTests: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	mk := func(name string, o pgtest.DBOptions) *pgtest.Database {
		d, err := c.CreateDatabase(ctx, name, o)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	e := &cliEnv{local: mk("shop", pgtest.DBOptions{Redis: redis}), remote: mk("crm", pgtest.DBOptions{}), state: mk("state", pgtest.DBOptions{NoFDW: true})}
	pgtest.MustExec(t, e.remote.URL, `CREATE TABLE customers (id int NOT NULL, name text); CREATE TABLE "evil`+"\u202e"+`live" (x int); CREATE TABLE "`+"\x1b[2J"+`" (y int)`)
	db, err := state.Open(ctx, e.state.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	store := auth.NewStore(db)
	token := func(email string, role auth.Role) string {
		u, err := store.AddUser(ctx, email, role, "a long enough password")
		if err != nil {
			t.Fatal(err)
		}
		_, secret, err := store.CreateToken(ctx, u.ID, "cli", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	e.admin, e.viewer = token("admin@example.com", auth.RoleAdmin), token("viewer@example.com", auth.RoleViewer)
	vars := []string{"DATABASE_URL=" + e.local.URL, "HEROKU_POSTGRESQL_BLUE_URL=" + e.remote.URL,
		"PGLINKS_RESOURCE_NAMES=DATABASE_URL=postgresql-animate-91581,HEROKU_POSTGRESQL_BLUE_URL=postgresql-colorful-33594"}
	if redis {
		if e.redis, err = redistest.Start(ctx, redistest.Options{Password: cliRedisPassword}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.redis.Stop)
		vars = append(vars, fmt.Sprintf("REDIS_URL=redis://:%s@127.0.0.1:%d/0", cliRedisPassword, e.redis.Port))
	}
	fl, err := fleet.Load(vars)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	fl.Log = log
	svc := links.NewService(fl, log)
	svc.Registry = links.NewStateRegistry(db)
	t.Cleanup(svc.Close)
	a, err := app.New(app.Config{
		Fleet: fl, Links: svc, Health: links.NewMonitor(svc), Replication: replication.New(fl),
		Auth: store, Limiter: auth.NewLimiter(store, 0, 0, 0), Log: log, SessionKeys: []string{pgtest.RandomToken(32)},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	e.url = srv.URL
	e.bin = webBinary(t)
	return e
}

// cliEnvOf is the environment the binary runs with: only what is given.
func (e *cliEnv) environ(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, extra...)
}

type cliRun struct {
	out, err string
	code     int
}

// run runs the binary with stdin from /dev/null (not a terminal).
func (e *cliEnv) run(t *testing.T, env []string, args ...string) cliRun {
	t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := cliRun{out: out.String(), err: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return r
}

func (e *cliEnv) asAdmin(t *testing.T, args ...string) cliRun {
	t.Helper()
	return e.run(t, e.environ("PGLINKS_URL="+e.url, "PGLINKS_TOKEN="+e.admin), args...)
}

func (r cliRun) want(t *testing.T, code int, in string, parts ...string) {
	t.Helper()
	s := r.out
	if in == "stderr" {
		s = r.err
	}
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.out, r.err)
	}
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Fatalf("%s lacks %q:\n%s", in, p, s)
		}
	}
}

func TestCLI(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	linkCount := func() int {
		return pgtest.MustQueryInt(t, e.local.URL, "SELECT count(*) FROM pg_foreign_server")
	}

	// Usage: exit 2, and nothing asked of the API.
	e.asAdmin(t, "links:create", "HEROKU_POSTGRESQL_BLUE_URL").want(t, 2, "stderr", "links:create takes REMOTE LOCAL")
	e.asAdmin(t, "links", "--bogus").want(t, 2, "stderr", "unknown flag --bogus")
	e.asAdmin(t, "links", "--token", e.admin).want(t, 2, "stderr", "never pass a token on the command line")
	e.run(t, e.environ("PGLINKS_TOKEN="+e.admin), "links").want(t, 2, "stderr", "PGLINKS_URL")
	e.run(t, e.environ("PGLINKS_URL="+e.url), "links").want(t, 2, "stderr", "no API token")

	// Heroku's listing, before any link.
	r := e.asAdmin(t, "links")
	r.want(t, 0, "stdout")
	want := "=== DATABASE_URL (postgresql-animate-91581)\nNo data sources are linked into this database.\n\n=== HEROKU_POSTGRESQL_BLUE_URL (postgresql-colorful-33594)\nNo data sources are linked into this database.\n"
	if r.out != want {
		t.Fatalf("empty listing:\n%q\nwant\n%q", r.out, want)
	}

	// Create: a dry run shows the SQL, passwords masked; then the create.
	r = e.asAdmin(t, "links:create", "HEROKU_POSTGRESQL_BLUE_URL", "DATABASE_URL", "--as", "sales", "--dry-run")
	r.want(t, 0, "stdout", "would run (passwords masked", "CREATE SERVER", "password '***'", "IMPORT FOREIGN SCHEMA")
	if strings.Contains(r.out, e.remote.Password) || linkCount() != 0 {
		t.Fatal("the dry run showed the password or made the link")
	}
	e.asAdmin(t, "links:create", "HEROKU_POSTGRESQL_BLUE_URL", "DATABASE_URL", "--as", "sales").
		want(t, 0, "stdout", "Adding link sales from HEROKU_POSTGRESQL_BLUE_URL to DATABASE_URL... done, 3 foreign tables")
	// Refused by the API: exit 1 with its message.
	e.asAdmin(t, "links:create", "HEROKU_POSTGRESQL_BLUE_URL", "DATABASE_URL", "--as", "sales", "--duplicate-ok").
		want(t, 1, "stderr", "error: ", "sales")
	e.run(t, e.environ("PGLINKS_URL="+e.url, "PGLINKS_TOKEN="+e.viewer), "links:create", "HEROKU_POSTGRESQL_BLUE_URL", "DATABASE_URL", "--as", "other").
		want(t, 1, "stderr", "Only admins may do this")
	e.run(t, e.environ("PGLINKS_URL="+e.url, "PGLINKS_TOKEN=pgl_revoked"), "links").want(t, 1, "stderr", "unknown, revoked or expired")

	// The listing as Heroku prints it.
	r = e.asAdmin(t, "links")
	r.want(t, 0, "stdout")
	listing := regexp.MustCompile(`(?s)^=== DATABASE_URL \(postgresql-animate-91581\)

\*  sales
created_at:  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00
remote:      HEROKU_POSTGRESQL_BLUE_URL \(postgresql-colorful-33594\)
remote_name: sales
health:      (unknown \(not probed yet\)|healthy \(\d+ ms\))

=== HEROKU_POSTGRESQL_BLUE_URL \(postgresql-colorful-33594\)
No data sources are linked into this database.
$`)
	if !listing.MatchString(r.out) {
		t.Fatalf("listing:\n%s", r.out)
	}
	one := e.asAdmin(t, "links", "--db", "DATABASE_URL")
	one.want(t, 0, "stdout")
	if !strings.HasPrefix(r.out, one.out) {
		t.Errorf("--db DATABASE_URL:\n%s\nis not the listing's first section", one.out)
	}
	// --json: the API's JSON.
	r = e.asAdmin(t, "links", "--db", "DATABASE_URL", "--json")
	r.want(t, 0, "stdout")
	var list struct {
		Links []struct {
			Name   string
			Remote struct {
				ConfigVar string `json:"config_var"`
			}
		}
	}
	if err := json.Unmarshal([]byte(r.out), &list); err != nil || len(list.Links) != 1 || list.Links[0].Name != "sales" || list.Links[0].Remote.ConfigVar != "HEROKU_POSTGRESQL_BLUE_URL" {
		t.Fatalf("--json: %v %+v\n%s", err, list, r.out)
	}
	r = e.asAdmin(t, "links", "--json")
	var all struct{ Databases []json.RawMessage }
	if err := json.Unmarshal([]byte(r.out), &all); err != nil || len(all.Databases) != 2 {
		t.Fatalf("links --json: %v\n%s", err, r.out)
	}

	// links:info: \det, with hostile names shown as escapes.
	r = e.asAdmin(t, "links:info", "DATABASE_URL", "sales")
	r.want(t, 0, "stdout", "=== sales in DATABASE_URL\n", "remote:        HEROKU_POSTGRESQL_BLUE_URL (postgresql-colorful-33594)\n",
		"       List of foreign tables\n Schema |      Table       | Server\n--------+------------------+--------\n"+
			" sales  | <U+001B>[2J      | sales\n sales  | customers        | sales\n sales  | evil<U+202E>live | sales\n(3 rows)\n",
		"sales.customers\n  id:   integer not null\n")
	if strings.ContainsAny(r.out, "\x1b\u202e") {
		t.Fatalf("a control or bidi character reached the terminal:\n%q", r.out)
	}
	e.asAdmin(t, "links:info", "DATABASE_URL", "nope").want(t, 1, "stderr", `There is no link named "nope"`)

	// A token file must be the owner's alone.
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(e.admin+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.run(t, e.environ("PGLINKS_URL="+e.url, "PGLINKS_TOKEN_FILE="+file), "links").want(t, 1, "stderr", "chmod 600")
	e.run(t, e.environ(), "links", "--url", e.url, "--token-file", file).want(t, 1, "stderr", "open to other users (mode 0644)")
	if err := os.Chmod(file, 0o600); err != nil {
		t.Fatal(err)
	}
	e.run(t, e.environ("PGLINKS_URL="+e.url, "PGLINKS_TOKEN_FILE="+file), "links").want(t, 0, "stdout", "*  sales")

	// Refresh and repair, confirmed by --confirm.
	pgtest.MustExec(t, e.remote.URL, `CREATE TABLE tickets (id int)`)
	e.asAdmin(t, "links:refresh", "DATABASE_URL", "sales").want(t, 2, "stderr", "--confirm sales")
	e.asAdmin(t, "links:refresh", "DATABASE_URL", "sales", "--confirm", "sale").want(t, 1, "stderr", "did not match")
	e.asAdmin(t, "links:refresh", "DATABASE_URL", "sales", "--confirm", "sales").
		want(t, 0, "stdout", "differs from its remote: 1 table added", "on the remote, not in the link: tickets", "IMPORT FOREIGN SCHEMA", "Refreshing link sales in DATABASE_URL... done: 1 table added")
	e.asAdmin(t, "links:refresh", "DATABASE_URL", "sales", "--confirm", "sales").want(t, 0, "stdout", "in step with its remote: nothing to refresh")
	pgtest.MustExec(t, e.local.URL, fmt.Sprintf(`ALTER USER MAPPING FOR %q SERVER sales OPTIONS (SET password 'rotated')`, e.local.Owner))
	r = e.asAdmin(t, "links:repair", "DATABASE_URL", "sales", "--confirm", "sales")
	r.want(t, 0, "stdout", "is stale: credentials changed", "ALTER USER MAPPING", "password '***'", "Repairing link sales in DATABASE_URL... done; now healthy")
	if strings.Contains(r.out, e.remote.Password) {
		t.Fatal("repair printed the password")
	}

	// Destroy: without a terminal and without --confirm it refuses; a
	// wrong confirmation is refused by the API; nothing is destroyed.
	e.asAdmin(t, "links:destroy", "DATABASE_URL", "sales").want(t, 2, "stderr", "re-run it with --confirm sales")
	e.asAdmin(t, "links:destroy", "DATABASE_URL", "sales", "--confirm", "sales ").want(t, 1, "stderr", "does not match")
	if linkCount() != 1 {
		t.Fatal("a refused destroy destroyed the link")
	}
	r = e.asAdmin(t, "links:destroy", "DATABASE_URL", "sales", "--confirm", "sales", "--json")
	r.want(t, 0, "stdout", `"message": "Link sales destroyed in DATABASE_URL."`)
	if linkCount() != 0 {
		t.Fatal("not destroyed")
	}
}

// On a terminal, links:destroy warns, asks for the name, and destroys
// only when it is typed exactly.
func TestCLIDestroyPrompt(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	e.asAdmin(t, "links:create", "HEROKU_POSTGRESQL_BLUE_URL", "DATABASE_URL", "--as", "sales").want(t, 0, "stdout", "done")
	count := func() int { return pgtest.MustQueryInt(t, e.local.URL, "SELECT count(*) FROM pg_foreign_server") }
	for _, tc := range []struct {
		typed string
		code  int
		says  string
		left  int
	}{
		{"sales ", 1, "does not match", 1},
		{"Sales", 1, "does not match", 1},
		{"sales", 0, "Deleting link sales in DATABASE_URL... done", 0},
	} {
		out, code := e.onTerminal(t, tc.typed, "links:destroy", "DATABASE_URL", "sales")
		for _, want := range []string{"WARNING: Destructive Action", "This will delete sales along with the tables and views created within it.", `To proceed, type "sales" or re-run this command with --confirm sales`, tc.says} {
			if !strings.Contains(out, want) {
				t.Fatalf("typed %q: no %q in:\n%s", tc.typed, want, out)
			}
		}
		if code != tc.code || count() != tc.left {
			t.Fatalf("typed %q: exit %d, %d links left; want %d, %d\n%s", tc.typed, code, count(), tc.code, tc.left, out)
		}
	}
}

// onTerminal runs the binary on a pseudo-terminal, types line once it
// asks ("> "), and returns all it printed and its exit status.
func (e *cliEnv) onTerminal(t *testing.T, line string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Env = e.environ("PGLINKS_URL="+e.url, "PGLINKS_TOKEN="+e.admin)
	tty, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	var mu sync.Mutex
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		asked := strings.Contains(out.String(), "\n> ")
		mu.Unlock()
		if asked {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no prompt:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := io.WriteString(tty, line+"\n"); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	<-done
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return strings.ReplaceAll(out.String(), "\r\n", "\n"), code
}
