package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/views"
)

// The query check scenario: a remote table of 1,000,000 accounts whose
// email column is citext (an extension type, with a unique index), read
// through a link with one lookup by email. postgres_fdw keeps the
// condition local until citext is in the server's extensions option, so
// every row crosses the network to return one. The product's query check
// must say so and offer that fix; the scenario applies it through the
// product, checks again, and measures the query before and after, rounds
// interleaved (the option toggled over pgx between them): rows fetched
// over the network (EXPLAIN ANALYZE of the foreign scan) and time.

const qcLink = "qc"

func (e *env) queryCheck(ctx context.Context) error {
	rowsN := 1_000_000
	if e.cfg.Quick {
		rowsN = 20_000
	}
	d, err := e.benchDBs(ctx, "qc")
	if err != nil {
		return err
	}
	t := time.Now()
	sctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	if err := execURL(sctx, d.src.URL, fmt.Sprintf(`CREATE EXTENSION citext;
		CREATE TABLE accounts (id bigint PRIMARY KEY, email citext NOT NULL UNIQUE, plan text, balance numeric(12,2));
		INSERT INTO accounts SELECT g, 'User' || g || '@Example.com', (ARRAY['free','team','enterprise'])[1 + g %% 3], g %% 1000
		  FROM generate_series(1, %d) g;
		ANALYZE accounts`, rowsN)); err != nil {
		return err
	}
	if err := execURL(sctx, d.dst.URL, "CREATE EXTENSION citext"); err != nil {
		return err
	}
	e.logf("querycheck: %d remote rows in %s", rowsN, time.Since(t).Round(time.Millisecond))
	s, err := e.benchServer(ctx, "querycheck", d)
	if err != nil {
		return err
	}
	defer s.stop()
	if _, err := s.createLink(ctx, d.dstVar, d.srcVar, "public", qcLink); err != nil {
		return &serverError{err, s.logPath}
	}
	target := rowsN / 2
	query := fmt.Sprintf("SELECT id, plan, balance FROM %s.accounts WHERE email = 'user%d@example.com'", qcLink, target)

	// 1. The product's check names the reason and offers the fix.
	page, err := s.checkQuery(ctx, d.dstVar, query)
	if err != nil {
		return &serverError{err, s.logPath}
	}
	fix := fixLinkRe.FindSubmatch(page)
	switch {
	case !strings.Contains(string(page), `data-reason="extension"`):
		e.rep.fail("querycheck: the check does not name the extension as the reason: %s", formError(page))
	case fix == nil:
		e.rep.fail("querycheck: the check offers no fix")
	}
	if fix == nil {
		return nil
	}
	fixPath := htmlUnescape(string(fix[1]))
	if !strings.Contains(fixPath, "key=extensions") || !strings.Contains(fixPath, "value=citext") {
		e.rep.fail("querycheck: the fix offered is %s, want extensions=citext", fixPath)
	}
	local, err := pgx.Connect(ctx, d.dst.URL)
	if err != nil {
		return err
	}
	defer closeConn(local)
	before, err := fetched(ctx, local, query)
	if err != nil {
		return fmt.Errorf("querycheck: before: %w", err)
	}

	// 2. Apply it through the preview and the form, and check again.
	if err := s.applyOption(ctx, fixPath); err != nil {
		return &serverError{err, s.logPath}
	}
	page, err = s.checkQuery(ctx, d.dstVar, query)
	if err != nil {
		return &serverError{err, s.logPath}
	}
	if !strings.Contains(string(page), `data-testid="check-summary">Everything`) {
		e.rep.fail("querycheck: after the fix the check still finds something kept local")
	}
	after, err := fetched(ctx, local, query)
	if err != nil {
		return fmt.Errorf("querycheck: after: %w", err)
	}
	if before != float64(rowsN) || after != 1 {
		e.rep.fail("querycheck: rows fetched %v before, %v after; want %d and 1", before, after, rowsN)
	}

	// 3. Time both, rounds interleaved.
	n := 3
	if e.cfg.Quick {
		n = 1
	}
	slow, quick := &Sample{Name: "before"}, &Sample{Name: "after"}
	server := ident(qcLink)
	for r := 0; r < e.rounds; r++ {
		for _, step := range []struct {
			sql string
			s   *Sample
		}{{"ALTER SERVER " + server + " OPTIONS (DROP extensions)", slow}, {"ALTER SERVER " + server + " OPTIONS (ADD extensions 'citext')", quick}} {
			if _, err := local.Exec(ctx, step.sql); err != nil {
				return err
			}
			// The first query after ALTER SERVER reconnects to the remote
			// (postgres_fdw drops a connection whose server changed): not timed.
			for i := -1; i < n; i++ {
				t0 := time.Now()
				rows, err := local.Query(ctx, query)
				if err != nil {
					return err
				}
				got := 0
				for rows.Next() {
					got++
				}
				if err := rows.Err(); err != nil {
					return err
				}
				dur := time.Since(t0)
				if got != 1 {
					e.rep.fail("querycheck: the query returned %d rows, want 1", got)
				}
				if i >= 0 {
					step.s.Latencies = append(step.s.Latencies, dur)
					step.s.Wall += dur
				}
			}
		}
	}
	label := fmt.Sprintf("query check advice on a %s-row remote table (`email = ...` on citext)", thousands(rowsN))
	e.rep.row(label+": rows fetched over the network", "after listing citext in extensions: "+thousands(int(after)), "before: "+thousands(int(before)), fmt.Sprintf("%s× fewer", thousands(int(before/max(after, 1)))), "", nil)
	rr := ratio(float64(quick.P50()), float64(slow.P50()))
	shown := fmt.Sprintf("%.4f× (%s× faster)", rr, thousands(int(1/max(rr, 1e-9))))
	if e.cfg.Quick {
		e.rep.row(label+": query time p50", "after: "+ms(quick.P50()), "before: "+ms(slow.P50()), shown, "", nil)
	} else {
		e.rep.row(label+": query time p50", "after: "+ms(quick.P50()), "before: "+ms(slow.P50()), shown, "≤ 0.1×", boolp(rr <= 0.1))
	}
	e.rep.note("querycheck: the product's query check named citext (an extension not in the server's extensions option) as why the condition stayed local and offered extensions=citext; applied through its preview and form, the check again found everything sent. Timed over pgx, %d queries each way per round after an untimed one over %d interleaved rounds (option toggled by ALTER SERVER between them); rows fetched from EXPLAIN ANALYZE of the foreign scan", n, e.rounds)
	return nil
}

var fixLinkRe = regexp.MustCompile(`href="([^"]+/options\?[^"]+)"[^>]*data-testid="apply-fix"`)

// checkQuery posts the query check form and returns the result page.
func (s *server) checkQuery(ctx context.Context, local, sql string) ([]byte, error) {
	path := views.QueryCheckPath(local, qcLink)
	code, body, err := s.do(ctx, http.MethodPost, path, url.Values{"csrf": {s.csrf}, "sql": {sql}}, reqTimeout)
	if err != nil || code != http.StatusSeeOther {
		return nil, fmt.Errorf("POST %s: %d %v: %s", path, code, err, formError(body))
	}
	code, page, err := s.get(ctx, string(body))
	if err != nil || code != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %v", body, code, err)
	}
	return page, nil
}

// applyOption opens an option preview and posts its form.
func (s *server) applyOption(ctx context.Context, preview string) error {
	code, page, err := s.get(ctx, preview)
	if err != nil || code != http.StatusOK {
		return fmt.Errorf("GET %s: %d %v: %s", preview, code, err, formError(page))
	}
	form := url.Values{"csrf": {s.csrf}}
	for _, f := range []string{"key", "value", "table"} {
		form.Set(f, hiddenField(regexp.MustCompile(`name="`+f+`"\s+value="([^"]*)"`), page))
	}
	path, _, _ := strings.Cut(preview, "?")
	code, body, err := s.do(ctx, http.MethodPost, path, form, reqTimeout)
	if err != nil || code != http.StatusSeeOther {
		return fmt.Errorf("POST %s: %d %v: %s", path, code, err, formError(body))
	}
	return nil
}

// fetched runs EXPLAIN ANALYZE of query and returns the rows its foreign
// scan brought over the network (returned plus removed by a local filter,
// all loops).
func fetched(ctx context.Context, c *pgx.Conn, query string) (float64, error) {
	var raw []byte
	if err := c.QueryRow(ctx, "EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) "+query).Scan(&raw); err != nil {
		return 0, err
	}
	type node struct {
		Type    string  `json:"Node Type"`
		Rows    float64 `json:"Actual Rows"`
		Loops   float64 `json:"Actual Loops"`
		Removed float64 `json:"Rows Removed by Filter"`
		Plans   []*node `json:"Plans"`
	}
	var out []struct{ Plan *node }
	if err := json.Unmarshal(raw, &out); err != nil || len(out) != 1 {
		return 0, fmt.Errorf("read plan: %v", err)
	}
	var sum float64
	var walk func(n *node)
	walk = func(n *node) {
		if n.Type == "Foreign Scan" {
			sum += (n.Rows + n.Removed) * max(n.Loops, 1)
		}
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(out[0].Plan)
	return sum, nil
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
