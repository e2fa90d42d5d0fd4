package compat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/pgversion"
	"github.com/pglinks/pglinks/internal/state"
)

// olderMajor is a major older than pglinks supports, run to check what
// pglinks says about such a server.
const olderMajor = 13

// clusters holds one cluster per major, started once for the whole
// package (in parallel) and shared by its tests, each of which makes
// databases of its own.
var clusters = map[int]*pgtest.Cluster{}

func TestMain(m *testing.M) {
	majors := append([]int{olderMajor}, pgversion.Supported()...)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var startErrs []error
	for _, major := range majors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := startCluster(major)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				startErrs = append(startErrs, fmt.Errorf("PostgreSQL %d: %w", major, err))
				return
			}
			clusters[major] = c
		}()
	}
	wg.Wait()
	code := 1
	if err := errors.Join(startErrs...); err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
	} else {
		code = m.Run()
	}
	for _, c := range clusters {
		c.Stop()
	}
	os.Exit(code)
}

func startCluster(major int) (*pgtest.Cluster, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgtest.Start(ctx, pgtest.Options{ForTests: true, Major: major, Logical: true})
	if err != nil {
		return nil, err
	}
	// Restart stopped apply workers sooner than the 5 s default, so the
	// replication tests wait less for "running again".
	if err := c.Exec(ctx, "postgres", "ALTER SYSTEM SET wal_retrieve_retry_interval = '300ms'"); err == nil {
		err = c.Exec(ctx, "postgres", "SELECT pg_reload_conf()")
	}
	if err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// pair is a local major reading a remote one (for replication: a
// subscriber on local, its publisher on remote).
type pair struct{ local, remote int }

func (p pair) String() string { return fmt.Sprintf("local_%d_remote_%d", p.local, p.remote) }

// pairs puts every supported major once on each side, always against
// another major, older and newer ones alike.
var pairs = []pair{{14, 18}, {15, 14}, {16, 17}, {17, 15}, {18, 16}}

func TestPairsCoverEverySupportedMajor(t *testing.T) {
	var locals, remotes []int
	for _, p := range pairs {
		if p.local == p.remote {
			t.Errorf("%s: both sides on one major", p)
		}
		locals, remotes = append(locals, p.local), append(remotes, p.remote)
	}
	slices.Sort(locals)
	slices.Sort(remotes)
	if want := pgversion.Supported(); !slices.Equal(locals, want) || !slices.Equal(remotes, want) {
		t.Fatalf("locals %v, remotes %v: each of %v must be local once and remote once", locals, remotes, want)
	}
}

// forEachPair runs f for every pair, in parallel.
func forEachPair(t *testing.T, f func(t *testing.T, p pair)) {
	for _, p := range pairs {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			f(t, p)
		})
	}
}

var seq atomic.Int64

// newDB makes a database owned by a non-superuser role on the cluster of
// major, as a hosted plan hands out.
func newDB(t testing.TB, major int, prefix string, opts pgtest.DBOptions) *pgtest.Database {
	t.Helper()
	d, err := clusters[major].CreateDatabase(context.Background(), fmt.Sprintf("%s_%d", prefix, seq.Add(1)), opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// newService is a links.Service over env, with pglinks' records in a
// fresh state database on the cluster of stateMajor (nil reg) or in reg.
func newService(t testing.TB, env []string, stateMajor int, reg links.Registry) *links.Service {
	t.Helper()
	fl, err := fleet.Load(env)
	if err != nil {
		t.Fatal(err)
	}
	fl.Log = slog.New(slog.DiscardHandler)
	t.Cleanup(fl.Close)
	svc := links.NewService(fl, fl.Log)
	t.Cleanup(svc.Close)
	if reg == nil {
		reg = newRegistry(t, stateMajor)
	}
	svc.Registry = reg
	return svc
}

func newRegistry(t testing.TB, major int) links.Registry {
	t.Helper()
	ctx := context.Background()
	d := newDB(t, major, "state", pgtest.DBOptions{NoFDW: true})
	db, err := state.Open(ctx, d.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return links.NewStateRegistry(db)
}

func execAs(t testing.TB, url, sql string, args ...any) {
	t.Helper()
	pgtest.MustExec(t, url, sql, args...)
}

func queryInt(t testing.TB, url, sql string, args ...any) int {
	t.Helper()
	return pgtest.MustQueryInt(t, url, sql, args...)
}

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
