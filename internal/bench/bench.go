// Package bench is pglinks' fleet-scale benchmark harness: it starts its
// own PostgreSQL clusters, builds a fleet, runs the real server (`web
// serve`) over loopback, signs in through the login form, and measures
// pages against floors taken in the same run (interleaved rounds). The
// -quick size checks the answers and is run as a test.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// Scenarios, in the order they run.
var Scenarios = []string{"inventory", "degraded", "fleet200", "fleet1000", "linkpage", "create", "querycheck", "redis"}

// Config sizes a run.
type Config struct {
	Quick  bool
	Rounds int             // rounds of interleaved batches; 0: 5 (2 quick)
	Only   map[string]bool // scenarios to run; empty: all
	// MaxConnections is passed to the server as PGLINKS_MAX_CONNECTIONS
	// (0: 32) and is the cap pglinks' own connections are held to.
	MaxConnections int
	// Fleet sizes the large-fleet scenario "fleet1000" (0: 1,000; 60
	// with Quick).
	Fleet int
	// ProfileDir, when set, gets a CPU profile of each server run
	// (<scenario server>.pprof, through PGLINKS_CPU_PROFILE).
	ProfileDir string
	// Progress receives progress lines (nil: discarded).
	Progress io.Writer
	// Command is the command line printed with the results.
	Command string
}

// sizes is what Quick changes.
type sizes struct {
	fleet, bigFleet int // databases in the base fleet and the large one
	largeFleet      int // the -fleet scenario's
	slow, silent    int // of which slow and silent in its last phase
	idleWindow      time.Duration
	countWindow     time.Duration // background statements counted over it
	linkTables      []int         // foreign tables of the link-page links
	createTables    int
	c1N, c8N        int // requests per target per round at c=1, at c=8
}

func (c Config) sizes() sizes {
	var sz sizes
	if c.Quick {
		sz = sizes{fleet: 6, bigFleet: 24, largeFleet: 60, slow: 3, silent: 1, idleWindow: 3 * time.Second, countWindow: 4 * time.Second,
			linkTables: []int{50, 200}, createTables: 60, c1N: 10, c8N: 40}
	} else {
		sz = sizes{fleet: 40, bigFleet: 200, largeFleet: 1000, slow: 50, silent: 10, idleWindow: 40 * time.Second, countWindow: time.Minute,
			linkTables: []int{50, 1000, 10000}, createTables: 1000, c1N: 40, c8N: 320}
	}
	if c.Fleet > 0 {
		sz.largeFleet = c.Fleet
		sz.slow, sz.silent = max(1, c.Fleet/20), max(1, c.Fleet/100)
	}
	return sz
}

func (c Config) runs(name string) bool { return len(c.Only) == 0 || c.Only[name] }

// Row is one line of the results table.
type Row struct {
	What, Pglinks, Floor, Ratio, Target, Met string
}

// Report is what a run measured and checked.
type Report struct {
	Rows     []Row
	Notes    []string // facts measured that have no floor (peaks, counts)
	Failures []string // answers that were wrong (checked in every size; fatal with Quick)
	Machine  []string
	Elapsed  time.Duration
}

func (r *Report) row(what, pg, floor, ratio, target string, met *bool) {
	m := ""
	if met != nil {
		m = "not met"
		if *met {
			m = "met"
		}
	}
	r.Rows = append(r.Rows, Row{what, pg, floor, ratio, target, m})
}

func (r *Report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}
func (r *Report) fail(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

func boolp(b bool) *bool { return &b }

// Markdown renders the report.
func (r *Report) Markdown() string {
	var b strings.Builder
	b.WriteString("| what | pglinks | floor | ratio | target | met? |\n|---|---|---|---|---|---|\n")
	for _, x := range r.Rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", x.What, x.Pglinks, x.Floor, x.Ratio, x.Target, x.Met)
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n")
		for _, n := range r.Notes {
			b.WriteString("- " + n + "\n")
		}
	}
	if len(r.Failures) > 0 {
		b.WriteString("\nWrong answers:\n")
		for _, f := range r.Failures {
			b.WriteString("- " + f + "\n")
		}
	}
	b.WriteString("\nMachine:\n")
	for _, m := range r.Machine {
		b.WriteString("- " + m + "\n")
	}
	return b.String()
}

// env is the state of a run shared by the scenarios.
type env struct {
	cfg      Config
	sz       sizes
	rounds   int
	cap      int
	dir      string
	bin      string
	a, b     *pgtest.Cluster
	stateURL string
	password string
	keys     string
	members  []*member // the base fleet
	all      []*member // every fleet database made so far, in order
	linked   bool
	rep      *Report
	progress io.Writer

	healthy1 *Sample // inventory c=1 of the healthy fleet, for the degraded ratio
	healthy8 *Sample
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(e.progress, "bench: "+format+"\n", args...)
}

// Run runs the benchmark and writes the markdown table to w.
func Run(ctx context.Context, cfg Config, w io.Writer) (rep *Report, err error) {
	start := time.Now()
	rep = &Report{}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = 32
	}
	for name := range cfg.Only {
		if !containsString(Scenarios, name) {
			return rep, fmt.Errorf("unknown scenario %q (have %s)", name, strings.Join(Scenarios, ","))
		}
	}
	e := &env{cfg: cfg, sz: cfg.sizes(), cap: cfg.MaxConnections, rep: rep, progress: cfg.Progress}
	if e.progress == nil {
		e.progress = io.Discard
	}
	e.rounds = cfg.Rounds
	if e.rounds <= 0 {
		e.rounds = 5
		if cfg.Quick {
			e.rounds = 2
		}
	}
	e.dir, err = os.MkdirTemp("", "pglinks-bench-")
	if err != nil {
		return rep, err
	}
	keepLogs := false
	defer func() {
		if e.a != nil {
			e.a.Stop()
		}
		if e.b != nil {
			e.b.Stop()
		}
		if !keepLogs {
			os.RemoveAll(e.dir)
		}
	}()
	if err := e.setup(ctx); err != nil {
		return rep, err
	}
	steps := map[string]func(context.Context) error{
		"inventory": e.inventory, "degraded": e.degraded, "fleet200": e.fleet200, "fleet1000": e.fleetLarge,
		"linkpage": e.linkPage, "create": e.create, "querycheck": e.queryCheck, "redis": e.redisScenario,
	}
	for _, name := range Scenarios {
		if !cfg.runs(name) {
			continue
		}
		t := time.Now()
		e.logf("%s: start", name)
		if err := steps[name](ctx); err != nil {
			if ctx.Err() != nil {
				return rep, fmt.Errorf("%s: interrupted: %w", name, ctx.Err())
			}
			// Keep the server logs (not the binary) for the post-mortem.
			keepLogs = true
			os.Remove(e.bin)
			var se *serverError
			if errors.As(err, &se) {
				return rep, fmt.Errorf("%s: %w (server log kept: %s)", name, err, se.log)
			}
			return rep, fmt.Errorf("%s: %w (server logs kept in %s)", name, err, e.dir)
		}
		e.logf("%s: done in %s", name, time.Since(t).Round(time.Millisecond))
	}
	rep.Elapsed = time.Since(start)
	rep.Machine = machineFacts(ctx, e, cfg)
	fmt.Fprint(w, rep.Markdown())
	if cfg.Quick && len(rep.Failures) > 0 {
		return rep, fmt.Errorf("%d wrong answer(s): %s", len(rep.Failures), strings.Join(rep.Failures, "; "))
	}
	return rep, nil
}

func containsString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// serverError marks a failure whose explanation is in the server's log.
type serverError struct {
	err error
	log string
}

func (s *serverError) Error() string { return s.err.Error() }
func (s *serverError) Unwrap() error { return s.err }

func (e *env) setup(ctx context.Context) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	t := time.Now()
	var wg sync.WaitGroup
	var buildErr, aErr, bErr error
	wg.Add(3)
	go func() { defer wg.Done(); e.bin, buildErr = buildServer(ctx, root, e.dir) }()
	// pg_stat_statements counts pglinks' background statements per
	// database (fleet1000): up to 1,000 databases × a dozen statements.
	// The quick size checks answers, not timings: its clusters are test
	// clusters.
	opts := pgtest.Options{ForTests: e.cfg.Quick, Settings: []string{"shared_preload_libraries = 'pg_stat_statements'", "pg_stat_statements.max = 20000"}}
	go func() { defer wg.Done(); e.a, aErr = pgtest.Start(ctx, opts) }()
	go func() { defer wg.Done(); e.b, bErr = pgtest.Start(ctx, opts) }()
	wg.Wait()
	if err := errors.Join(buildErr, aErr, bErr); err != nil {
		return err
	}
	// Room for the large fleet's pools and for 10,000-table imports.
	// The catalog floor keeps up to 8 connections per database at c=8.
	maxConns := 200
	if !e.cfg.Quick {
		maxConns = 600
	}
	settings := map[string]string{"max_connections": strconv.Itoa(maxConns), "max_locks_per_transaction": "256"}
	for _, c := range []*pgtest.Cluster{e.a, e.b} {
		if err := tune(ctx, c, settings); err != nil {
			return err
		}
		if err := execURL(ctx, c.SuperURL("postgres"), "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
			return err
		}
	}
	sctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	state, err := e.a.CreateDatabase(sctx, "pglinks_state", pgtest.DBOptions{NoFDW: true})
	if err != nil {
		return err
	}
	e.stateURL = state.URL
	e.password = pgtest.RandomToken(16)
	e.keys = auth.GenerateSessionKey()
	if err := addUser(ctx, e.bin, e.stateURL, e.password); err != nil {
		return err
	}
	needFleet := e.cfg.runs("inventory") || e.cfg.runs("degraded") || e.cfg.runs("fleet200") || e.cfg.runs("fleet1000") || e.cfg.runs("linkpage") || e.cfg.runs("create")
	if needFleet {
		e.members, err = makeMembers(ctx, e.a, e.b, 1, e.sz.fleet)
		if err != nil {
			return err
		}
		e.all = append([]*member{}, e.members...)
	}
	e.logf("setup: server built, 2 clusters, %d databases in %s", len(e.members), time.Since(t).Round(time.Millisecond))
	return nil
}

// serverEnv is the server's environment for a fleet.
func (e *env) serverEnv(fleet []string) []string {
	env := []string{
		"PGLINKS_STATE_URL=" + e.stateURL,
		"PGLINKS_SESSION_KEYS=" + e.keys,
		"PGLINKS_MAX_CONNECTIONS=" + strconv.Itoa(e.cap),
	}
	return append(env, fleet...)
}

func (e *env) start(ctx context.Context, name string, fleet []string) (*server, error) {
	env := e.serverEnv(fleet)
	if e.cfg.ProfileDir != "" {
		dir, err := filepath.Abs(e.cfg.ProfileDir)
		if err != nil {
			return nil, err
		}
		env = append(env, "PGLINKS_CPU_PROFILE="+filepath.Join(dir, name+".pprof"))
	}
	s, err := startServer(ctx, e.bin, e.dir, name, env, e.password)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ensureLinks creates the base fleet's links through the create form:
// local i reads remote i+1, the last reads the first, and the first also
// reads the third (fleet+1 links).
func (e *env) ensureLinks(ctx context.Context, s *server) error {
	if e.linked {
		return nil
	}
	t := time.Now()
	n := len(e.members)
	pairs := [][2]int{}
	for i := 0; i < n; i++ {
		pairs = append(pairs, [2]int{i, (i + 1) % n})
	}
	pairs = append(pairs, [2]int{0, 2 % n})
	for _, p := range pairs {
		local, remote := e.members[p[0]], e.members[p[1]]
		name := fmt.Sprintf("from_db%03d", p[1]+1)
		if _, err := s.createLink(ctx, local.ConfigVar, remote.ConfigVar, "public", name); err != nil {
			return &serverError{err, s.logPath}
		}
	}
	e.linked = true
	e.logf("created %d links through the form in %s", len(pairs), time.Since(t).Round(time.Millisecond))
	return nil
}

func machineFacts(ctx context.Context, e *env, cfg Config) []string {
	model := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	pgVersion := "unknown"
	if e.a != nil {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if out, err := queryString(qctx, e.a.SuperURL("postgres"), "SELECT version()"); err == nil {
			pgVersion = out
		}
	}
	goVersion := runtime.Version()
	if out, err := exec.CommandContext(ctx, "go", "version").Output(); err == nil {
		goVersion = strings.TrimSpace(string(out))
	}
	size := "full"
	if cfg.Quick {
		size = "quick"
	}
	cmd := cfg.Command
	if cmd == "" {
		cmd = "(library call)"
	}
	return []string{
		fmt.Sprintf("CPU: %d × %s (runtime.NumCPU %d)", countCPUs(), model, runtime.NumCPU()),
		"PostgreSQL: " + pgVersion,
		"Go: " + goVersion,
		"Date: " + time.Now().UTC().Format("2006-01-02 15:04 MST"),
		fmt.Sprintf("Size: %s, %d rounds, pglinks connection cap PGLINKS_MAX_CONNECTIONS=%d, PGLINKS_INVENTORY_MAX_AGE default (30s), large fleet %d databases", size, e.rounds, e.cap, e.sz.largeFleet),
		"Load average at the end: " + loadAvg(),
		"Run time: " + e.rep.Elapsed.Round(time.Second).String(),
		"Command: `" + cmd + "`",
	}
}

// loadAvg is /proc/loadavg's first three figures.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func countCPUs() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.NumCPU()
	}
	return strings.Count(string(b), "\nprocessor") + btoi(strings.HasPrefix(string(b), "processor"))
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
