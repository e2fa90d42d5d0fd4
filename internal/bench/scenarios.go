package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/views"
)

const floorPage = "/account" // reads the session from the state database only: no fleet database

func (e *env) vars(ms []*member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ConfigVar)
	}
	return out
}

func (e *env) urls(ms []*member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.URL)
	}
	return out
}

func pages(n int) int { return max(1, (n+views.DatabasesPerPage-1)/views.DatabasesPerPage) }

// readCards fetches every inventory page of a fleet of n and returns the
// cards by config var.
func readCards(ctx context.Context, s *server, n int) (map[string]card, error) {
	out := map[string]card{}
	for p := 1; p <= pages(n); p++ {
		code, body, err := s.get(ctx, "/?page="+strconv.Itoa(p))
		if err != nil || code != http.StatusOK {
			return nil, fmt.Errorf("GET /?page=%d: %d %v", p, code, err)
		}
		for _, c := range parseCards(body) {
			out[c.ConfigVar] = c
		}
	}
	return out, nil
}

// checkCards compares the cards with what the fleet is: healthy databases
// present and not unreachable; dead ones unreachable or backing off.
func checkCards(cards map[string]card, healthy, dead []string) []string {
	var bad []string
	for _, v := range healthy {
		c, ok := cards[v]
		switch {
		case !ok:
			bad = append(bad, v+": healthy database has no card")
		case c.Unreachable:
			bad = append(bad, v+": healthy database shown unreachable")
		case c.Status == "not read yet":
			bad = append(bad, v+": not read yet")
		}
	}
	for _, v := range dead {
		c, ok := cards[v]
		switch {
		case !ok:
			bad = append(bad, v+": dead database has no card")
		case !c.Unreachable && !c.Retry:
			bad = append(bad, fmt.Sprintf("%s: dead database shown as %q", v, c.Status))
		}
	}
	return bad
}

// warm fills the snapshots: every page, a few times, until the cards are
// right or 30 s passed. It returns the last problems seen.
func warm(ctx context.Context, s *server, n int, healthy, dead []string) ([]string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		cards, err := readCards(ctx, s, n)
		if err != nil {
			return nil, &serverError{err, s.logPath}
		}
		bad := checkCards(cards, healthy, dead)
		if len(bad) == 0 || time.Now().After(deadline) {
			return bad, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (e *env) recordErrors(phase string, l *errorLog) {
	keys := make([]string, 0, len(l.msgs))
	for k := range l.msgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e.rep.fail("%s: %d× %s", phase, l.msgs[k], k)
	}
}

func (e *env) checkCap(phase string, own int) {
	if own > e.cap {
		e.rep.fail("%s: %d pglinks connections (application_name 'pglinks' or 'pglinks:probe') at peak, above the cap PGLINKS_MAX_CONNECTIONS=%d", phase, own, e.cap)
	}
}

func x(r float64) string { return fmt.Sprintf("%.2f×", r) }

// inventoryLoad measures GET / against /account and the catalog statement
// at c=1 and c=8 (interleaved) and adds the rows.
func (e *env) inventoryLoad(ctx context.Context, s *server, label string, floorURLs []string, degraded bool) (inv1, inv8 *Sample, err error) {
	cat, closeCat, err := catalogFloor(ctx, "catalog", floorURLs, 8)
	if err != nil {
		return nil, nil, err
	}
	defer closeCat()
	targets := []target{
		page(s, "inventory", fixed("/"), nil),
		page(s, "account", fixed(floorPage), nil),
		cat,
	}
	errs := &errorLog{}
	r1 := rounds(ctx, e.rounds, 1, e.sz.c1N, targets, errs)
	r8 := rounds(ctx, e.rounds, 8, e.sz.c8N, targets, errs)
	e.recordErrors(label, errs)
	i1, a1, c1 := r1["inventory"], r1["account"], r1["catalog"]
	i8, a8, c8 := r8["inventory"], r8["account"], r8["catalog"]
	nfloor := len(floorURLs)
	e.rep.row(fmt.Sprintf("%s: `GET /` p50, c=1", label), ms(i1.P50()), "`GET "+floorPage+"` "+ms(a1.P50()), x(ratio(float64(i1.P50()), float64(a1.P50()))), "≤ 1.5×", boolp(float64(i1.P50()) <= 1.5*float64(a1.P50())))
	e.rep.row(fmt.Sprintf("%s: `GET /` p50, c=1", label), ms(i1.P50()), fmt.Sprintf("catalog statement × %d DBs (pgx) %s", nfloor, ms(c1.P50())), x(ratio(float64(i1.P50()), float64(c1.P50()))), "", nil)
	if !degraded {
		e.rep.row(fmt.Sprintf("%s: `GET /` p99, c=1", label), ms(i1.P99()), "`GET "+floorPage+"` "+ms(a1.P99()), x(ratio(float64(i1.P99()), float64(a1.P99()))), "< 20 ms", boolp(i1.P99() < 20*time.Millisecond))
	} else {
		e.rep.row(fmt.Sprintf("%s: `GET /` p99, c=1", label), ms(i1.P99()), "`GET "+floorPage+"` "+ms(a1.P99()), x(ratio(float64(i1.P99()), float64(a1.P99()))), "", nil)
	}
	e.rep.row(fmt.Sprintf("%s: `GET /` req/s, c=8", label), fmt.Sprintf("%.0f/s", i8.RPS()), fmt.Sprintf("`GET %s` %.0f/s", floorPage, a8.RPS()), x(ratio(i8.RPS(), a8.RPS())), "≥ 0.5×", boolp(i8.RPS() >= 0.5*a8.RPS()))
	e.rep.row(fmt.Sprintf("%s: `GET /` req/s, c=8", label), fmt.Sprintf("%.0f/s", i8.RPS()), fmt.Sprintf("catalog statement × %d DBs (pgx) %.0f/s", nfloor, c8.RPS()), x(ratio(i8.RPS(), c8.RPS())), "", nil)
	e.rep.row(fmt.Sprintf("%s: `GET /` p50 / p99, c=8", label), ms(i8.P50())+" / "+ms(i8.P99()), fmt.Sprintf("`GET %s` %s / %s", floorPage, ms(a8.P50()), ms(a8.P99())), x(ratio(float64(i8.P99()), float64(a8.P99())))+" (p99)", "", nil)
	e.rep.note("%s: %d requests per target at c=1 and %d at c=8 over %d interleaved rounds; max `GET /` %s (c=1), %s (c=8)", label, len(i1.Latencies), len(i8.Latencies), e.rounds, ms(i1.Max()), ms(i8.Max()))
	if _, inv, err := s.get(ctx, "/"); err == nil {
		if _, acc, err := s.get(ctx, floorPage); err == nil {
			e.rep.note("%s: answer sizes: `GET /` %.1f KB (%d cards; %.1f KB gzip-compressed for a client that asks for it, the harness does not), `GET %s` %.1f KB", label, float64(len(inv))/1024, len(parseCards(inv)), float64(s.gzipSize(ctx, "/"))/1024, floorPage, float64(len(acc))/1024)
		}
	}
	return i1, i8, nil
}

func (e *env) inventory(ctx context.Context) error {
	s, err := e.start(ctx, "inventory", fleetEnv(e.members))
	if err != nil {
		return err
	}
	defer s.stop()
	if err := e.ensureLinks(ctx, s); err != nil {
		return err
	}
	label := fmt.Sprintf("%d DBs", len(e.members))
	samp := startSampler(ctx, []*pgtest.Cluster{e.a, e.b})
	bad, err := warm(ctx, s, len(e.members), e.vars(e.members), nil)
	if err != nil {
		samp.finish()
		return err
	}
	for _, b := range bad {
		e.rep.fail("%s after warm-up: %s", label, b)
	}
	e.rep.note("floor page: `GET /links/new` reads the fleet's inventory (createChoices calls Links.Inventory, and the remote's catalog once one is chosen), so the page that touches no fleet database is `GET %s`: it reads only the session from the state database, as every signed-in page does", floorPage)
	e.healthy1, e.healthy8, err = e.inventoryLoad(ctx, s, label, e.urls(e.members), false)
	own, fdw, n := samp.finish()
	if err != nil {
		return err
	}
	e.checkCap(label, own)
	e.rep.note("%s: peak connections from pglinks %d (application_name 'pglinks' or 'pglinks:probe'), %d of links (LIKE 'pglinks/%%'), %d samples", label, own, fdw, n)
	return nil
}

func (e *env) degraded(ctx context.Context) error {
	sl, err := newSilentListener()
	if err != nil {
		return err
	}
	defer sl.Close()
	var extra []string
	var dead []string
	for i := 1; i <= 3; i++ {
		port, err := pgtest.FreePort()
		if err != nil {
			return err
		}
		v := fmt.Sprintf("HEROKU_POSTGRESQL_ZCLOSED%d_URL", i)
		extra = append(extra, v+"="+deadURL(port, fmt.Sprintf("closed%d", i)))
		dead = append(dead, v)
	}
	extra = append(extra, "HEROKU_POSTGRESQL_ZSILENT_URL="+deadURL(sl.port(), "silent"))
	dead = append(dead, "HEROKU_POSTGRESQL_ZSILENT_URL")
	s, err := e.start(ctx, "degraded", append(fleetEnv(e.members), extra...))
	if err != nil {
		return err
	}
	defer s.stop()
	if err := e.ensureLinks(ctx, s); err != nil {
		return err
	}
	label := fmt.Sprintf("%d DBs + 3 closed + 1 silent", len(e.members))
	samp := startSampler(ctx, []*pgtest.Cluster{e.a, e.b})
	bad, err := warm(ctx, s, len(e.members)+4, e.vars(e.members), dead)
	if err != nil {
		samp.finish()
		return err
	}
	for _, b := range bad {
		e.rep.fail("%s after warm-up: %s", label, b)
	}
	i1, i8, err := e.inventoryLoad(ctx, s, label, e.urls(e.members), true)
	own, fdw, n := samp.finish()
	if err != nil {
		return err
	}
	e.checkCap(label, own)
	if e.healthy1 != nil {
		r1 := ratio(float64(i1.P99()), float64(e.healthy1.P99()))
		r8 := ratio(float64(i8.P99()), float64(e.healthy8.P99()))
		e.rep.row(label+": `GET /` p99, c=1", ms(i1.P99()), "healthy fleet "+ms(e.healthy1.P99()), x(r1), "≤ 1.5×", boolp(r1 <= 1.5))
		e.rep.row(label+": `GET /` p99, c=8", ms(i8.P99()), "healthy fleet "+ms(e.healthy8.P99()), x(r8), "≤ 1.5×", boolp(r8 <= 1.5))
	}
	e.rep.note("%s: the catalog floor runs over the %d healthy databases only; peak connections from pglinks %d, of links %d, %d samples", label, len(e.members), own, fdw, n)
	return nil
}

func vmHWM(pid int) (kib int, err error) { return procStatus(pid, "VmHWM") }

// procStatus reads a "<field>: N kB" line of /proc/<pid>/status.
func procStatus(pid int, field string) (kib int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// sampleRSS samples pid's VmRSS every 100 ms until the returned function
// is called, which returns the largest sample (KiB).
func sampleRSS(pid int) func() int {
	stop, done := make(chan struct{}), make(chan int)
	go func() {
		most := 0
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if kib, err := procStatus(pid, "VmRSS"); err == nil {
				most = max(most, kib)
			}
			select {
			case <-stop:
				done <- most
				return
			case <-t.C:
			}
		}
	}()
	return func() int {
		close(stop)
		return <-done
	}
}

func (e *env) fleet200(ctx context.Context) error {
	all, err := e.allMembers(ctx, e.sz.bigFleet)
	if err != nil {
		return err
	}
	s, err := e.start(ctx, "fleet", fleetEnv(all))
	if err != nil {
		return err
	}
	defer s.stop()
	if err := e.ensureLinks(ctx, s); err != nil {
		return err
	}
	label := fmt.Sprintf("%d DBs", len(all))
	samp := startSampler(ctx, []*pgtest.Cluster{e.a, e.b})
	healthy := e.vars(all)
	bad, err := warm(ctx, s, len(all), healthy, nil)
	if err != nil {
		samp.finish()
		return err
	}
	for _, b := range bad {
		e.rep.fail("%s after warm-up: %s", label, b)
	}
	np := pages(len(all))
	var shownDown, answers atomic.Int64
	var seenMu sync.Mutex
	seen, downDBs := map[string]bool{}, map[string]bool{}
	check := func(body []byte) error {
		answers.Add(1)
		cards := parseCards(body)
		seenMu.Lock()
		defer seenMu.Unlock()
		for _, c := range cards {
			seen[c.ConfigVar] = true
			if c.Unreachable {
				shownDown.Add(1)
				downDBs[c.ConfigVar] = true
			}
		}
		return nil
	}
	inv := page(s, "inventory", func(i int) string { return "/?page=" + strconv.Itoa(i%np+1) }, check)
	targets := []target{inv, page(s, "account", fixed(floorPage), nil)}
	errs := &errorLog{}
	rss := sampleRSS(s.pid())
	r8 := rounds(ctx, e.rounds, 8, e.sz.c8N, targets, errs)
	rssMax := rss()
	own, fdw, n := samp.finish()
	hwm, err := vmHWM(s.pid())
	if err != nil {
		return err
	}
	e.recordErrors(label, errs)
	e.checkCap(label, own)
	i8, a8 := r8["inventory"], r8["account"]
	e.rep.row(fmt.Sprintf("%s: `GET /?page=1..%d` p50 / p99, c=8", label, np), ms(i8.P50())+" / "+ms(i8.P99()), fmt.Sprintf("`GET %s` %s / %s", floorPage, ms(a8.P50()), ms(a8.P99())), x(ratio(float64(i8.P50()), float64(a8.P50())))+" (p50)", "", nil)
	e.rep.row(label+": `GET /` req/s, c=8", fmt.Sprintf("%.0f/s", i8.RPS()), fmt.Sprintf("`GET %s` %.0f/s", floorPage, a8.RPS()), x(ratio(i8.RPS(), a8.RPS())), "", nil)
	e.rep.row(label+": healthy DBs shown unreachable, all answers", fmt.Sprintf("%d cards (%d distinct DBs) in %d answers", shownDown.Load(), len(downDBs), answers.Load()), "0", "", "0", boolp(shownDown.Load() == 0))
	e.rep.row(label+": pglinks connections at peak (application_name 'pglinks' or 'pglinks:probe')", strconv.Itoa(own), fmt.Sprintf("cap %d", e.cap), x(ratio(float64(own), float64(e.cap))), "≤ cap", boolp(own <= e.cap))
	e.rep.row(label+": postgres_fdw connections of links at peak (LIKE 'pglinks/%')", strconv.Itoa(fdw), "", "", "", nil)
	e.rep.row(label+": server RSS during the c=8 load (max of samples every 100 ms)", fmt.Sprintf("%.1f MiB", float64(rssMax)/1024), "", "", "< 100 MiB", boolp(rssMax > 0 && rssMax < 100*1024))
	e.rep.row(label+": server RSS peak since start (VmHWM; includes signing in: argon2id holds 64 MiB per hash)", fmt.Sprintf("%.1f MiB", float64(hwm)/1024), "", "", "", nil)
	var missing []string
	for _, v := range healthy {
		if !seen[v] {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		e.rep.fail("%s: %d databases never shown on any page: %s", label, len(missing), strings.Join(missing, ", "))
	}
	if e.cfg.Quick && shownDown.Load() > 0 {
		e.rep.fail("%s: healthy databases shown unreachable %d times under c=8", label, shownDown.Load())
	}
	e.rep.note("%s: %d inventory answers at c=8 cycling pages 1..%d over %d rounds; %d connection samples", label, answers.Load(), np, e.rounds, n)
	return nil
}

// benchDBs are a local and a remote database of the link page or create
// scenario, outside the base fleet so they do not change it, and one pair
// per link so a link's page is not slowed by another link's catalog.
type benchDBs struct {
	src, dst       *pgtest.Database
	srcVar, dstVar string
}

func (e *env) benchDBs(ctx context.Context, tag string) (*benchDBs, error) {
	cctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	src, err := e.b.CreateDatabase(cctx, "src_"+tag, pgtest.DBOptions{})
	if err != nil {
		return nil, err
	}
	dst, err := e.a.CreateDatabase(cctx, "dst_"+tag, pgtest.DBOptions{})
	if err != nil {
		return nil, err
	}
	up := strings.ToUpper(tag)
	return &benchDBs{src: src, dst: dst,
		srcVar: "HEROKU_POSTGRESQL_SRC" + up + "_URL", dstVar: "HEROKU_POSTGRESQL_DST" + up + "_URL"}, nil
}

// makeTables creates n tables of 5 columns in a new schema of url, 1,000
// per transaction.
func makeTables(ctx context.Context, url, schema string, n int) error {
	if err := execURL(ctx, url, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return err
	}
	for from := 1; from <= n; from += 1000 {
		var b strings.Builder
		for i := from; i < from+1000 && i <= n; i++ {
			fmt.Fprintf(&b, "CREATE TABLE %s (id bigint PRIMARY KEY, name text, amount numeric(12,2), created_at timestamptz, tags text[]);\n",
				pgx.Identifier{schema, fmt.Sprintf("t%05d", i)}.Sanitize())
		}
		if err := execURL(ctx, url, b.String()); err != nil {
			return fmt.Errorf("tables of %s: %w", schema, err)
		}
	}
	return nil
}

func (e *env) benchServer(ctx context.Context, name string, ds ...*benchDBs) (*server, error) {
	fleet := fleetEnv(e.members)
	for _, d := range ds {
		fleet = append(fleet, d.srcVar+"="+d.src.URL, d.dstVar+"="+d.dst.URL)
	}
	return e.start(ctx, name, fleet)
}

// A large link's count may be a remembered one: "10000 (counted 07:41:02 UTC)".
var tableCountRe = regexp.MustCompile(`Foreign tables</dt>\s*<dd[^>]*>\s*(?:<bdi[^>]*>)?([0-9,]+)(?:\s*\(counted [^)<]*\))?\s*(?:</bdi>)?\s*</dd>`)

func tableCount(page []byte) int {
	m := tableCountRe.FindSubmatch(page)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(strings.ReplaceAll(string(m[1]), ",", ""))
	return n
}

// linkFloor gets the link page's data over pgx alone, the cheapest way:
// pglinks' records of the database's links (state database), the link
// with its exact table count (links.sql), one page of its tables, the
// link's options and, for a link the page compares on every view (up to
// links.LargeLinkTables tables), the drift's local and remote catalog
// reads.
func (e *env) linkFloor(ctx context.Context, d *benchDBs, name, schema string, tables int) (target, func(), error) {
	connect := func(url string) (*pgx.Conn, error) {
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			return nil, err
		}
		cfg.RuntimeParams["application_name"] = "bench-floor"
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return pgx.ConnectConfig(cctx, cfg)
	}
	local, err := connect(d.dst.URL)
	if err != nil {
		return target{}, nil, err
	}
	remote, err := connect(d.src.URL)
	if err != nil {
		local.Close(ctx)
		return target{}, nil, err
	}
	state, err := connect(e.stateURL)
	if err != nil {
		local.Close(ctx)
		remote.Close(ctx)
		return target{}, nil, err
	}
	closeAll := func() {
		for _, c := range []*pgx.Conn{local, remote, state} {
			closeConn(c)
		}
	}
	sqlLinks := links.CatalogSQL("links")
	sqlPage := links.CatalogSQL("foreign_tables_page")
	sqlDriftLocal := links.CatalogSQL("drift_local")
	sqlDriftRemote := links.CatalogSQL("drift_remote")
	const sqlRecords = `SELECT id, local_config_var, local_database, name, server_oid, schema_oid,
		remote_config_var, remote_resource_name, remote_schema, mapping_role, created_at, created_by,
		tables, read_only, copied_types
		FROM pglinks.links WHERE $1 = '' OR local_config_var = $1 ORDER BY local_config_var, name`
	drain := func(c *pgx.Conn, ctx context.Context, sql string, args ...any) (int, error) {
		rows, err := c.Query(ctx, sql, args...)
		if err != nil {
			return 0, err
		}
		n := 0
		for rows.Next() {
			if _, err := rows.Values(); err != nil {
				rows.Close()
				return n, err
			}
			n++
		}
		rows.Close()
		return n, rows.Err()
	}
	readLink := func(ctx context.Context) (uint32, error) {
		if _, err := drain(state, ctx, sqlRecords, d.dstVar); err != nil {
			return 0, fmt.Errorf("records: %w", err)
		}
		var oid uint32
		rows, err := local.Query(ctx, sqlLinks, name, nil) // exact count
		if err != nil {
			return 0, fmt.Errorf("links.sql: %w", err)
		}
		found := false
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				rows.Close()
				return 0, err
			}
			if !found {
				oid, found = vals[0].(uint32), true
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil || !found {
			return 0, fmt.Errorf("links.sql: %v (found %v)", err, found)
		}
		return oid, nil
	}
	inlineDrift := tables <= links.LargeLinkTables
	t := target{name: "floor " + name, fn: timed(func(ctx context.Context, i int) error {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		// The page's data the cheapest way, once each: the link with its
		// exact table count, one page of its tables, its options.
		oid, err := readLink(ctx)
		if err != nil {
			return err
		}
		if _, err := drain(local, ctx, sqlPage, name, "", views.TablesPerPage, 0, links.PageColumnsPerTable, links.PageColumns); err != nil {
			return fmt.Errorf("foreign_tables_page.sql: %w", err)
		}
		if _, err := drain(local, ctx, `SELECT coalesce(s.srvoptions, '{}'), um.umid IS NOT NULL, coalesce(um.umoptions, '{}'), current_user
		  FROM pg_foreign_server s
		  LEFT JOIN pg_user_mappings um ON um.srvid = s.oid AND um.usename = current_user
		 WHERE s.srvname = $1`, name); err != nil {
			return fmt.Errorf("options: %w", err)
		}
		if !inlineDrift {
			// A larger link's page shows its last comparison, made in
			// the background.
			return nil
		}
		// Drift, compared on every view of a link of up to
		// links.LargeLinkTables: its local tables in a read-only
		// transaction, the remote's relations in another.
		tx, err := local.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		if _, err := tx.Exec(ctx, "SET LOCAL search_path = ''"); err != nil {
			return err
		}
		if _, err := drain(tx.Conn(), ctx, sqlDriftLocal, pgx.Identifier{name}.Sanitize(), oid); err != nil {
			return fmt.Errorf("drift_local.sql: %w", err)
		}
		if err := tx.Rollback(ctx); err != nil {
			return err
		}
		rtx, err := remote.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
		if err != nil {
			return err
		}
		defer rtx.Rollback(context.WithoutCancel(ctx))
		if _, err := rtx.Exec(ctx, "SET LOCAL search_path = ''"); err != nil {
			return err
		}
		if _, err := drain(rtx.Conn(), ctx, sqlDriftRemote, schema); err != nil {
			return fmt.Errorf("drift_remote.sql: %w", err)
		}
		return rtx.Rollback(ctx)
	})}
	return t, closeAll, nil
}

func (e *env) linkPage(ctx context.Context) error {
	t := time.Now()
	pairs := map[int]*benchDBs{}
	var all []*benchDBs
	for _, n := range e.sz.linkTables {
		d, err := e.benchDBs(ctx, fmt.Sprintf("t%d", n))
		if err != nil {
			return err
		}
		if err := makeTables(ctx, d.src.URL, fmt.Sprintf("t%d", n), n); err != nil {
			return err
		}
		pairs[n] = d
		all = append(all, d)
	}
	e.logf("linkpage: remote tables %v in %s", e.sz.linkTables, time.Since(t).Round(time.Millisecond))
	s, err := e.benchServer(ctx, "linkpage", all...)
	if err != nil {
		return err
	}
	defer s.stop()
	var targets []target
	for _, n := range e.sz.linkTables {
		d := pairs[n]
		name, schema := fmt.Sprintf("l%d", n), fmt.Sprintf("t%d", n)
		t := time.Now()
		if _, err := s.createLink(ctx, d.dstVar, d.srcVar, schema, name); err != nil {
			return &serverError{err, s.logPath}
		}
		e.logf("linkpage: link of %d tables created through the form in %s", n, time.Since(t).Round(time.Millisecond))
		path := views.LinkPath(d.dstVar, name)
		want := n
		check := func(body []byte) error {
			if got := tableCount(body); got != want {
				return fmt.Errorf("%s shows %d foreign tables, want %d", path, got, want)
			}
			return nil
		}
		// Warm up, and check the answer once before measuring.
		for k := 0; k < 3; k++ {
			code, body, err := s.get(ctx, path)
			if err != nil || code != http.StatusOK {
				return &serverError{fmt.Errorf("GET %s: %d %v", path, code, err), s.logPath}
			}
			if err := check(body); err != nil {
				e.rep.fail("link page: %v", err)
			}
		}
		floor, closeFloor, err := e.linkFloor(ctx, d, name, schema, n)
		if err != nil {
			return err
		}
		defer closeFloor()
		targets = append(targets, page(s, name, fixed(path), check), floor)
	}
	errs := &errorLog{}
	n1 := max(5, e.sz.c1N/2)
	r := rounds(ctx, e.rounds, 1, n1, targets, errs)
	e.recordErrors("link page", errs)
	for _, n := range e.sz.linkTables {
		p, f := r[fmt.Sprintf("l%d", n)], r[fmt.Sprintf("floor l%d", n)]
		e.rep.row(fmt.Sprintf("link page, %d tables: p50, c=1", n), ms(p.P50()), "its catalog statements (pgx) "+ms(f.P50()), x(ratio(float64(p.P50()), float64(f.P50()))), "", nil)
		e.rep.row(fmt.Sprintf("link page, %d tables: p99, c=1", n), ms(p.P99()), "its catalog statements (pgx) "+ms(f.P99()), x(ratio(float64(p.P99()), float64(f.P99()))), "", nil)
	}
	lo, hi := e.sz.linkTables[0], e.sz.linkTables[len(e.sz.linkTables)-1]
	pl, ph := r[fmt.Sprintf("l%d", lo)], r[fmt.Sprintf("l%d", hi)]
	rr := ratio(float64(ph.P50()), float64(pl.P50()))
	e.rep.row(fmt.Sprintf("link page p50, %d tables vs %d", hi, lo), ms(ph.P50()), fmt.Sprintf("%d tables %s", lo, ms(pl.P50())), x(rr), "≤ 1.5×", boolp(rr <= 1.5))
	e.rep.note("link page: %d requests per target over %d interleaved rounds (c=1); each link has its own local and remote database; the floor also reads pglinks' link records from the state database, as the page does", n1*e.rounds, e.rounds)
	return nil
}

func (e *env) create(ctx context.Context) error {
	d, err := e.benchDBs(ctx, "create")
	if err != nil {
		return err
	}
	k := e.sz.createTables
	schema := fmt.Sprintf("c%d", k)
	if err := makeTables(ctx, d.src.URL, schema, k); err != nil {
		return err
	}
	s, err := e.benchServer(ctx, "create", d)
	if err != nil {
		return err
	}
	defer s.stop()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	local, err := pgx.Connect(cctx, d.dst.URL)
	cancel()
	if err != nil {
		return err
	}
	defer closeConn(local)
	n := max(3, e.rounds)
	if e.cfg.Quick {
		n = e.rounds
	}
	product, floor := &Sample{Name: "create"}, &Sample{Name: "ddl"}
	srcPort := strconv.Itoa(e.b.Port)
	for r := 1; r <= n; r++ {
		// The product, through the form.
		name := fmt.Sprintf("bc%d", r)
		t0 := time.Now()
		loc, err := s.createLink(ctx, d.dstVar, d.srcVar, schema, name)
		d1 := time.Since(t0)
		if err != nil {
			return &serverError{err, s.logPath}
		}
		product.Latencies = append(product.Latencies, d1)
		product.Wall += d1
		want := views.LinkPath(d.dstVar, name)
		if loc != want {
			e.rep.fail("create: redirected to %q, want %q", loc, want)
		}
		code, body, err := s.get(ctx, want)
		switch {
		case err != nil || code != http.StatusOK:
			e.rep.fail("create: GET %s: %d %v", want, code, err)
		case tableCount(body) != k:
			e.rep.fail("create: %s shows %d foreign tables, want %d", want, tableCount(body), k)
		}
		if err := s.destroyLink(ctx, d.dstVar, name); err != nil {
			return &serverError{err, s.logPath}
		}
		// The same DDL in one pgx transaction, rolled back (not timed).
		fname := fmt.Sprintf("fl%d", r)
		d2, err := ddlFloor(ctx, local, fname, schema, srcPort, d.src)
		if err != nil {
			return fmt.Errorf("DDL floor: %w", err)
		}
		floor.Latencies = append(floor.Latencies, d2)
		floor.Wall += d2
	}
	rr := ratio(float64(product.P50()), float64(floor.P50()))
	e.rep.row(fmt.Sprintf("create link, %d tables (form POST)", k), ms(product.P50())+" p50, "+ms(product.Max())+" max", "same DDL in one pgx transaction "+ms(floor.P50())+" p50, "+ms(floor.Max())+" max", x(rr), "", nil)
	e.rep.note("create: %d rounds, each a create through the form (timed), its destroy through the form (not timed), then the DDL floor (rolled back, not timed)", n)
	return nil
}

// ddlFloor times CREATE SERVER, CREATE USER MAPPING, CREATE SCHEMA and
// IMPORT FOREIGN SCHEMA in one transaction, then rolls it back.
func ddlFloor(ctx context.Context, c *pgx.Conn, name, schema, port string, src *pgtest.Database) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	id := pgx.Identifier{name}.Sanitize()
	t0 := time.Now()
	tx, err := c.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	stmts := []string{
		fmt.Sprintf("CREATE SERVER %s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port %s, dbname %s)", id, lit(port), lit(src.Name)),
		fmt.Sprintf("CREATE USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (user %s, password %s)", id, lit(src.Owner), lit(src.Password)),
		"CREATE SCHEMA " + id,
		fmt.Sprintf("IMPORT FOREIGN SCHEMA %s FROM SERVER %s INTO %s", pgx.Identifier{schema}.Sanitize(), id, id),
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return 0, err
		}
	}
	d := time.Since(t0)
	return d, tx.Rollback(ctx)
}
