package bench

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// member is one database of the benchmark fleet.
type member struct {
	ConfigVar string
	Cluster   *pgtest.Cluster
	DB        *pgtest.Database
	URL       string
}

// configVar is the Heroku-style config var of fleet database i (1-based).
func configVar(i int) string { return fmt.Sprintf("HEROKU_POSTGRESQL_DB%03d_URL", i) }

// dbTimeout bounds every setup statement of the harness.
const dbTimeout = 2 * time.Minute

// execURL runs sql on url with a deadline.
func execURL(ctx context.Context, url, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// tune sets server settings that need a restart (max_connections,
// max_locks_per_transaction) and restarts the cluster on its port.
func tune(ctx context.Context, c *pgtest.Cluster, settings map[string]string) error {
	for k, v := range settings {
		if err := execURL(ctx, c.SuperURL("postgres"), fmt.Sprintf("ALTER SYSTEM SET %s = %s", k, v)); err != nil {
			return fmt.Errorf("ALTER SYSTEM SET %s: %w", k, err)
		}
	}
	c.Halt()
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return c.Resume(rctx, 0)
}

// makeMembers creates fleet databases from..to (1-based, inclusive), odd
// numbers on cluster a and even on b, each with postgres_fdw and two small
// tables. The two clusters work in parallel.
func makeMembers(ctx context.Context, a, b *pgtest.Cluster, from, to int) ([]*member, error) {
	out := make([]*member, to-from+1)
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for side, c := range []*pgtest.Cluster{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := from; i <= to; i++ {
				if i%2 != (side+1)%2 {
					continue
				}
				m, err := makeMember(ctx, c, i)
				if err != nil {
					errc <- err
					return
				}
				out[i-from] = m
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return nil, err
	}
	return out, nil
}

func makeMember(ctx context.Context, c *pgtest.Cluster, i int) (*member, error) {
	cctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	name := fmt.Sprintf("db%03d", i)
	d, err := c.CreateDatabase(cctx, name, pgtest.DBOptions{})
	if err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	err = execURL(ctx, d.URL, `CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, created_at timestamptz DEFAULT now());
		CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES customers, amount numeric(12,2));
		INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 20) g;
		INSERT INTO orders SELECT g, 1 + g % 20, g * 1.5 FROM generate_series(1, 50) g`)
	if err != nil {
		return nil, fmt.Errorf("tables in %s: %w", name, err)
	}
	return &member{ConfigVar: configVar(i), Cluster: c, DB: d, URL: d.URL}, nil
}

// fleetEnv is the config vars of members.
func fleetEnv(ms []*member) []string {
	var env []string
	for _, m := range ms {
		env = append(env, m.ConfigVar+"="+m.URL)
	}
	return env
}

// silentListener accepts TCP connections and never answers them.
type silentListener struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	done  chan struct{}
}

func newSilentListener() (*silentListener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &silentListener{ln: ln, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
		}
	}()
	return s, nil
}

func (s *silentListener) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *silentListener) Close() {
	s.ln.Close()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

func deadURL(port int, name string) string {
	return "postgres://" + name + "_owner:secret@127.0.0.1:" + strconv.Itoa(port) + "/" + name + "?sslmode=disable"
}

// card is one database card of an inventory page.
type card struct {
	ConfigVar   string
	Status      string // the status badge's text: "unreachable", "links supported", ...
	Retry       bool   // the back-off line ("pglinks asks again in ...")
	Unreachable bool
}

var (
	sectionRe = regexp.MustCompile(`<section\b[^>]*\bdata-testid="db-([^"]+)"`)
	statusRe  = regexp.MustCompile(`<span\b[^>]*\bdata-testid="status"[^>]*>\s*([^<]*?)\s*</span>`)
)

// parseCards reads the database cards of an inventory page: each card runs
// from its <section ... data-testid="db-VAR"> to the next card.
func parseCards(page []byte) []card {
	idx := sectionRe.FindAllSubmatchIndex(page, -1)
	var out []card
	for i, m := range idx {
		end := len(page)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		body := page[m[1]:end]
		c := card{ConfigVar: htmlUnescape(string(page[m[2]:m[3]]))}
		if s := statusRe.FindSubmatch(body); s != nil {
			c.Status = strings.TrimSpace(string(s[1]))
		}
		c.Unreachable = c.Status == "unreachable"
		c.Retry = strings.Contains(string(body), `data-testid="retry"`)
		out = append(out, c)
	}
	return out
}

// connSampler counts pglinks' connections on the clusters every ~100 ms.
type connSampler struct {
	mu       sync.Mutex
	own, fdw int // peaks: application_name 'pglinks' or 'pglinks:probe' (under the cap), LIKE 'pglinks/%'
	samples  int
	errs     int
	stop     chan struct{}
	done     chan struct{}
}

func startSampler(ctx context.Context, clusters []*pgtest.Cluster) *connSampler {
	s := &connSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		conns := make([]*pgx.Conn, len(clusters))
		defer func() {
			for _, c := range conns {
				if c != nil {
					closeConn(c)
				}
			}
		}()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			own, fdw, ok := 0, 0, true
			for i, cl := range clusters {
				qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				if conns[i] == nil {
					cfg, err := pgx.ParseConfig(cl.SuperURL("postgres"))
					if err == nil {
						cfg.RuntimeParams["application_name"] = "bench-sampler"
						conns[i], err = pgx.ConnectConfig(qctx, cfg)
					}
					if err != nil {
						conns[i] = nil
						ok = false
						cancel()
						continue
					}
				}
				var o, f int
				err := conns[i].QueryRow(qctx, `SELECT count(*) FILTER (WHERE application_name IN ('pglinks', 'pglinks:probe')),
					count(*) FILTER (WHERE application_name LIKE 'pglinks/%') FROM pg_stat_activity`).Scan(&o, &f)
				cancel()
				if err != nil {
					closeConn(conns[i])
					conns[i] = nil
					ok = false
					continue
				}
				own += o
				fdw += f
			}
			s.mu.Lock()
			if ok {
				s.samples++
				s.own, s.fdw = max(s.own, own), max(s.fdw, fdw)
			} else {
				s.errs++
			}
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// finish stops sampling and returns the peaks.
func (s *connSampler) finish() (own, fdw, samples int) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.own, s.fdw, s.samples
}
