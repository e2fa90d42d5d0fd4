package fleet

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Pages are served from a snapshot of each database's state (the
// inventory's cards are links' reads of it). A snapshot younger than
// Fleet.SnapshotMaxAge is used as it is; Run refreshes them in the
// background so page views rarely wait for a database. A database that
// failed is not asked again before its back-off ends (5 s, doubling up to
// 2 min): until then its snapshot shows the failure, since when, and when
// the next try is, and no page view pays its timeout.

// DefaultSnapshotMaxAge is how old a snapshot may be in production.
const DefaultSnapshotMaxAge = 30 * time.Second

// A Read is what a domain's reader found in one database.
type Read[T any] struct {
	Val T
	// Down says why the database did not answer ("" when it did): the read
	// is kept and, when asking again can help (Cause.Retried; "" counts as
	// such), the database backed off.
	Down  string
	Cause Cause
	// Busy says why pglinks could not ask (its own connections were all in
	// use): the read says nothing of the database and is not kept.
	Busy string
	// Once marks a read shown once and not kept: what it was checked
	// against could not be read.
	Once bool
}

// A Reader reads one database, within ctx.
type Reader[T any] func(ctx context.Context, d *Database) Read[T]

// Snapshot is one database's last read as pages show it.
type Snapshot[T any] struct {
	Val T
	// AsOf is when it was read.
	AsOf time.Time
	// FailingSince is set while the database's reads fail, and RetryAt
	// when it is backed off: when it is asked again.
	FailingSince, RetryAt time.Time
	// Pending is set when nothing is known of the database yet: its read
	// did not finish in time for this page, or waited for pglinks' own
	// connections (the cap) rather than for the database. Why says which;
	// it is not the same as unreachable.
	Pending bool
	Why     string
}

// Snapshots keeps the last read of every fleet database for one domain.
// Reads of one database are shared by everyone asking at once, and
// finish (and are kept) even when every caller stopped waiting.
type Snapshots[T any] struct {
	fleet *Fleet
	// load prepares reads of configVar ("" for all): it returns the reader
	// and, when what the reads are checked against could not be had, why;
	// page views still read (the reader says what failed), background
	// refreshes skip the round.
	load func(ctx context.Context, configVar string) (Reader[T], error)

	mu         sync.Mutex
	m          map[string]Snapshot[T]
	refreshing map[string]bool
	flight     singleflight.Group
}

// NewSnapshots keeps snapshots of f's databases read through load.
func NewSnapshots[T any](f *Fleet, load func(ctx context.Context, configVar string) (Reader[T], error)) *Snapshots[T] {
	return &Snapshots[T]{fleet: f, load: load, m: map[string]Snapshot[T]{}, refreshing: map[string]bool{}}
}

// Get is configVar's last kept read, without asking the database; false
// when it was never read.
func (s *Snapshots[T]) Get(configVar string) (Snapshot[T], bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn, ok := s.m[configVar]
	return sn, ok
}

// Forget drops a database's snapshot and back-off after pglinks changed
// it, so the next page view shows the change.
func (s *Snapshots[T]) Forget(configVar string) {
	s.mu.Lock()
	delete(s.m, configVar)
	s.mu.Unlock()
	s.fleet.answered(configVar)
}

// fresh reports whether a snapshot may be served as it is at now.
func (s *Snapshots[T]) fresh(sn Snapshot[T], now time.Time) bool {
	if !sn.RetryAt.IsZero() && now.Before(sn.RetryAt) {
		return true // failing: wait for the back-off
	}
	maxAge := s.fleet.SnapshotMaxAge
	return maxAge > 0 && now.Sub(sn.AsOf) < maxAge
}

// All is every fleet database's snapshot for a page view, in fleet order.
// A page view never waits for a database it has a snapshot of: a fresh
// one is served as it is, and an older one (or a failure whose back-off
// ended) is served too while it is read again in the background. Only a
// database never read (or every one, when SnapshotMaxAge is 0) is read at
// once, each bounded by the Status deadline and all by ctx.
func (s *Snapshots[T]) All(ctx context.Context) []Snapshot[T] {
	dbs := s.fleet.Databases
	out := make([]Snapshot[T], len(dbs))
	now := time.Now()
	var stale []int
	for i, d := range dbs {
		sn, ok := s.Get(d.ConfigVar)
		switch {
		case ok && s.fresh(sn, now):
			out[i] = sn
		case ok && s.fleet.SnapshotMaxAge > 0:
			out[i] = sn
			s.refreshInBackground(d)
		default:
			stale = append(stale, i)
		}
	}
	if len(stale) == 0 {
		return out
	}
	read, _ := s.load(ctx, "") // the reader says what could not be had
	var wg sync.WaitGroup
	for _, i := range stale {
		wg.Go(func() { out[i] = s.Read(ctx, dbs[i], read) })
	}
	wg.Wait()
	return out
}

// Refresh reads d now, whatever its snapshot or back-off.
func (s *Snapshots[T]) Refresh(ctx context.Context, d *Database) Snapshot[T] {
	read, _ := s.load(ctx, d.ConfigVar)
	return s.Read(ctx, d, read)
}

// Read reads d with read and keeps the read as its snapshot. Concurrent
// reads of the same database (many people loading a page at once, the
// background refresh) share one read, which finishes and is kept even
// when every caller stopped waiting; a caller whose ctx ends first gets a
// Pending snapshot. A misconfigured database is not asked: its reader
// says why at once, and nothing is kept.
func (s *Snapshots[T]) Read(ctx context.Context, d *Database, read Reader[T]) Snapshot[T] {
	if d.ConfigErr != nil {
		return Snapshot[T]{Val: read(ctx, d).Val}
	}
	ch := s.flight.DoChan(d.ConfigVar, func() (any, error) {
		// Detached from any one caller, so a caller that leaves does not
		// fail the read for the others; bounded by the Status deadline.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.fleet.Deadlines.Status)
		defer cancel()
		return s.keep(d, read(rctx, d)), nil
	})
	select {
	case r := <-ch:
		return r.Val.(Snapshot[T])
	case <-ctx.Done():
		// The read goes on and keeps its snapshot for the next view.
		return Snapshot[T]{Pending: true, Why: "pglinks is still reading this database; reload in a moment.", AsOf: time.Now()}
	}
}

// keep stores r, a read of d, as d's snapshot and returns it. A read that
// says nothing of d itself is not kept: one that found pglinks'
// connections all in use serves what is known of d instead (or says d is
// not read yet), and a read marked Once is shown once.
func (s *Snapshots[T]) keep(d *Database, r Read[T]) Snapshot[T] {
	now := time.Now()
	if r.Busy != "" {
		if sn, ok := s.Get(d.ConfigVar); ok {
			return sn
		}
		return Snapshot[T]{Pending: true, Why: "Not read yet: " + r.Busy, AsOf: now}
	}
	sn := Snapshot[T]{Val: r.Val, AsOf: now}
	if r.Once {
		return sn
	}
	if r.Down != "" {
		o := s.fleet.failed(d.ConfigVar, r.Down, r.Cause, now)
		sn.FailingSince, sn.RetryAt = o.Since, o.RetryAt
	} else {
		s.fleet.answered(d.ConfigVar)
	}
	s.mu.Lock()
	s.m[d.ConfigVar] = sn
	s.mu.Unlock()
	return sn
}

// refreshInBackground reads d again without anyone waiting, once at a
// time per database.
func (s *Snapshots[T]) refreshInBackground(d *Database) {
	s.mu.Lock()
	if s.refreshing[d.ConfigVar] {
		s.mu.Unlock()
		return
	}
	s.refreshing[d.ConfigVar] = true
	s.mu.Unlock()
	go func() {
		defer func() {
			s.mu.Lock()
			delete(s.refreshing, d.ConfigVar)
			s.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), s.fleet.Deadlines.Status+time.Second)
		defer cancel()
		read, err := s.load(ctx, d.ConfigVar)
		if err != nil {
			s.fleet.log().Warn("status refresh", "database", d.ConfigVar, "err", err)
			return
		}
		s.Read(ctx, d, read)
	}()
}

// Run refreshes snapshots in the background until ctx ends: every
// interval (SnapshotMaxAge/3 when 0), each database whose snapshot would
// pass SnapshotMaxAge before the next tick (or whose back-off has ended)
// is read, at most workers at a time. Each database is so read about
// once per SnapshotMaxAge, however short the interval. Pools nobody used
// for a while are closed on the same tick.
func (s *Snapshots[T]) Run(ctx context.Context, interval time.Duration, workers int) {
	if interval <= 0 {
		interval = s.fleet.SnapshotMaxAge / 3
	}
	workers = s.fleet.Workers(ClassStatus, workers)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.refreshDue(ctx, interval, workers)
		s.fleet.CloseUnused()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Snapshots[T]) refreshDue(ctx context.Context, interval time.Duration, workers int) {
	now := time.Now()
	due := max(s.fleet.SnapshotMaxAge-interval, interval)
	var read []*Database
	for _, d := range s.fleet.Databases {
		sn, ok := s.Get(d.ConfigVar)
		switch {
		case d.ConfigErr != nil:
		case !ok:
			read = append(read, d)
		case !sn.RetryAt.IsZero():
			if !now.Before(sn.RetryAt) {
				read = append(read, d)
			}
		case now.Sub(sn.AsOf) >= due:
			read = append(read, d)
		}
	}
	if len(read) == 0 {
		return
	}
	reader, err := s.load(ctx, "")
	if err != nil {
		s.fleet.log().Warn("status refresh", "err", err)
		return
	}
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for _, d := range read {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			s.Read(ctx, d, reader)
		})
	}
	wg.Wait()
}
