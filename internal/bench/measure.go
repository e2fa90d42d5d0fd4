package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pglinks/pglinks/internal/links"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// target is one thing measured: fn does request i, returns how long the
// measured part took, and says whether the answer was right (checks of
// the answer run after the clock stopped).
type target struct {
	name string
	fn   func(ctx context.Context, i int) (time.Duration, error)
}

// timed measures all of f.
func timed(f func(ctx context.Context, i int) error) func(ctx context.Context, i int) (time.Duration, error) {
	return func(ctx context.Context, i int) (time.Duration, error) {
		t0 := time.Now()
		err := f(ctx, i)
		return time.Since(t0), err
	}
}

// errorLog keeps the first wrong answers of a run.
type errorLog struct {
	mu   sync.Mutex
	msgs map[string]int
}

func (l *errorLog) add(name string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.msgs == nil {
		l.msgs = map[string]int{}
	}
	l.msgs[name+": "+err.Error()]++
}

// batch runs n requests of t at concurrency conc (n split over conc
// goroutines) and returns their latencies and wall time.
func batch(ctx context.Context, t target, conc, n int, seq *atomic.Int64, errs *errorLog) *Sample {
	s := &Sample{Name: t.name}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < conc; g++ {
		share := n / conc
		if g < n%conc {
			share++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, share)
			bad := 0
			for k := 0; k < share && ctx.Err() == nil; k++ {
				i := int(seq.Add(1))
				d, err := t.fn(ctx, i)
				if err != nil {
					if ctx.Err() != nil {
						break // interrupted: not a wrong answer
					}
					bad++
					errs.add(t.name, err)
					continue
				}
				lat = append(lat, d)
			}
			mu.Lock()
			s.Latencies = append(s.Latencies, lat...)
			s.Errors += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	s.Wall = time.Since(start)
	return s
}

// rounds runs every target in turn (interleaved), rounds times, and
// collects each target's latencies across rounds.
func rounds(ctx context.Context, rounds, conc, n int, targets []target, errs *errorLog) map[string]*Sample {
	out := map[string]*Sample{}
	var seq atomic.Int64
	for r := 0; r < rounds && ctx.Err() == nil; r++ {
		for _, t := range targets {
			s := batch(ctx, t, conc, n, &seq, errs)
			if out[t.name] == nil {
				out[t.name] = &Sample{Name: t.name}
			}
			out[t.name].add(s)
		}
	}
	return out
}

// page is a target GETting path(i), status 200 required; check (optional)
// looks at the body after the clock stopped.
func page(s *server, name string, path func(i int) string, check func(body []byte) error) target {
	return target{name: name, fn: func(ctx context.Context, i int) (time.Duration, error) {
		p := path(i)
		t0 := time.Now()
		code, body, err := s.get(ctx, p)
		d := time.Since(t0)
		if err != nil {
			return d, fmt.Errorf("GET %s: %w", p, err)
		}
		if code != http.StatusOK {
			return d, fmt.Errorf("GET %s: status %d", p, code)
		}
		if check != nil {
			return d, check(body)
		}
		return d, nil
	}}
}

// gzipPage is page as a browser asks for it: Accept-Encoding gzip, the
// answer read as sent, not inflated (inflating is the browser's work, not
// the server's); status 200 required.
func gzipPage(s *server, name string, path func(i int) string) target {
	return target{name: name, fn: func(ctx context.Context, i int) (time.Duration, error) {
		p := path(i)
		t0 := time.Now()
		code, err := s.getGzip(ctx, p)
		d := time.Since(t0)
		if err != nil {
			return d, fmt.Errorf("GET %s (gzip): %w", p, err)
		}
		if code != http.StatusOK {
			return d, fmt.Errorf("GET %s (gzip): status %d", p, code)
		}
		return d, nil
	}}
}

func fixed(p string) func(int) string { return func(int) string { return p } }

// inventorySQL is the one catalog statement pglinks runs to read a
// database's inventory card (internal/links/sql/status.sql): role,
// postgres_fdw, CREATE privilege, server version, and the foreign servers
// pglinks made with their table counts and options.
var inventorySQL = links.CatalogSQL("status")

// catalogFloor opens a pool per database (as its owner, the role pglinks
// uses) and returns a target running inventorySQL over every database in
// sequence.
func catalogFloor(ctx context.Context, name string, urls []string, conns int32) (target, func(), error) {
	pools := make([]*pgxpool.Pool, 0, len(urls))
	closeAll := func() {
		for _, p := range pools {
			p.Close()
		}
	}
	for _, u := range urls {
		cfg, err := pgxpool.ParseConfig(u)
		if err != nil {
			closeAll()
			return target{}, nil, err
		}
		cfg.MaxConns = conns
		cfg.ConnConfig.RuntimeParams["application_name"] = "bench-floor"
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
		p, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			closeAll()
			return target{}, nil, err
		}
		pools = append(pools, p)
	}
	t := target{name: name, fn: timed(func(ctx context.Context, i int) error {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for _, p := range pools {
			rows, err := p.Query(ctx, inventorySQL)
			if err != nil {
				return fmt.Errorf("catalog statement: %w", err)
			}
			for rows.Next() {
				if _, err := rows.Values(); err != nil {
					rows.Close()
					return fmt.Errorf("catalog statement: %w", err)
				}
			}
			if rows.Close(); rows.Err() != nil {
				return fmt.Errorf("catalog statement: %w", rows.Err())
			}
		}
		return nil
	})}
	return t, closeAll, nil
}

func queryString(ctx context.Context, url, sql string, args ...any) (string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var s string
	err = conn.QueryRow(ctx, sql, args...).Scan(&s)
	return s, err
}
