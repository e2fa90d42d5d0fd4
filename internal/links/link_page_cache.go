package links

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
	"golang.org/x/sync/singleflight"
)

// What a link page reads that grows with the link: the exact count of its
// foreign tables and its comparison with the remote (every table and
// column on both sides). For a link of up to LargeLinkTables foreign
// tables both are read on every view. For a larger one, a view counts only
// up to LargeLinkTables+1 and uses a count remembered for up to
// TableCountMaxAge, and shows the last comparison (made in the background,
// at most DriftMaxAge old when a view starts a new one); the page says how
// old both are. Whatever pglinks changes in a database (create, refresh,
// repair, destroy) forgets what was remembered for it, and the remembered
// entries are keyed by the link's record and server and schema oids, so a
// link dropped and made again by hand never inherits them.

const (
	// LargeLinkTables is the size from which a link page remembers the
	// link's table count and compares it with its remote in the background.
	LargeLinkTables = 500
	// TableCountMaxAge is how long a large link's table count is used.
	TableCountMaxAge = 30 * time.Second
	// DriftMaxAge is how old a large link's comparison may be before a view
	// of its page starts a new one (the old one is shown meanwhile).
	DriftMaxAge = 5 * time.Minute
)

// pageKey names one link in one local database, as pglinks recorded it.
type pageKey struct {
	local, name, id      string
	serverOID, schemaOID uint32
}

func pageKeyOf(l *Link) pageKey {
	return pageKey{local: l.LocalConfigVar, name: l.Name, id: l.record.ID, serverOID: l.record.ServerOID, schemaOID: l.record.SchemaOID}
}

type rememberedCount struct {
	n  int
	at time.Time
}

// linkPages holds what link pages remember of large links.
type linkPages struct {
	mu     sync.Mutex
	counts map[pageKey]rememberedCount
	drifts map[pageKey]*Drift
	// gen counts forgets per local database: what was read before a
	// forget is not kept after it.
	gen    map[string]uint64
	flight singleflight.Group

	// Background comparisons run under ctx; stop cancels and waits for
	// them (Service.Close, before the pools close).
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// goBackground runs fn in a goroutine under the background context.
func (p *linkPages) goBackground(fn func(ctx context.Context)) {
	p.mu.Lock()
	if p.ctx == nil {
		p.ctx, p.cancel = context.WithCancel(context.Background())
	}
	ctx := p.ctx
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		fn(ctx)
	}()
}

// stop cancels the background comparisons and waits for them to end.
func (p *linkPages) stop() {
	p.mu.Lock()
	if p.cancel != nil {
		p.cancel()
	}
	p.ctx, p.cancel = nil, nil
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *linkPages) generation(localVar string) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gen[localVar]
}

// forget drops what is remembered of the links of one local database.
func (p *linkPages) forget(localVar string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen == nil {
		p.gen = map[string]uint64{}
	}
	p.gen[localVar]++
	for k := range p.counts {
		if k.local == localVar {
			delete(p.counts, k)
		}
	}
	for k := range p.drifts {
		if k.local == localVar {
			delete(p.drifts, k)
		}
	}
}

func (p *linkPages) count(k pageKey, now time.Time) (rememberedCount, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.counts[k]
	if !ok || now.Sub(c.at) > TableCountMaxAge || now.Before(c.at) {
		return rememberedCount{}, false
	}
	return c, true
}

func (p *linkPages) keepCount(k pageKey, c rememberedCount, gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen[k.local] != gen {
		return
	}
	if p.counts == nil {
		p.counts = map[pageKey]rememberedCount{}
	}
	p.counts[k] = c
}

func (p *linkPages) drift(k pageKey) *Drift {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.drifts[k]
}

func (p *linkPages) keepDrift(k pageKey, d *Drift, gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen[k.local] != gen {
		return
	}
	if p.drifts == nil {
		p.drifts = map[pageKey]*Drift{}
	}
	p.drifts[k] = d
}

// largeCountLimit is what a link page counts up to.
var largeCountLimit = LargeLinkTables + 1

// countLargeLink sets the exact TableCount of l, read with its count
// bounded at largeCountLimit: a remembered count when there is a young
// enough one, else a count made now (and remembered).
func (s *Service) countLargeLink(ctx context.Context, q rowQuerier, l *Link) error {
	if l.TableCount <= LargeLinkTables {
		return nil // exact: below the bound
	}
	k := pageKeyOf(l)
	now := time.Now()
	if c, ok := s.pages.count(k, now); ok && c.n > LargeLinkTables {
		l.TableCount, l.TableCountAsOf = c.n, c.at
		return nil
	}
	gen := s.pages.generation(k.local)
	// As links.sql counts: the server's tables in the schema named after
	// it (readLinks matched the server to the record's oid).
	var n int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
		WHERE ft.ftserver = $1 AND c.relnamespace = to_regnamespace($2)`, l.record.ServerOID, fleet.Ident(l.Name)).Scan(&n); err != nil {
		return fmt.Errorf("links: count tables of %s: %w", l.Name, err)
	}
	l.TableCount, l.TableCountAsOf = n, time.Time{}
	s.pages.keepCount(k, rememberedCount{n: n, at: now}, gen)
	return nil
}

// PageDrift is the Drift section of a link page. A link of up to
// LargeLinkTables foreign tables, or any link when now is set, is compared
// with its remote now. A larger one shows its last comparison (Remembered),
// or Pending when there is none yet; a view that finds none, or one older
// than DriftMaxAge, starts a new comparison in the background. It never
// fails for the remote's sake (see LinkDrift).
func (s *Service) PageDrift(ctx context.Context, l *Link, now bool) (*Drift, error) {
	local, err := s.database(l.LocalConfigVar, "local")
	if err != nil {
		return nil, err
	}
	if l.TableCount <= LargeLinkTables && !now {
		return s.driftOf(ctx, local, l)
	}
	k := pageKeyOf(l)
	gen := s.pages.generation(k.local)
	if now {
		d, err := s.driftOf(ctx, local, l)
		if err == nil {
			s.pages.keepDrift(k, d, gen)
		}
		return d, err
	}
	last := s.pages.drift(k)
	if last == nil || time.Since(last.CheckedAt) > DriftMaxAge {
		lc := *l
		// Detached from this view, bounded by the Read deadline; one at a time
		// per link however many views start it.
		s.pages.goBackground(func(bg context.Context) {
			s.pages.flight.Do(fmt.Sprintf("%s\x00%s\x00%s", k.local, k.name, k.id), func() (any, error) {
				bctx, cancel := context.WithTimeout(bg, s.Fleet.Deadlines.Read)
				defer cancel()
				d, err := s.driftOf(bctx, local, &lc)
				if err != nil {
					if bg.Err() == nil {
						s.Log.Warn("background drift", "local", k.local, "link", k.name, "err", err)
					}
					return nil, err
				}
				s.pages.keepDrift(k, d, gen)
				return nil, nil
			})
		})
	}
	if last == nil {
		return &Drift{Pending: true}, nil
	}
	d := *last
	d.Remembered = true
	return &d, nil
}
