package links

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/state"
	"github.com/pglinks/pglinks/internal/state/statetest"
)

// Two clusters, so links cross servers as in production; each test gets
// fresh databases on them.
var clusterA, clusterB *pgtest.Cluster

func TestMain(m *testing.M) {
	// Most tests here wait on PostgreSQL (timeouts, silent and stalled
	// remotes, background rounds) rather than use a core.
	pgtest.WaitingTests(8)
	ctx := context.Background()
	var err error
	if clusterA, err = pgtest.Start(ctx, pgtest.Options{ForTests: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if clusterB, err = pgtest.Start(ctx, pgtest.Options{ForTests: true}); err != nil {
		clusterA.Stop()
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	clusterA.Stop()
	clusterB.Stop()
	os.Exit(code)
}

var dbSeq atomic.Int64

// fixture is a fresh local database (on A) and remote database (on B).
type fixture struct {
	svc           *Service
	local, remote *pgtest.Database
	env           []string
}

const remoteSchemaSQL = `
CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped');
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers, total numeric(10,2), status order_status NOT NULL DEFAULT 'pending');
CREATE TABLE "<script>alert(1)</script>" ("<b>col</b>" int, "'; DROP TABLE customers; --" text);
INSERT INTO customers (name, email) VALUES ('Ada', 'ada@example.com'), ('Grace', NULL);
INSERT INTO orders (customer_id, total, status) VALUES (1, 10.50, 'paid');
`

func newDB(t testing.TB, c *pgtest.Cluster, prefix string, opts pgtest.DBOptions) *pgtest.Database {
	t.Helper()
	name := fmt.Sprintf("%s_%d", prefix, dbSeq.Add(1))
	d, err := c.CreateDatabase(context.Background(), name, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// newFixture makes a local and a remote database (the remote filled with
// remoteSchemaSQL as its owner) and a Service over
// DATABASE_URL=local, HEROKU_POSTGRESQL_BLUE_URL=remote plus extra env.
func newFixture(t testing.TB, extra ...string) *fixture {
	t.Helper()
	f := &fixture{
		local:  newDB(t, clusterA, "local", pgtest.DBOptions{}),
		remote: newDB(t, clusterB, "remote", pgtest.DBOptions{}),
	}
	execAs(t, f.remote.URL, remoteSchemaSQL)
	f.env = append([]string{
		"DATABASE_URL=" + f.local.URL,
		"HEROKU_POSTGRESQL_BLUE_URL=" + f.remote.URL,
	}, extra...)
	f.svc = newService(t, f.env)
	return f
}

// newService is a Service over env with a registry in a fresh state
// database of its own.
func newService(t testing.TB, env []string) *Service {
	t.Helper()
	fl, err := fleet.Load(env)
	if err != nil {
		t.Fatal(err)
	}
	fl.Log = slog.New(slog.DiscardHandler)
	t.Cleanup(fl.Close)
	svc := NewService(fl, fl.Log)
	t.Cleanup(svc.Close) // before the fleet's pools close
	svc.Registry = newRegistry(t)
	return svc
}

// newRegistry makes a migrated state database and a registry in it.
func newRegistry(t testing.TB) *StateRegistry {
	t.Helper()
	d, err := statetest.CreateDatabase(context.Background(), clusterA, fmt.Sprintf("state_%d", dbSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(context.Background(), d.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return NewStateRegistry(db)
}

// staleOf is a link's comparison with its remote's config var as its
// page shows it (LinkPage's Link.Stale).
func staleOf(t testing.TB, svc *Service, localVar, name string) *StaleReport {
	t.Helper()
	l, _, err := svc.LinkPage(context.Background(), localVar, name, "", 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	return l.Stale
}

// allForeignTables is every foreign table of a link (up to 500), read as
// the link page reads them.
func allForeignTables(ctx context.Context, svc *Service, localVar, name string) (*Link, []ForeignTable, error) {
	l, p, err := svc.LinkPage(ctx, localVar, name, "", 0, 500)
	if err != nil {
		return nil, nil, err
	}
	return l, p.Tables, nil
}

// mustStatus reads configVar's card now, as the inventory's Refresh does.
func mustStatus(t testing.TB, svc *Service, configVar string) DatabaseStatus {
	t.Helper()
	st, err := svc.RefreshStatus(context.Background(), configVar)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// acquire takes a user connection to configVar from svc's fleet.
func acquire(ctx context.Context, svc *Service, configVar string) (*pgxpool.Conn, error) {
	d, err := svc.Fleet.Lookup(configVar)
	if err != nil {
		return nil, err
	}
	return svc.Fleet.Acquire(ctx, d, fleet.ClassUser)
}

// linkObjects counts what a link named name left in the local database:
// schemas, foreign servers and user mappings of that name.
func linkObjects(t testing.TB, url, name string) (schemas, servers, mappings int) {
	t.Helper()
	schemas = queryInt(t, url, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", name)
	servers = queryInt(t, url, "SELECT count(*) FROM pg_foreign_server WHERE srvname = $1", name)
	mappings = queryInt(t, url, "SELECT count(*) FROM pg_user_mappings WHERE srvname = $1", name)
	return
}

// advisoryLocks counts the advisory locks held in the database of
// localURL and in svc's state database (both on clusterA): every lock a
// link of this test can hold, whatever the tests beside it hold on the same
// cluster.
func advisoryLocks(t testing.TB, svc *Service, localURL string) int {
	t.Helper()
	stateDB := svc.Registry.(*StateRegistry).pool.Config().ConnConfig.Database
	return queryInt(t, localURL, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
		AND database IN (SELECT oid FROM pg_database WHERE datname IN (current_database(), $1))`, stateDB)
}

func assertNothingLeft(t testing.TB, url, name string) {
	t.Helper()
	if s, sv, m := linkObjects(t, url, name); s+sv+m != 0 {
		t.Fatalf("left behind for %q: %d schemas, %d servers, %d user mappings", name, s, sv, m)
	}
}

func execAs(t testing.TB, url, sql string, args ...any) {
	t.Helper()
	pgtest.MustExec(t, url, sql, args...)
}

func queryInt(t testing.TB, url, sql string, args ...any) int {
	t.Helper()
	return pgtest.MustQueryInt(t, url, sql, args...)
}

// repairConfirmed repairs link name as its confirmation page does: with
// the fingerprint of the plan it shows.
func repairConfirmed(ctx context.Context, svc *Service, localVar, name string) (*RepairResult, error) {
	plan, err := svc.PlanRepair(ctx, localVar, name)
	if err != nil {
		return nil, err
	}
	return svc.RepairLink(ctx, RepairRequest{LocalVar: localVar, Name: name, Fingerprint: plan.Fingerprint, Actor: "test"})
}

// beginOn opens a transaction on a connection of its own to url; both end
// with the test (rolled back, closed).
func beginOn(t testing.TB, url string) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	return tx
}
