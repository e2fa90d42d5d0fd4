package replication

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// A publisher and a subscriber cluster with wal_level=logical, shared by
// the package; each test gets fresh databases and its own subscription.
var pubCluster, subCluster *pgtest.Cluster

func TestMain(m *testing.M) {
	ctx := context.Background()
	var err error
	if pubCluster, err = pgtest.Start(ctx, pgtest.Options{ForTests: true, Logical: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if subCluster, err = pgtest.Start(ctx, pgtest.Options{ForTests: true, Logical: true}); err != nil {
		pubCluster.Stop()
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Restart stopped apply workers sooner than the 5 s default, so the
	// tests wait less for "running again".
	for _, c := range []*pgtest.Cluster{pubCluster, subCluster} {
		if err := c.Exec(ctx, "postgres", "ALTER SYSTEM SET wal_retrieve_retry_interval = '300ms'"); err == nil {
			c.Exec(ctx, "postgres", "SELECT pg_reload_conf()")
		}
	}
	code := m.Run()
	pubCluster.Stop()
	subCluster.Stop()
	os.Exit(code)
}

var seq atomic.Int64

const (
	pubVar = "HEROKU_POSTGRESQL_BLUE_URL"
	subVar = "DATABASE_URL"
)

const schemaSQL = `CREATE TABLE orders (id int PRIMARY KEY, note text)`

// world is one test's publisher and subscriber databases with a running
// subscription between them.
type world struct {
	pub, sub     *pgtest.Database
	subName      string
	pubName      string
	svc          *Service
	pubSuperURL  string
	subSuperURL  string
	pubOwnerRole string
	clock        *testClock
}

// testClock is the real clock moved forward by Advance, so thresholds pass
// without waiting; server timestamps (inactive_since) still compare.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

type worldOpts struct {
	// Unprivileged: pglinks connects with the databases' owner roles (no
	// superuser, no REPLICATION), as on hosted plans.
	Unprivileged bool
	// NoSubscription: leave the subscription out.
	NoSubscription bool
	// PubQuery is added to the publisher's fleet URL (k=v&k2=v2).
	PubQuery string
}

func newWorld(t *testing.T, o worldOpts) *world {
	t.Helper()
	ctx := context.Background()
	n := seq.Add(1)
	w := &world{subName: fmt.Sprintf("sub_orders_%d", n), pubName: "pub_orders"}
	var err error
	if w.pub, err = pubCluster.CreateDatabase(ctx, fmt.Sprintf("pub_%d", n), pgtest.DBOptions{NoFDW: true}); err != nil {
		t.Fatal(err)
	}
	if w.sub, err = subCluster.CreateDatabase(ctx, fmt.Sprintf("sub_%d", n), pgtest.DBOptions{NoFDW: true}); err != nil {
		t.Fatal(err)
	}
	w.pubSuperURL, w.subSuperURL = pubCluster.SuperURL(w.pub.Name), subCluster.SuperURL(w.sub.Name)
	pgtest.MustExec(t, w.pub.URL, schemaSQL+"; INSERT INTO orders VALUES (1, 'first'); CREATE PUBLICATION pub_orders FOR TABLE orders")
	pgtest.MustExec(t, w.sub.URL, schemaSQL)
	if !o.NoSubscription {
		// PostgreSQL 15: only a superuser creates subscriptions, and the
		// subscription connects to the publisher as a REPLICATION role.
		pgtest.MustExec(t, w.subSuperURL, fmt.Sprintf("CREATE SUBSCRIPTION %s CONNECTION '%s' PUBLICATION pub_orders", w.subName, w.pubSuperURL))
		t.Cleanup(func() { w.cleanupSubscription(t) })
	}
	var env []string
	if o.Unprivileged {
		env = []string{subVar + "=" + w.sub.URL, pubVar + "=" + w.pub.URL}
	} else {
		// A self-hosted setup: the subscriber's URL is a superuser, the
		// publisher's role has REPLICATION to drop slots.
		pgtest.MustExec(t, pubCluster.SuperURL("postgres"), fmt.Sprintf("ALTER ROLE %s REPLICATION", w.pub.Owner))
		env = []string{subVar + "=" + w.subSuperURL, pubVar + "=" + w.pub.URL}
	}
	if o.PubQuery != "" {
		env[1] += "&" + o.PubQuery // pgtest URLs carry ?sslmode=disable
	}
	fl, err := fleet.Load(env)
	if err != nil {
		t.Fatal(err)
	}
	fl.Log = slog.New(slog.DiscardHandler)
	t.Cleanup(fl.Close)
	w.svc = New(fl)
	w.clock = &testClock{}
	w.svc.Now = w.clock.Now
	return w
}

// cleanupSubscription drops what is left so slots do not pile up on the
// shared publisher cluster.
func (w *world) cleanupSubscription(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = subCluster.Exec(ctx, w.sub.Name, fmt.Sprintf(`DO $$BEGIN IF EXISTS (SELECT 1 FROM pg_subscription WHERE subname = '%s') THEN
		ALTER SUBSCRIPTION %s DISABLE; ALTER SUBSCRIPTION %s SET (slot_name = NONE); DROP SUBSCRIPTION %s; END IF; END$$`, w.subName, w.subName, w.subName, w.subName))
	_ = pubCluster.Exec(ctx, "postgres", `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, w.subName)
}

func (w *world) overview(t *testing.T) *Overview {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return w.svc.Overview(ctx)
}

func findDB(o *Overview, configVar string) *Database {
	for i := range o.Databases {
		if o.Databases[i].DB.ConfigVar == configVar {
			return &o.Databases[i]
		}
	}
	return nil
}

func findSub(o *Overview, configVar, name string) *Subscription {
	if d := findDB(o, configVar); d != nil {
		for i := range d.Subscriptions {
			if d.Subscriptions[i].Name == name {
				return &d.Subscriptions[i]
			}
		}
	}
	return nil
}

func findSlot(o *Overview, configVar, name string) *Slot {
	if d := findDB(o, configVar); d != nil {
		for i := range d.Slots {
			if d.Slots[i].Name == name {
				return &d.Slots[i]
			}
		}
	}
	return nil
}

func hasWarning(o *Overview, configVar, kind, object string) bool {
	for _, w := range o.WarningsFor(configVar) {
		if w.Kind == kind && w.Object == object {
			return true
		}
	}
	return false
}

// waitReady waits until the subscription's worker runs and its table is
// ready.
func (w *world) waitReady(t *testing.T) {
	t.Helper()
	pgtest.Eventually(t, 20*time.Second, "subscription running with tables ready", func() bool {
		sub := findSub(w.overview(t), subVar, w.subName)
		return sub != nil && sub.WorkerRunning && sub.Tables.Ready == 1 && sub.Tables.Total() == 1
	})
}
