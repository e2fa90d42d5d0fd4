package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/demo"
	"github.com/pglinks/pglinks/internal/links"
)

const demoAdmin = "admin@pglinks.local"

// writePgpass puts the demo databases' credentials in a private pgpass file,
// so the psql hint works without printing a password.
func writePgpass(env *demo.Env) (string, error) {
	dir, err := os.MkdirTemp("", "pglinks-demo-")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, raw := range env.Vars {
		u, err := url.Parse(raw)
		if err != nil || u.User == nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			continue
		}
		pw, _ := u.User.Password()
		fmt.Fprintf(&b, "%s:%s:%s:%s:%s\n", u.Hostname(), u.Port(), strings.TrimPrefix(u.Path, "/"), u.User.Username(), pw)
	}
	path := filepath.Join(dir, "pgpass")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// runDemo starts throwaway clusters with sample data, an admin with a random
// password (printed once), one link to look at, and serves until ctx ends.
// Everything it started is stopped and removed on the way out.
func runDemo(ctx context.Context, stdout io.Writer) error {
	log := newLogger(os.Stderr)
	fmt.Fprintln(stdout, "Starting two throwaway PostgreSQL clusters with sample data...")
	env, err := demo.Start(ctx)
	if err != nil {
		return err
	}
	defer env.Stop()

	environ := os.Environ()
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
	p, err := open(ctx, cfg, log)
	if err != nil {
		return err
	}
	password := auth.GeneratePassword()
	if _, err := p.store.AddUser(ctx, demoAdmin, auth.RoleAdmin, password); err != nil {
		p.close()
		return err
	}
	res, err := p.links.CreateLink(ctx, links.CreateRequest{
		RemoteVar: "HEROKU_POSTGRESQL_ORANGE_URL", LocalVar: "HEROKU_POSTGRESQL_BLUE_URL", Name: "crm", CopyEnums: true, Actor: "demo",
	})
	if err != nil {
		p.close()
		return fmt.Errorf("demo: first link: %w", err)
	}
	log.Info("demo link created", "link", res.Link.Name, "tables", res.Tables)
	if err := env.AddDrift(ctx); err != nil { // the crm link page shows drift
		p.close()
		return err
	}

	pgpass, err := writePgpass(env)
	if err != nil {
		p.close()
		return err
	}
	defer os.RemoveAll(filepath.Dir(pgpass))

	_, port, _ := net.SplitHostPort(p.ln.Addr().String())
	fmt.Fprintf(stdout, `
pglinks demo is running: http://localhost:%s

  Sign in as  %s
  Password    %s   (shown once; the demo's data is thrown away on exit)

Fleet (connect with psql after: export PGPASSFILE=%s):
`, port, demoAdmin, password, pgpass)
	for _, d := range p.links.Fleet.Databases {
		fmt.Fprintf(stdout, "  %-29s %-26s psql -h %s -p %s -U %s %s\n", d.ConfigVar, d.ResourceName, d.Host, d.Port, d.User, d.DBName)
	}
	fmt.Fprintf(stdout, "\nThe link crm (from HEROKU_POSTGRESQL_ORANGE_URL) is already in analytics:\n  psql ... analytics -c 'SELECT stage, count(*) FROM crm.deals GROUP BY 1'\n")
	fmt.Fprintf(stdout, "crm has since gained a table (tickets): its link page shows the drift and \"Refresh link\" brings it in.\n")
	fmt.Fprintln(stdout, "\nPress Ctrl-C to stop and remove everything.")
	return p.run(ctx)
}
