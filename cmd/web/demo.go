package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/demo"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/pgversion"
)

const (
	demoAdmin  = "admin@pglinks.local"
	demoViewer = "viewer@pglinks.local"
	// demoHost is where the demo listens unless HOST says otherwise: it
	// prints an admin password, so it is not offered to the network.
	demoHost = "127.0.0.1"
)

// demoFiles are the private files the printed commands use, so no
// password of the demo's databases is ever printed.
type demoFiles struct {
	dir     string
	pgpass  string // for psql: PGPASSFILE=...
	envFile string // PGLINKS_STATE_URL, for `web user add`
	token   string // the admin's API token, for `web links`
}

// writeDemoFiles puts the demo databases' credentials (and each cluster's
// superuser) in a private pgpass file and the state database's URL in a
// private env file.
func writeDemoFiles(env *demo.Env) (*demoFiles, error) {
	dir, err := os.MkdirTemp("", "pglinks-demo-")
	if err != nil {
		return nil, err
	}
	f := &demoFiles{dir: dir, pgpass: filepath.Join(dir, "pgpass"), envFile: filepath.Join(dir, "env"), token: filepath.Join(dir, "token")}
	var b strings.Builder
	keys := make([]string, 0, len(env.Vars))
	for k := range env.Vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		u, err := url.Parse(env.Vars[k])
		if err != nil || u.User == nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			continue
		}
		pw, _ := u.User.Password()
		fmt.Fprintf(&b, "%s:%s:%s:%s:%s\n", u.Hostname(), u.Port(), strings.TrimPrefix(u.Path, "/"), u.User.Username(), pw)
	}
	// Each cluster's superuser too, for any database: the README's rotation
	// walkthrough rotates a role's password as its platform would.
	for _, c := range env.Clusters {
		u, err := url.Parse(c.SuperURL("postgres"))
		if err != nil || u.User == nil {
			continue
		}
		pw, _ := u.User.Password()
		fmt.Fprintf(&b, "%s:%s:*:%s:%s\n", u.Hostname(), u.Port(), u.User.Username(), pw)
	}
	if err := os.WriteFile(f.pgpass, []byte(b.String()), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	envText := "export PGLINKS_STATE_URL=" + shellQuote(env.Vars["PGLINKS_STATE_URL"]) + "\n"
	if err := os.WriteFile(f.envFile, []byte(envText), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return f, nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// psqlCommand is a psql command line that works as printed.
func psqlCommand(pgpass string, d *fleet.Database, sql string) string {
	cmd := fmt.Sprintf("PGPASSFILE=%s psql -h %s -p %s -U %s %s", pgpass, d.Host, d.Port, d.User, d.DBName)
	if sql != "" {
		cmd += " -c " + shellQuote(sql)
	}
	return cmd
}

// webCommand is how the person running the demo runs this program again:
// bin/web when it is the binary `make demo` built here, `go run ./cmd/web`
// from a checkout, else this binary's absolute path.
func webCommand() string {
	exe, exeErr := os.Executable()
	if cwd, err := os.Getwd(); err == nil && exeErr == nil {
		if rel, err := filepath.Rel(cwd, exe); err == nil && !strings.HasPrefix(rel, "..") && strings.Contains(rel, string(filepath.Separator)) {
			return rel
		}
	}
	if _, err := os.Stat(filepath.Join("cmd", "web", "main.go")); err == nil {
		return "go run ./cmd/web"
	}
	if exeErr == nil {
		return shellQuote(exe)
	}
	return "web"
}

// demoBanner is what the demo prints once it serves.
type demoBanner struct {
	URL, Password string
	Files         *demoFiles
	Fleet         []*fleet.Database
	Link          *links.Link
	LinkLocal     *fleet.Database
	LinkQuery     string
	// RedisLocal is where the Redis link hredis is (shop): the banner
	// prints seed 004's join on it.
	RedisLocal *fleet.Database
	Web        string
	// EnvFile is the dashboard's whole environment, for a second dashboard
	// (README: "Try a password rotation").
	EnvFile string
	// PID is the demo's process, for kill -USR1 (print this again).
	PID int
}

func (b demoBanner) write(w io.Writer) {
	fmt.Fprintf(w, `
pglinks demo is running: %s

  Sign in as  %s
  Password    %s   (printed to this terminal only; the demo's data is thrown away on exit)

Query the ready-made link %s (%s, in %s):
  %s
crm has since gained a table (tickets): the link's page shows the drift, and "Refresh link" brings it in.
crm also holds a Heroku Connect schema (salesforce): "Link it into another database" on its card imports the mapped tables read-only.

Seed 004's join: shop's widgets with their counters in Redis (REDIS_URL, a TLS redis-server), through the Redis link %s in %s:
  %s

Open psql on a fleet database:
`, b.URL, demoAdmin, b.Password, b.Link.Name, b.Link.RemoteConfigVar, b.LinkLocal.ConfigVar,
		psqlCommand(b.Files.pgpass, b.LinkLocal, b.LinkQuery),
		demo.RedisLink, b.RedisLocal.ConfigVar, psqlCommand(b.Files.pgpass, b.RedisLocal, demo.SeedJoin))
	for _, d := range b.Fleet {
		if inBannerFleet(d) {
			fmt.Fprintf(w, "  # %s (%s)\n  %s\n", d.ConfigVar, d.ResourceName, psqlCommand(b.Files.pgpass, d, ""))
		}
	}
	b.writeFleetScale(w)
	fmt.Fprintf(w, `
Replication: the subscription %s in %s replicates crm's deals (publication %s); see Replication.

The dashboard's environment is in %s (README: "Try a password rotation").
`, demo.Subscription, demo.ReportingVar, demo.Publication, b.EnvFile)
	fmt.Fprintf(w, `
List the demo's links from a terminal, as the admin, through the API (the admin's token is in a private file, never on screen):
  PGLINKS_URL=%s PGLINKS_TOKEN_FILE=%s %s links
`, b.URL, b.Files.token, b.Web)
	fmt.Fprintf(w, `
Add a viewer to the running demo (from this directory, in another terminal; prints their password once):
  (. %s && %s user add %s --role viewer </dev/null)

Lost this summary among the log lines? kill -USR1 %d prints it again.
Press Ctrl-C to stop and remove everything.
`, b.Files.envFile, b.Web, demoViewer, b.PID)
}

// demoMajor reads PGLINKS_DEMO_PG, the PostgreSQL major the demo runs its
// second cluster on; "" is 0, the default.
func demoMajor(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 10 || n > 99 {
		return 0, fmt.Errorf("PGLINKS_DEMO_PG=%q is not a PostgreSQL major version: give one such as 18 (pglinks supports %d to %d)", v, pgversion.OldestSupported, pgversion.NewestSupported)
	}
	return n, nil
}

// runDemo starts throwaway clusters with sample data, an admin with a random
// password (printed once), links to look at, and serves until ctx ends.
// Everything it started is stopped and removed on the way out; a stop by
// signal is a clean exit.
func runDemo(ctx context.Context, stdout io.Writer) error {
	log := newLogger(os.Stderr)
	started := time.Now()
	progress := func(msg string) {
		fmt.Fprintf(stdout, "demo: %s (%.1fs)\n", msg, time.Since(started).Seconds())
	}
	major, err := demoMajor(os.Getenv("PGLINKS_DEMO_PG"))
	if err != nil {
		return err
	}
	// SIGUSR1 asks for the summary again (below); caught from the start
	// so one sent while seeding does not end the demo.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	host, port := os.Getenv("HOST"), os.Getenv("PORT")
	if host == "" {
		host = demoHost
	}
	if port == "" {
		port = "8080"
	}
	ln, err := demoListen(host, port)
	if err != nil {
		return err
	}
	served := false // once open has it, the program closes ln
	defer func() {
		if !served {
			ln.Close()
		}
	}()
	progress("starting two throwaway PostgreSQL clusters with sample data")
	env, err := demo.StartWithProgress(ctx, demo.Options{Major: major}, progress)
	if err != nil {
		return err
	}
	defer env.Stop()

	environ := os.Environ()
	if os.Getenv("HOST") == "" {
		environ = append(environ, "HOST="+demoHost)
	}
	keys := make([]string, 0, len(env.Vars))
	for k := range env.Vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		environ = append(environ, k+"="+env.Vars[k])
	}
	if os.Getenv("PGLINKS_SESSION_KEYS") == "" {
		environ = append(environ, "PGLINKS_SESSION_KEYS="+auth.GenerateSessionKey())
	}
	cfg, err := configFromEnv(environ)
	if err != nil {
		return err
	}
	cfg.listener = ln
	// Requests are logged below the demo's level: its terminal keeps the
	// password and commands it printed, and the warnings that matter.
	cfg.requestLogLevel = slog.LevelDebug
	progress("opening the dashboard on " + ln.Addr().String())
	p, err := open(ctx, cfg, log)
	if err != nil {
		return err
	}
	served = true
	password := auth.GeneratePassword()
	admin, err := p.store.AddUser(ctx, demoAdmin, auth.RoleAdmin, password)
	if err != nil {
		p.close()
		return err
	}
	progress("linking the stores " + storeLinkNames() + " into analytics")
	storeLinks := startStoreLinks(ctx, p)
	progress("creating the link crm in analytics")
	const localVar, remoteVar = "HEROKU_POSTGRESQL_BLUE_URL", "HEROKU_POSTGRESQL_ORANGE_URL"
	res, err := p.links.CreateLink(ctx, links.CreateRequest{
		RemoteVar: remoteVar, LocalVar: localVar, Name: "crm", CopyEnums: true, Actor: "demo",
	})
	if err != nil {
		storeLinks()
		p.close()
		return fmt.Errorf("demo: first link: %w", err)
	}
	recordDemoLink(ctx, p.store, localVar, res)
	saveDemoCheck(ctx, p, localVar) // the crm link page has something to fix
	progress("linking the Redis (REDIS_URL) into shop as " + demo.RedisLink)
	hres, err := p.links.CreateLink(ctx, links.CreateRequest{
		RemoteVar: demo.RedisVar, LocalVar: demo.RedisLinkLocal, Name: demo.RedisLink, Actor: "demo",
	})
	if err != nil {
		storeLinks()
		p.close()
		return fmt.Errorf("demo: Redis link: %w", err)
	}
	recordDemoLink(ctx, p.store, demo.RedisLinkLocal, hres)
	progress("adding a table to crm, so the link crm shows drift")
	if err := env.AddDrift(ctx); err != nil { // the crm link page shows drift
		storeLinks()
		p.close()
		return err
	}
	if err := storeLinks(); err != nil {
		p.close()
		return err
	}

	files, err := writeDemoFiles(env)
	if err != nil {
		p.close()
		return err
	}
	defer os.RemoveAll(files.dir)
	if err := writeDemoToken(ctx, p.store, admin, files.token); err != nil {
		p.close()
		return err
	}
	envFile, err := writeDemoEnv(files.dir, environ, append(keys, "HOST"))
	if err != nil {
		p.close()
		return err
	}

	local, _ := p.fleet.Get(localVar)
	redisLocal, _ := p.fleet.Get(demo.RedisLinkLocal)
	host, port, _ = net.SplitHostPort(p.ln.Addr().String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	banner := demoBanner{
		URL:        scheme + "://" + net.JoinHostPort(host, port),
		Password:   password,
		Files:      files,
		Fleet:      p.fleet.Databases,
		Link:       &res.Link,
		LinkLocal:  local,
		LinkQuery:  "SELECT stage, count(*) FROM crm.deals GROUP BY 1",
		RedisLocal: redisLocal,
		Web:        webCommand(),
		EnvFile:    envFile,
		PID:        os.Getpid(),
	}
	banner.write(stdout)
	// kill -USR1 prints the summary again, once the logs have buried it
	// (one sent while seeding already has its answer above).
	select {
	case <-usr1:
	default:
	}
	go func() {
		for {
			select {
			case <-usr1:
				banner.write(stdout)
			case <-ctx.Done():
				return
			}
		}
	}()
	err = p.run(ctx)
	fmt.Fprintln(stdout, "demo: stopping; removing the clusters and their files")
	return err
}

// recordDemoLink puts the demo's ready-made link in the audit trail like
// any link made in the dashboard.
func recordDemoLink(ctx context.Context, store *auth.Store, localVar string, res *links.CreateResult) {
	detail := fmt.Sprintf("from %s (%s), %d foreign tables; made by the demo at start", res.Link.RemoteConfigVar, res.Link.RemoteResourceName, res.Tables)
	if len(res.CopiedTypes) > 0 {
		detail += "; copied enum types " + strings.Join(res.CopiedTypes, ", ")
	}
	err := store.Record(ctx, auth.AuditEntry{
		Actor: "demo", Action: auth.ActionLinkCreate, Target: localVar + "/" + res.Link.Name,
		Outcome: auth.OutcomeOK, Detail: detail, DDL: strings.Join(res.DDL, ";\n") + ";",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo: recording the link in the audit trail:", err)
	}
}

// writeDemoToken makes an API token for the demo's admin and keeps it in
// a private file, for the `web links` line the demo prints.
func writeDemoToken(ctx context.Context, store *auth.Store, admin *auth.User, path string) error {
	tok, secret, err := store.CreateToken(ctx, admin.ID, "demo terminal", time.Time{})
	if err != nil {
		return fmt.Errorf("demo: API token: %w", err)
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("demo: write %s: %w", path, err)
	}
	err = store.Record(ctx, auth.AuditEntry{
		Actor: "demo", Action: auth.ActionTokenCreate, Target: admin.Email, Outcome: auth.OutcomeOK,
		Detail: fmt.Sprintf("token %s (%s…), expires never; made by the demo at start for its command line", tok.Name, tok.Prefix),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo: recording the token in the audit trail:", err)
	}
	return nil
}
