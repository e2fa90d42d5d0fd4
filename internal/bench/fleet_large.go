package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// The large fleet (-fleet N, 1,000 by default): what a fleet much larger
// than the connection cap costs one process, and what several processes
// behind one address cost the fleet.
//
//   - the first page view after start, and how many cards it shows "not
//     read yet";
//   - the oldest card at every moment (sampled from the state database,
//     where the lease holder keeps every card with the time its read
//     started), idle and under page load, against PGLINKS_INVENTORY_MAX_AGE;
//   - the inventory against GET /account at c=1 and c=8, healthy databases
//     shown unreachable, connections against the cap, the server's RSS;
//   - background statements and new sessions per fleet database per minute
//     (pg_stat_statements, pg_stat_database.sessions) with one process and
//     with three over the same state database;
//   - the same fleet with some databases slow (every statement answered 3 s
//     late, through a proxy) and some silent: the other cards' oldest age.

// maxAge is the server's PGLINKS_INVENTORY_MAX_AGE (its default).
const maxAge = 30 * time.Second

// allMembers returns fleet members 1..n, creating the ones not made yet.
func (e *env) allMembers(ctx context.Context, n int) ([]*member, error) {
	if have := len(e.all); have < n {
		t := time.Now()
		more, err := makeMembers(ctx, e.a, e.b, have+1, n)
		if err != nil {
			return nil, err
		}
		e.all = append(e.all, more...)
		e.logf("%d more databases in %s", len(more), time.Since(t).Round(time.Millisecond))
	}
	return e.all[:n], nil
}

// ageSampler samples, every 500 ms, the oldest card of keys in the state
// database: a card not read yet counts from since.
type ageSampler struct {
	mu        sync.Mutex
	oldest    time.Duration
	worst     string // the oldest card at the oldest sample: config var, read time and how long the read took
	lastWorst string // of the last phase
	unread    int    // at the last sample
	samples   int
	allRead   time.Time // first sample with every card read
	stop      chan struct{}
	done      chan struct{}
	keys      []string
	since     time.Time
	stateURL  string
}

func startAgeSampler(ctx context.Context, stateURL string, keys []string, since time.Time) *ageSampler {
	a := &ageSampler{stop: make(chan struct{}), done: make(chan struct{}), keys: keys, since: since, stateURL: stateURL, unread: len(keys)}
	go a.run(ctx)
	return a
}

// closeConn closes conn, waiting at most a second for the server to take
// its Terminate.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn.Close(ctx)
}

func (a *ageSampler) run(ctx context.Context) {
	defer close(a.done)
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			closeConn(conn)
		}
	}()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if conn == nil {
			cfg, err := pgx.ParseConfig(a.stateURL)
			if err == nil {
				cfg.RuntimeParams["application_name"] = "bench-sampler"
				conn, err = pgx.ConnectConfig(qctx, cfg)
			}
			if err != nil {
				conn = nil
			}
		}
		if conn != nil {
			var n, fresh int
			var oldest *time.Time
			var worst string
			err := conn.QueryRow(qctx, `SELECT count(*), count(*) FILTER (WHERE as_of >= $2), min(as_of),
				coalesce((SELECT key || ' (read ' || to_char(as_of, 'HH24:MI:SS.MS') || ', took ' || took_ms || ' ms)'
				            FROM pglinks.background_results WHERE kind = 'card' AND key = ANY($1) ORDER BY as_of LIMIT 1), '')
				FROM pglinks.background_results
				WHERE kind = 'card' AND key = ANY($1)`, a.keys, a.since).Scan(&n, &fresh, &oldest, &worst)
			now := time.Now()
			if err != nil {
				closeConn(conn)
				conn = nil
			} else {
				a.mu.Lock()
				a.samples++
				// Read since the process started: its own reads (a card
				// another process read before is shown, with its age).
				a.unread = len(a.keys) - fresh
				age := time.Duration(0)
				if oldest != nil {
					age = now.Sub(*oldest)
				}
				if n < len(a.keys) {
					age = max(age, now.Sub(a.since)) // never read at all
				}
				if a.unread == 0 && a.allRead.IsZero() {
					a.allRead = now
				}
				if age > a.oldest {
					a.oldest, a.worst = age, worst+" at "+now.UTC().Format("15:04:05.000")
				}
				a.mu.Unlock()
			}
		}
		cancel()
		select {
		case <-a.stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// phase returns the oldest age seen since the last phase, and starts a
// new one.
func (a *ageSampler) phase() (oldest time.Duration, samples int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	oldest, samples = a.oldest, a.samples
	a.lastWorst = a.worst
	a.oldest, a.samples, a.worst = 0, 0, ""
	return oldest, samples
}

func (a *ageSampler) firstAllRead() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.allRead
}

func (a *ageSampler) finish() {
	close(a.stop)
	<-a.done
}

// waitAllRead waits until every card of the sampler was read once.
func (a *ageSampler) waitAllRead(ctx context.Context, limit time.Duration) (time.Duration, bool) {
	deadline := time.Now().Add(limit)
	for {
		if at := a.firstAllRead(); !at.IsZero() {
			return at.Sub(a.since), true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// idle waits d (or until ctx ends).
func idle(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (e *env) fleetLarge(ctx context.Context) error {
	n := e.sz.largeFleet
	all, err := e.allMembers(ctx, n)
	if err != nil {
		return err
	}
	label := fmt.Sprintf("%d DBs", n)
	keys := e.vars(all)
	// A cold start, as in slowSilent: the earlier scenarios' process shared
	// the cards of the databases this fleet starts with, and a new process
	// reads those again only when they age, so "every card read once after
	// start" would wait for their refresh instead of timing the first sweep.
	if err := execURL(ctx, e.stateURL, "DELETE FROM pglinks.background_results"); err != nil {
		return err
	}
	// Started here, so that the time to read every card counts from the
	// process's start.
	start := time.Now()
	s, err := e.start(ctx, "fleet-large", fleetEnv(all))
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			s.stop()
		}
	}()
	ages := startAgeSampler(ctx, e.stateURL, keys, start)
	defer ages.finish()

	// The first page view: answered at once, "not read yet" where so.
	t0 := time.Now()
	code, body, err := s.get(ctx, "/")
	first := time.Since(t0)
	if err != nil || code != http.StatusOK {
		return &serverError{fmt.Errorf("first GET /: %d %v", code, err), s.logPath}
	}
	notRead := strings.Count(string(body), ">not read yet<")
	e.rep.row(label+": first `GET /` after start (sign-in included before it)", ms(first)+fmt.Sprintf(", %d of %d cards \"not read yet\"", notRead, len(parseCards(body))), "", "", "≤ 1 s", boolp(first <= time.Second))
	if err := e.ensureLinks(ctx, s); err != nil {
		return err
	}
	took, ok := ages.waitAllRead(ctx, 3*maxAge)
	if !ok {
		e.rep.fail("%s: not every card read %s after start", label, secs(3*maxAge))
	}
	e.logf("%s: every card read once %s after start", label, took.Round(time.Millisecond))
	e.rep.row(label+": every card read once, after start", secs(took), "max age "+secs(maxAge), x(ratio(took.Seconds(), maxAge.Seconds())), "≤ max age", boolp(ok && took <= maxAge))
	ages.phase()

	// Idle: nobody looks; the sweep keeps every card younger than max age.
	idleFor := e.sz.idleWindow
	samp := startSampler(ctx, []*pgtest.Cluster{e.a, e.b})
	cpu0 := cpuTimes()
	idle(ctx, idleFor)
	cpuBusy := cpuTimes().busySince(cpu0)
	idleOldest, idleSamples := ages.phase()
	e.rep.row(fmt.Sprintf("%s: oldest card, idle %s (samples every 0.5 s)", label, secs(idleFor)), secs(idleOldest), "max age "+secs(maxAge), x(ratio(idleOldest.Seconds(), maxAge.Seconds())), "≤ max age", boolp(idleOldest <= maxAge && idleSamples > 0))
	e.rep.note("%s: the oldest card idle was %s; the machine's CPU was %s busy over the idle window (both cores, every process: the server, the clusters, the harness)", label, ages.lastWorst, cpuBusy)

	// Under page load.
	np := pages(n)
	var shownDown, answers atomic.Int64
	var downMu sync.Mutex
	downDBs := map[string]bool{}
	check := func(body []byte) error {
		answers.Add(1)
		for _, c := range parseCards(body) {
			if c.Unreachable {
				shownDown.Add(1)
				downMu.Lock()
				downDBs[c.ConfigVar] = true
				downMu.Unlock()
			}
		}
		return nil
	}
	inv := page(s, "inventory", func(i int) string { return "/?page=" + strconv.Itoa(i%np+1) }, check)
	acc := page(s, "account", fixed(floorPage), nil)
	errs := &errorLog{}
	rss := sampleRSS(s.pid())
	loadStart := time.Now()
	r1 := rounds(ctx, e.rounds, 1, e.sz.c1N, []target{inv, acc}, errs)
	r8 := rounds(ctx, e.rounds, 8, e.sz.c8N, []target{inv, acc}, errs)
	// As a browser asks: gzip, read as sent and not parsed.
	invGz := gzipPage(s, "inventory", func(i int) string { return "/?page=" + strconv.Itoa(i%np+1) })
	accGz := gzipPage(s, "account", fixed(floorPage))
	r8gz := rounds(ctx, e.rounds, 8, e.sz.c8N, []target{invGz, accGz}, errs)
	loadFor := time.Since(loadStart)
	rssMax := rss()
	loadOldest, _ := ages.phase()
	own, fdw, nsamp := samp.finish()
	e.recordErrors(label, errs)
	e.checkCap(label, own)
	i1, a1, i8, a8 := r1["inventory"], r1["account"], r8["inventory"], r8["account"]
	e.rep.row(fmt.Sprintf("%s: oldest card under page load (%s, c=1 then c=8)", label, secs(loadFor)), secs(loadOldest), "max age "+secs(maxAge), x(ratio(loadOldest.Seconds(), maxAge.Seconds())), "≤ max age", boolp(loadOldest <= maxAge))
	r := ratio(float64(i1.P50()), float64(a1.P50()))
	e.rep.row(fmt.Sprintf("%s: `GET /?page=1..%d` p50, c=1", label, np), ms(i1.P50()), "`GET "+floorPage+"` "+ms(a1.P50()), x(r), "≤ 3×", boolp(r <= 3))
	r = ratio(i8.RPS(), a8.RPS())
	e.rep.row(fmt.Sprintf("%s: `GET /?page=1..%d` req/s, c=8", label, np), fmt.Sprintf("%.0f/s", i8.RPS()), fmt.Sprintf("`GET %s` %.0f/s", floorPage, a8.RPS()), x(r), "≥ 0.5×", boolp(r >= 0.5))
	g8, ga8 := r8gz["inventory"], r8gz["account"]
	r = ratio(g8.RPS(), ga8.RPS())
	e.rep.row(fmt.Sprintf("%s: `GET /?page=1..%d` req/s, c=8, as a browser asks (gzip, read as sent, not parsed)", label, np), fmt.Sprintf("%.0f/s", g8.RPS()), fmt.Sprintf("`GET %s` %.0f/s", floorPage, ga8.RPS()), x(r), "≥ 0.5×", boolp(r >= 0.5))
	e.rep.row(fmt.Sprintf("%s: `GET /?page=1..%d` p50 / p99, c=8", label, np), ms(i8.P50())+" / "+ms(i8.P99()), fmt.Sprintf("`GET %s` %s / %s", floorPage, ms(a8.P50()), ms(a8.P99())), x(ratio(float64(i8.P99()), float64(a8.P99())))+" (p99)", "", nil)
	e.rep.row(label+": healthy DBs shown unreachable, all answers", fmt.Sprintf("%d cards (%d distinct DBs) in %d answers", shownDown.Load(), len(downDBs), answers.Load()), "0", "", "0", boolp(shownDown.Load() == 0))
	e.rep.row(label+": pglinks connections at peak (application_name 'pglinks' or 'pglinks:probe', idle and load)", strconv.Itoa(own), fmt.Sprintf("cap %d", e.cap), x(ratio(float64(own), float64(e.cap))), "≤ cap", boolp(own <= e.cap))
	e.rep.row(label+": server RSS during the load (max of samples every 100 ms)", fmt.Sprintf("%.1f MiB", float64(rssMax)/1024), "", "", "< 150 MiB", boolp(rssMax > 0 && rssMax < 150*1024))
	if hwm, err := vmHWM(s.pid()); err == nil {
		e.rep.note("%s: server RSS peak since start (VmHWM, sign-in's argon2id included) %.1f MiB; postgres_fdw connections of links at peak %d; %d connection samples", label, float64(hwm)/1024, fdw, nsamp)
	}
	e.rep.note("%s: c=1 %d and c=8 %d inventory answers over %d interleaved rounds, pages 1..%d; the cards' ages are read from the state database (pglinks.background_results.as_of, when each card's read started)", label, len(i1.Latencies), len(i8.Latencies), e.rounds, np)

	e.logf("%s: idle and page load measured", label)
	// Background statements: one process, then three.
	one, err := e.backgroundLoad(ctx, all)
	if err != nil {
		return err
	}
	var extra []*server
	for i := range 2 {
		o, err := e.start(ctx, fmt.Sprintf("fleet-large-%d", i+2), fleetEnv(all))
		if err != nil {
			return err
		}
		extra = append(extra, o)
	}
	three, err := e.backgroundLoad(ctx, all)
	for _, o := range extra {
		o.stop()
	}
	if err != nil {
		return err
	}
	e.logf("%s: background statements counted with one process and with three", label)
	rs := ratio(three.statements, one.statements)
	var oneHolder *bool
	switch {
	case one.statements > 0 && three.statements > 0:
		oneHolder = boolp(rs <= 1.25)
	case e.sz.countWindow >= maxAge:
		// A window that holds a whole round of the sweep saw none.
		oneHolder = boolp(false)
	default:
		e.rep.note("%s: background statements not compared: a window of %s is shorter than a round of the sweep (max age %s), so one of the two can see none", label, secs(e.sz.countWindow), secs(maxAge))
	}
	e.rep.row(label+": background statements per fleet DB per minute, 3 processes", fmt.Sprintf("%.2f", three.statements), fmt.Sprintf("1 process %.2f", one.statements), x(rs), "≈ 1× (one lease holder)", oneHolder)
	e.rep.row(label+": new PostgreSQL sessions per fleet DB per minute, 3 processes", fmt.Sprintf("%.2f", three.sessions), fmt.Sprintf("1 process %.2f", one.sessions), x(ratio(three.sessions, one.sessions)), "", nil)
	e.rep.note("%s: background load counted with nobody looking over %s per process count: pg_stat_statements calls of every role but the clusters' superuser (the harness), and pg_stat_database.sessions, summed over the %d fleet databases; the status read, the replication state (on the same session) and the link probes (%d links)", label, secs(e.sz.countWindow), n, len(e.members)+1)
	s.stop()
	stopped = true
	return e.slowSilent(ctx, all)
}

// bgLoad is background work per fleet database per minute.
type bgLoad struct{ statements, sessions float64 }

// backgroundLoad counts what the fleet's databases ran for pglinks over
// countWindow with nobody looking.
func (e *env) backgroundLoad(ctx context.Context, ms []*member) (bgLoad, error) {
	names := map[*pgtest.Cluster][]string{}
	for _, m := range ms {
		names[m.Cluster] = append(names[m.Cluster], m.DB.Name)
	}
	count := func() (calls, sessions float64, err error) {
		for _, c := range []*pgtest.Cluster{e.a, e.b} {
			qctx, cancel := context.WithTimeout(ctx, time.Minute)
			var st, se float64
			err = func() error {
				conn, err := pgx.Connect(qctx, c.SuperURL("postgres"))
				if err != nil {
					return err
				}
				defer closeConn(conn)
				if err := conn.QueryRow(qctx, `SELECT coalesce(sum(s.calls), 0)::float8
					  FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
					 WHERE d.datname = ANY($1) AND s.userid <> (SELECT oid FROM pg_roles WHERE rolname = 'postgres')`, names[c]).Scan(&st); err != nil {
					return err
				}
				return conn.QueryRow(qctx, `SELECT coalesce(sum(sessions), 0)::float8 FROM pg_stat_database WHERE datname = ANY($1)`, names[c]).Scan(&se)
			}()
			cancel()
			if err != nil {
				return 0, 0, err
			}
			calls += st
			sessions += se
		}
		return calls, sessions, nil
	}
	for _, c := range []*pgtest.Cluster{e.a, e.b} {
		if err := execURL(ctx, c.SuperURL("postgres"), "SELECT pg_stat_statements_reset()"); err != nil {
			return bgLoad{}, err
		}
	}
	_, s0, err := count()
	if err != nil {
		return bgLoad{}, err
	}
	t0 := time.Now()
	idle(ctx, e.sz.countWindow)
	calls, s1, err := count()
	if err != nil {
		return bgLoad{}, err
	}
	mins := time.Since(t0).Minutes() * float64(len(ms))
	return bgLoad{statements: calls / mins, sessions: (s1 - s0) / mins}, nil
}

// slowSilent runs the large fleet with some databases slow (every
// statement 3 s late) and some silent, and measures the other cards.
func (e *env) slowSilent(ctx context.Context, all []*member) error {
	nSlow, nSilent := e.sz.slow, e.sz.silent
	healthy := all[:len(all)-nSlow-nSilent]
	slowOf := all[len(healthy) : len(healthy)+nSlow]
	sl, err := newSilentListener()
	if err != nil {
		return err
	}
	defer sl.Close()
	proxies := map[*pgtest.Cluster]*pgtest.Proxy{}
	for _, c := range []*pgtest.Cluster{e.a, e.b} {
		p, err := c.NewProxy()
		if err != nil {
			return err
		}
		defer p.Close()
		p.Slow("pglinks", 3*time.Second)
		proxies[c] = p
	}
	env := fleetEnv(healthy)
	for i, m := range slowOf {
		env = append(env, fmt.Sprintf("HEROKU_POSTGRESQL_SLOW%03d_URL=%s", i+1, proxies[m.Cluster].URL(m.URL)))
	}
	for i := range nSilent {
		env = append(env, fmt.Sprintf("HEROKU_POSTGRESQL_SILENT%03d_URL=%s", i+1, deadURL(sl.port(), fmt.Sprintf("silent%d", i+1))))
	}
	label := fmt.Sprintf("%d DBs, %d of them slow (3 s a statement) and %d silent", len(all), nSlow, nSilent)
	// A cold start: without this, the new process takes the healthy
	// cards the last one shared (read moments ago, younger than the max
	// age) and reads them again only when they age, so "read once after
	// start" would measure the refresh period, not the first sweep among
	// slow and silent databases.
	if err := execURL(ctx, e.stateURL, "DELETE FROM pglinks.background_results"); err != nil {
		return err
	}
	start := time.Now()
	s, err := e.start(ctx, "fleet-slow", env)
	if err != nil {
		return err
	}
	defer s.stop()
	keys := e.vars(healthy)
	ages := startAgeSampler(ctx, e.stateURL, keys, start)
	defer ages.finish()
	var slowKeys []string
	for i := range slowOf {
		slowKeys = append(slowKeys, fmt.Sprintf("HEROKU_POSTGRESQL_SLOW%03d_URL", i+1))
	}
	slowAges := startAgeSampler(ctx, e.stateURL, slowKeys, start)
	defer slowAges.finish()
	took, ok := ages.waitAllRead(ctx, 3*maxAge)
	if !ok {
		e.rep.fail("%s: not every healthy card read %s after start", label, secs(3*maxAge))
	}
	e.logf("%s: every healthy card read once %s after start", label, took.Round(time.Millisecond))
	e.rep.row(label+": every healthy card read once, after start", secs(took), "max age "+secs(maxAge), x(ratio(took.Seconds(), maxAge.Seconds())), "≤ max age", boolp(ok && took <= maxAge))
	ages.phase()
	slowAges.phase()
	cpu0 := cpuTimes()
	idle(ctx, e.sz.idleWindow)
	cpuBusy := cpuTimes().busySince(cpu0)
	idleOldest, _ := ages.phase()
	idleWorst := ages.lastWorst
	np := pages(len(healthy) + nSlow + nSilent)
	var shownDown atomic.Int64
	healthySet := map[string]bool{}
	for _, k := range keys {
		healthySet[k] = true
	}
	check := func(body []byte) error {
		for _, c := range parseCards(body) {
			if c.Unreachable && healthySet[c.ConfigVar] {
				shownDown.Add(1)
			}
		}
		return nil
	}
	inv := page(s, "inventory", func(i int) string { return "/?page=" + strconv.Itoa(i%np+1) }, check)
	errs := &errorLog{}
	r8 := rounds(ctx, e.rounds, 8, e.sz.c8N, []target{inv}, errs)
	e.recordErrors(label, errs)
	loadOldest, _ := ages.phase()
	slowOldest, _ := slowAges.phase()
	e.rep.row(label+": oldest healthy card, idle "+secs(e.sz.idleWindow), secs(idleOldest), "max age "+secs(maxAge), x(ratio(idleOldest.Seconds(), maxAge.Seconds())), "≤ max age", boolp(idleOldest <= maxAge))
	e.rep.row(fmt.Sprintf("%s: oldest healthy card under c=8 load (%d answers)", label, len(r8["inventory"].Latencies)), secs(loadOldest), "max age "+secs(maxAge), x(ratio(loadOldest.Seconds(), maxAge.Seconds())), "≤ max age", boolp(loadOldest <= maxAge))
	e.rep.row(label+": healthy DBs shown unreachable under c=8 load", strconv.Itoa(int(shownDown.Load())), "0", "", "0", boolp(shownDown.Load() == 0))
	e.rep.note("%s: the slow databases' own cards were at most %s old (they take at most half the background workers); silent ones are backed off (5 s doubling to 2 min)", label, secs(slowOldest))
	e.rep.note("%s: the oldest healthy card idle was %s, under load %s; the machine's CPU was %s busy over the idle window", label, idleWorst, ages.lastWorst, cpuBusy)
	return nil
}

// cpu is /proc/stat's first line: jiffies busy and in all.
type cpu struct{ busy, total uint64 }

func cpuTimes() cpu {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpu{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	var c cpu
	for i, f := range strings.Fields(line)[1:] {
		n, _ := strconv.ParseUint(f, 10, 64)
		c.total += n
		if i != 3 && i != 4 { // idle, iowait
			c.busy += n
		}
	}
	return c
}

// busySince is the share of the CPU busy since c0, as a percentage.
func (c cpu) busySince(c0 cpu) string {
	if c.total <= c0.total {
		return "unknown"
	}
	return fmt.Sprintf("%.0f %%", 100*float64(c.busy-c0.busy)/float64(c.total-c0.total))
}
