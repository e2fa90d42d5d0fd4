package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// scaleoutFleet is a cluster that counts statements (pg_stat_statements),
// a state database and n fleet databases on it.
type scaleoutFleet struct {
	c     *pgtest.Cluster
	state *pgtest.Database
	dbs   []*pgtest.Database
	env   []string // the fleet's config vars
}

func newScaleoutFleet(t *testing.T, n int) *scaleoutFleet {
	t.Helper()
	ctx := context.Background()
	c, err := pgtest.Start(ctx, pgtest.Options{ForTests: true, Settings: []string{
		"shared_preload_libraries = 'pg_stat_statements'",
		"pg_stat_statements.max = 5000",
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	f := &scaleoutFleet{c: c}
	if f.state, err = c.CreateDatabase(ctx, "state", pgtest.DBOptions{NoFDW: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "postgres", "CREATE EXTENSION pg_stat_statements"); err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := range n {
		d, err := c.CreateDatabase(ctx, fmt.Sprintf("fleet%d", i), pgtest.DBOptions{})
		if err != nil {
			t.Fatal(err)
		}
		v := fmt.Sprintf("FLEET_%d_URL", i)
		f.dbs = append(f.dbs, d)
		names = append(names, v)
		f.env = append(f.env, v+"="+d.URL)
	}
	f.env = append(f.env, "PGLINKS_DATABASES="+strings.Join(names, ","))
	return f
}

// statusReads counts the inventory's status statements the fleet's
// databases ran since the last reset, per database.
func (f *scaleoutFleet) statusReads(t *testing.T) float64 {
	t.Helper()
	var names []string
	for _, d := range f.dbs {
		names = append(names, d.Name)
	}
	n := pgtest.MustQueryInt(t, f.c.SuperURL("postgres"), `SELECT coalesce(sum(s.calls), 0)::int
		  FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
		 WHERE d.datname = ANY($1) AND s.query LIKE '%_hcmeta%'`, names)
	return float64(n) / float64(len(f.dbs))
}

func (f *scaleoutFleet) resetStatements(t *testing.T) {
	t.Helper()
	pgtest.MustExec(t, f.c.SuperURL("postgres"), "SELECT pg_stat_statements_reset()")
}

const (
	testMaxAge   = 6 * time.Second
	testLeaseTTL = 3 * time.Second
)

// processEnv is one pglinks process's environment over f.
func (f *scaleoutFleet) processEnv(keys string) []string {
	return append([]string{
		"HOST=127.0.0.1", "PORT=0",
		"PGLINKS_STATE_URL=" + f.state.URL,
		"PGLINKS_SESSION_KEYS=" + keys,
		"PGLINKS_INVENTORY_MAX_AGE=" + testMaxAge.String(),
		"PGLINKS_LEASE_TTL=" + testLeaseTTL.String(),
	}, f.env...)
}

// startProgram opens and runs a pglinks process in this test binary.
func startProgram(t *testing.T, env []string) *program {
	t.Helper()
	cfg, err := configFromEnv(env)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p, err := open(ctx, cfg, newLogger(io.Discard))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { p.run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return p
}

func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("after %v: %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// allRead reports whether every card of p was read.
func allRead(p *program) bool {
	for _, st := range p.links.Inventory(context.Background()) {
		if st.Pending {
			return false
		}
	}
	return true
}

// Three pglinks processes over one state database: one holds the lease
// and reads the fleet, so the fleet's databases see one process's worth
// of status reads, not three; every process shows the same cards with
// the same ages, and a change in a fleet database shows the same on all
// three within the cards' max age.
func TestThreeProcessesShareBackgroundWork(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a cluster and three processes")
	}
	f := newScaleoutFleet(t, 4)
	keys := auth.GenerateSessionKey()
	var ps []*program
	for range 3 {
		ps = append(ps, startProgram(t, f.processEnv(keys)))
	}
	eventually(t, 30*time.Second, "every card read and shown by all three", func() bool {
		return allRead(ps[0]) && allRead(ps[1]) && allRead(ps[2])
	})
	holders := func() (n int) {
		for _, p := range ps {
			if p.lease.Held() {
				n++
			}
		}
		return n
	}
	eventually(t, 10*time.Second, "exactly one lease holder", func() bool { return holders() == 1 })

	// One process's worth of status reads: each database about once per
	// RefreshAfter, however many processes serve the fleet.
	f.resetStatements(t)
	const window = 12 * time.Second
	time.Sleep(window)
	perDB := f.statusReads(t)
	// Each card is read again RefreshAfter after its last read, less up to
	// half the margin left before the max age: on average a quarter.
	after := fleet.RefreshAfter(testMaxAge, fleet.DefaultDeadlines())
	oneProcess := window.Seconds()/(after-(testMaxAge-after)/4).Seconds() + 1
	t.Logf("status reads per database in %v with three processes: %.1f (one process's worth: about %.0f)", window, perDB, oneProcess)
	if perDB > 1.5*oneProcess || perDB < 1 {
		t.Fatalf("%.1f status reads per database in %v, want one process's worth (about %.0f), not three", perDB, window, oneProcess)
	}
	if h := holders(); h != 1 {
		t.Fatalf("%d lease holders", h)
	}

	// A state change shows the same on all three, with the same age.
	pgtest.MustExec(t, f.c.SuperURL(f.dbs[2].Name), "DROP EXTENSION postgres_fdw")
	card := func(p *program) links.DatabaseStatus { return p.links.Inventory(context.Background())[2] }
	took := eventually(t, 4*testMaxAge, "the change shown by all three", func() bool {
		a, b, c := card(ps[0]), card(ps[1]), card(ps[2])
		return !a.Support.OK && !b.Support.OK && !c.Support.OK && a.AsOf.Equal(b.AsOf) && b.AsOf.Equal(c.AsOf)
	})
	t.Logf("the change showed on all three %v after it was made (max age %v)", took.Round(time.Millisecond), testMaxAge)
	if took > testMaxAge+fleet.DefaultSharedPoll+time.Second {
		t.Errorf("the change took %v to show on all three, past the max age %v", took, testMaxAge)
	}
	if why := card(ps[1]).Support.Reason; !strings.Contains(why, "postgres_fdw is not installed") {
		t.Errorf("the card says %q", why)
	}
}

// The lease holder killed with SIGKILL (no chance to give the lease up):
// another `web serve` takes the background work over within the lease's
// bound (TTL + TTL/3), and the cards go on being read.
func TestLeaseTakenOverAfterSIGKILL(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the server and starts three processes")
	}
	f := newScaleoutFleet(t, 2)
	bin := webBinary(t)
	keys := auth.GenerateSessionKey()
	procs := map[int]*exec.Cmd{}
	for i := range 3 {
		port, err := pgtest.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "serve")
		cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, f.processEnv(keys)...)
		cmd.Env = append(cmd.Env, "PORT="+strconv.Itoa(port))
		logf, err := os.Create(filepath.Join(t.TempDir(), fmt.Sprintf("serve-%d.log", i)))
		if err != nil {
			t.Fatal(err)
		}
		defer logf.Close()
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[cmd.Process.Pid] = cmd
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		eventually(t, 30*time.Second, "web serve answering", func() bool {
			r, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/healthz")
			if err == nil {
				r.Body.Close()
			}
			return err == nil && r.StatusCode == http.StatusOK
		})
	}
	holder := func() (pid int) {
		h := pgtest.MustQueryString(t, f.state.URL, "SELECT coalesce((SELECT holder FROM pglinks.leases WHERE name = 'background' AND expires_at >= now()), '')")
		if parts := strings.Split(h, ":"); len(parts) == 3 {
			pid, _ = strconv.Atoi(parts[1])
		}
		return pid
	}
	var first int
	eventually(t, 10*time.Second, "a lease holder", func() bool { first = holder(); return procs[first] != nil })
	cardAsOf := func() time.Time {
		var s string
		s = pgtest.MustQueryString(t, f.state.URL, "SELECT coalesce(min(as_of)::text, '') FROM pglinks.background_results WHERE kind = 'card'")
		at, _ := time.Parse("2006-01-02 15:04:05.999999-07", s)
		return at
	}
	eventually(t, 30*time.Second, "every card read", func() bool {
		return pgtest.MustQueryInt(t, f.state.URL, "SELECT count(*) FROM pglinks.background_results WHERE kind = 'card'") == len(f.dbs)
	})

	if err := procs[first].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	procs[first].Wait()
	bound := testLeaseTTL + testLeaseTTL/3
	var next int
	took := eventually(t, bound+10*time.Second, "another process holding the lease", func() bool {
		next = holder()
		return next != 0 && next != first
	})
	t.Logf("lease taken over %v after the SIGKILL (bound %v)", took.Round(time.Millisecond), bound)
	if procs[next] == nil {
		t.Fatalf("the lease went to pid %d, not one of the processes", next)
	}
	if took > bound+2*time.Second {
		t.Errorf("takeover took %v, past the bound %v", took, bound)
	}
	// The new holder reads the cards: all of them newer than the kill.
	eventually(t, 4*testMaxAge, "cards read by the new holder", func() bool { return cardAsOf().After(killed) })
}
