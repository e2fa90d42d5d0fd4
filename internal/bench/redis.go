package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/redis"
	"github.com/pglinks/pglinks/internal/redistest"
	"github.com/pglinks/pglinks/views"
)

// The redis scenario is seed 004's: a Redis linked into a PostgreSQL
// database through the create form (the default table `redis` of string
// keys), counters incremented by workers and read back through the link,
// and a join of rows to their Redis keys next to two floors measured in
// the same run: a Go client doing the same lookups one GET per key on one
// connection, and one MGET of all the keys. Redis runs with TLS and a
// password, as the demo's does; the floors use the same TLS.

// redisSeedJoin is the seed's join over table w; with a count and a sum
// instead of the rows, so the client fetches no rows (the floors neither).
const redisSeedJoin = "SELECT count(*), coalesce(sum(r.value::bigint), 0) FROM %s w JOIN hredis.redis r ON r.key = CONCAT('widget:', w.id)"

func (e *env) redisScenario(ctx context.Context) error {
	rows, workers, incrs := 10_000, 10, 1000
	if e.cfg.Quick {
		rows, incrs = 1000, 20
	}
	const counters = 25
	setup := time.Now()
	cctx, cancel := context.WithTimeout(ctx, dbTimeout)
	local, err := e.a.CreateDatabase(cctx, "redis_local", pgtest.DBOptions{Redis: true})
	cancel()
	if err != nil {
		return fmt.Errorf("redis: local database (pglinks_redis is installed by `make ext`): %w", err)
	}
	password := pgtest.RandomToken(16)
	rs, err := redistest.Start(ctx, redistest.Options{TLS: true, Password: password})
	if err != nil {
		return err
	}
	defer rs.Stop()
	if err := execURL(ctx, local.URL, fmt.Sprintf(`CREATE TABLE widgets (id int PRIMARY KEY, name text NOT NULL, stock int NOT NULL);
		INSERT INTO widgets SELECT g, 'Widget ' || g, g %% 120 FROM generate_series(1, %d) g;
		CREATE TABLE many (id int PRIMARY KEY);
		INSERT INTO many SELECT g FROM generate_series(1, %d) g;
		ANALYZE widgets, many`, counters, rows)); err != nil {
		return err
	}
	keys := make([]string, rows)
	var sum int64
	var set [][]any
	for i := range keys {
		keys[i] = "widget:" + strconv.Itoa(i+1)
		v := int64(i%1000 + 1)
		if i < counters {
			v = 0 // the counters start at 0
		}
		sum += v
		set = append(set, []any{"SET", keys[i], strconv.FormatInt(v, 10)})
	}
	for from := 0; from < len(set); from += 1000 {
		if _, err := rs.Pipeline(ctx, set[from:min(from+1000, len(set))]); err != nil {
			return err
		}
	}
	redisVar := "REDIS_URL"
	localVar := "HEROKU_POSTGRESQL_RLOCAL_URL"
	s, err := e.start(ctx, "redis", []string{
		localVar + "=" + local.URL,
		redisVar + "=rediss://:" + password + "@127.0.0.1:" + strconv.Itoa(rs.Port) + "/0?tls_ca_file=" + rs.CAFile,
	})
	if err != nil {
		return err
	}
	defer s.stop()
	t0 := time.Now()
	loc, err := s.createLink(ctx, localVar, redisVar, "", "hredis")
	if err != nil {
		return &serverError{err, s.logPath}
	}
	if want := views.LinkPath(localVar, "hredis"); loc != want {
		e.rep.fail("redis: create redirected to %q, want %q", loc, want)
	}
	e.logf("redis: %d keys, link hredis created through the form in %s (setup %s)", rows, time.Since(t0).Round(time.Millisecond), time.Since(setup).Round(time.Millisecond))

	dial := func() (*redis.Conn, error) {
		return redis.Dial(ctx, redis.Options{Addr: rs.Addr(), TLS: rs.TLSConfig(), Password: password})
	}
	pg, err := pgx.Connect(ctx, local.URL)
	if err != nil {
		return err
	}
	defer pg.Close(context.WithoutCancel(ctx))

	// The seed's scenario: 25 counters, incremented by 10 workers (each
	// its own connection, as app processes would), read back through the
	// link.
	incrStart := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			c, err := dial()
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			rng := rand.New(rand.NewPCG(uint64(w), 4))
			for k := 0; k < incrs; k++ {
				if _, err := c.Do(ctx, "INCR", "widget:"+strconv.Itoa(1+rng.IntN(counters))); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return fmt.Errorf("redis: INCR: %w", err)
	}
	incrTime := time.Since(incrStart)
	readBack := &Sample{Name: "read back"}
	readOK := true
	for r := 0; r < max(e.rounds, 3); r++ {
		t := time.Now()
		var n, got int64
		err := pg.QueryRow(ctx, fmt.Sprintf(redisSeedJoin, "widgets")).Scan(&n, &got)
		d := time.Since(t)
		if err != nil {
			return fmt.Errorf("redis: read back: %w", err)
		}
		readBack.Latencies = append(readBack.Latencies, d)
		if n != counters || got != int64(workers*incrs) {
			readOK = false
			e.rep.fail("redis: the seed's join read back %d counters summing to %d, want %d summing to %d", n, got, counters, workers*incrs)
		}
	}
	sum += int64(workers * incrs)
	e.rep.row(fmt.Sprintf("seed scenario: %d counters, %d workers × %d INCR, read back by the seed's join through the link", counters, workers, incrs),
		ms(readBack.P50())+" p50", fmt.Sprintf("%d INCR/s by the workers", int(float64(workers*incrs)/incrTime.Seconds())), "", "every increment read back", boolp(readOK))

	// The join of many rows to their keys, and key = ANY(all keys), each
	// next to its floor, interleaved.
	join := fmt.Sprintf(redisSeedJoin, "many")
	var explain strings.Builder
	plan, err := pg.Query(ctx, "EXPLAIN (COSTS OFF) "+join)
	if err != nil {
		return err
	}
	for plan.Next() {
		var line string
		plan.Scan(&line)
		explain.WriteString(line + "\n")
	}
	plan.Close()
	if !strings.Contains(explain.String(), "Redis command: GET (1 key per execution)") || strings.Contains(explain.String(), "SCAN") {
		e.rep.fail("redis: the join of %d rows is not planned as one GET per row:\n%s", rows, explain.String())
	}
	getConn, err := dial()
	if err != nil {
		return err
	}
	defer getConn.Close()
	mget := append([]string{"MGET"}, keys...)
	check := func(what string, n, got int64) error {
		if n != int64(rows) || got != sum {
			return fmt.Errorf("%s: %d rows summing to %d, want %d summing to %d", what, n, got, rows, sum)
		}
		return nil
	}
	targets := []target{
		{name: "join", fn: timed(func(ctx context.Context, _ int) error {
			var n, got int64
			if err := pg.QueryRow(ctx, join).Scan(&n, &got); err != nil {
				return err
			}
			return check("join", n, got)
		})},
		{name: "get floor", fn: timed(func(ctx context.Context, _ int) error {
			var got int64
			for _, k := range keys {
				v, err := getConn.Do(ctx, "GET", k)
				if err != nil {
					return err
				}
				n, _ := strconv.ParseInt(v.(string), 10, 64)
				got += n
			}
			return check("GET floor", int64(len(keys)), got)
		})},
		{name: "any", fn: timed(func(ctx context.Context, _ int) error {
			var n, got int64
			if err := pg.QueryRow(ctx, "SELECT count(*), coalesce(sum(value::bigint), 0) FROM hredis.redis WHERE key = ANY($1::text[])", keys).Scan(&n, &got); err != nil {
				return err
			}
			return check("key = ANY", n, got)
		})},
		{name: "mget floor", fn: timed(func(ctx context.Context, _ int) error {
			v, err := getConn.Do(ctx, mget...)
			if err != nil {
				return err
			}
			var got int64
			for _, x := range v.([]any) {
				n, _ := strconv.ParseInt(x.(string), 10, 64)
				got += n
			}
			return check("MGET floor", int64(len(keys)), got)
		})},
	}
	// Commands each sends, from INFO commandstats around one run of each.
	calls := func() (map[string]int64, error) { return rs.CommandCalls(ctx) }
	perQuery := map[string]map[string]int64{}
	for _, t := range []target{targets[0], targets[2]} {
		before, err := calls()
		if err != nil {
			return err
		}
		if _, err := t.fn(ctx, 0); err != nil {
			e.rep.fail("redis: %v", err)
		}
		after, err := calls()
		if err != nil {
			return err
		}
		perQuery[t.name] = map[string]int64{}
		for k, v := range after {
			if d := v - before[k]; d > 0 && k != "info" {
				perQuery[t.name][k] = d
			}
		}
	}
	errs := &errorLog{}
	res := rounds(ctx, e.rounds, 1, 1, targets, errs)
	e.recordErrors("redis", errs)
	rowsPerSec := func(s *Sample) string { return fmt.Sprintf("%.0f rows/s", float64(rows)/s.P50().Seconds()) }
	j, g, a, m := res["join"], res["get floor"], res["any"], res["mget floor"]
	rj := ratio(float64(j.P50()), float64(g.P50()))
	e.rep.row(fmt.Sprintf("seed's join, %d rows to their keys, through the link", rows), rowsPerSec(j)+" ("+ms(j.P50())+" p50)",
		"Go client, one GET per key on one connection: "+rowsPerSec(g)+" ("+ms(g.P50())+")", x(rj), "≤ 3×", boolp(rj <= 3))
	ra := ratio(float64(a.P50()), float64(m.P50()))
	e.rep.row(fmt.Sprintf("key = ANY(%d keys) through the link", rows), rowsPerSec(a)+" ("+ms(a.P50())+" p50)",
		"one MGET of all the keys: "+rowsPerSec(m)+" ("+ms(m.P50())+")", x(ra), "≤ 3×", boolp(ra <= 3))
	jc, ac := perQuery["join"], perQuery["any"]
	noScan := jc["scan"] == 0 && ac["scan"] == 0
	e.rep.row("Redis commands per joined row (INFO commandstats)", fmt.Sprintf("join %.3f (%s); ANY %.3f (%s)", perRow(jc, rows), callList(jc), perRow(ac, rows), callList(ac)),
		fmt.Sprintf("1 GET per row; 1 MGET per %d keys", links.RedisBatchSize), "", "no SCAN", boolp(noScan))
	if !noScan {
		e.rep.fail("redis: a key lookup fell back to SCAN: join %v, ANY %v", jc, ac)
	}
	e.rep.note("redis: TLS redis-server %s with a password; the link made through the create form (default table `redis`), queried as the local database's own role over one pgx connection; %d interleaved rounds of one run each; the seed's join planned as %s",
		serverVersion(ctx, rs), e.rounds, planLine(explain.String()))
	return nil
}

// planLine is an EXPLAIN in one line: "Aggregate / Nested Loop / ...".
func planLine(plan string) string {
	var parts []string
	for _, l := range strings.Split(plan, "\n") {
		if l = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(l), "->")); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " / ")
}

func perRow(calls map[string]int64, rows int) float64 {
	var n int64
	for _, v := range calls {
		n += v
	}
	return float64(n) / float64(rows)
}

// callList is "GET 10000, AUTH 1, ...", most first.
func callList(calls map[string]int64) string {
	names := make([]string, 0, len(calls))
	for k := range calls {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if calls[names[i]] != calls[names[j]] {
			return calls[names[i]] > calls[names[j]]
		}
		return names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %d", strings.ToUpper(k), calls[k])
	}
	return strings.Join(parts, ", ")
}

func serverVersion(ctx context.Context, rs *redistest.Server) string {
	v, err := rs.Do(ctx, "INFO", "server")
	if err != nil {
		return "(version unknown)"
	}
	s, _ := v.(string)
	if ver := redis.ParseInfo(s)["redis_version"]; ver != "" {
		return ver
	}
	return "(version unknown)"
}
