package e2e

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pglinks/pglinks/internal/pgtest"
)

// Two PostgreSQL clusters shared by the package; every test gets its own
// databases on them, so tests never see each other's links.
var (
	clustersOnce sync.Once
	clustersErr  error
	clusterA     *pgtest.Cluster
	clusterB     *pgtest.Cluster
	dbSeq        atomic.Int64
)

func clusters(t *testing.T) (*pgtest.Cluster, *pgtest.Cluster) {
	t.Helper()
	clustersOnce.Do(func() {
		ctx := context.Background()
		if clusterA, clustersErr = pgtest.Start(ctx, pgtest.Options{ForTests: true}); clustersErr != nil {
			return
		}
		atExit(func() { clusterA.Stop() })
		if clusterB, clustersErr = pgtest.Start(ctx, pgtest.Options{ForTests: true}); clustersErr != nil {
			return
		}
		atExit(func() { clusterB.Stop() })
	})
	if clustersErr != nil {
		t.Fatal(clustersErr)
	}
	return clusterA, clusterB
}

const remoteSeed = `
CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped');
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers, status order_status NOT NULL DEFAULT 'pending');
CREATE TABLE "<script>alert(1)</script>" ("<img src=x onerror=alert(2)>" int);
INSERT INTO customers (name, email) VALUES ('Ada', 'ada@example.com'), ('Grace', NULL);
`

// testFleet is one test's world: databases, config vars and users.
type testFleet struct {
	local, remote, nofdw, state *pgtest.Database
	env                         []string
	adminEmail, adminPassword   string
	viewerEmail, viewerPassword string
}

func newFleet(t *testing.T) *testFleet {
	t.Helper()
	a, b := clusters(t)
	ctx := context.Background()
	n := dbSeq.Add(1)
	mk := func(c *pgtest.Cluster, name string, opts pgtest.DBOptions) *pgtest.Database {
		d, err := c.CreateDatabase(ctx, fmt.Sprintf("%s_%d", name, n), opts)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	f := &testFleet{
		local:  mk(a, "shop", pgtest.DBOptions{}),
		remote: mk(b, "crm", pgtest.DBOptions{}),
		nofdw:  mk(b, "mini", pgtest.DBOptions{NoFDW: true}),
		state:  mk(a, "state", pgtest.DBOptions{NoFDW: true}),

		adminEmail: "admin@example.com", adminPassword: "correct horse battery staple",
		viewerEmail: "viewer@example.com", viewerPassword: "viewer password 12345",
	}
	execSQL(t, f.remote.URL, remoteSeed)
	f.env = []string{
		"DATABASE_URL=" + f.local.URL,
		"HEROKU_POSTGRESQL_BLUE_URL=" + f.remote.URL,
		"HEROKU_POSTGRESQL_WHITE_URL=" + f.nofdw.URL,
		"HEROKU_POSTGRESQL_GRAY_URL=" + closedPortURL(t),
		"PGLINKS_RESOURCE_NAMES=DATABASE_URL=postgresql-animate-91581,HEROKU_POSTGRESQL_BLUE_URL=postgresql-colorful-33594",
		"PGLINKS_STATE_URL=" + f.state.URL,
		"PGLINKS_SESSION_KEYS=" + pgtest.RandomToken(32),
	}
	f.userAdd(t, f.adminEmail, "admin", f.adminPassword)
	f.userAdd(t, f.viewerEmail, "viewer", f.viewerPassword)
	return f
}

// userAdd runs `web user add` like an operator would, password on stdin.
func (f *testFleet) userAdd(t *testing.T, email, role, password string) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), "user", "add", email, "--role", role)
	cmd.Env = append(baseEnv(), f.env...)
	cmd.Stdin = strings.NewReader(password + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("web user add %s: %v\n%s", email, err, out)
	}
	if strings.Contains(string(out), password) {
		t.Fatalf("web user add echoed the password: %s", out)
	}
}

func closedPortURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "postgres://ghost:hunter2hunter2@" + addr + "/ghost?sslmode=disable"
}

func execSQL(t *testing.T, url, sql string) { t.Helper(); pgtest.MustExec(t, url, sql) }

func queryInt(t *testing.T, url, sql string, args ...any) int {
	t.Helper()
	return pgtest.MustQueryInt(t, url, sql, args...)
}
