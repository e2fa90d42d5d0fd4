package fleet

import (
	"context"
	"slices"
	"sync"
	"time"
)

// The sweep is the background work that keeps every snapshot younger
// than Fleet.SnapshotMaxAge: it reads the database whose snapshot is
// oldest (or due soonest) first, over one status connection per database
// and round for all its domains (a Facet each: the inventory's card, the
// replication state), at most Workers databases at a time. Page views
// never start a read, so they never wait for one and never compete with
// it for the connections the sweep needs.
//
// A database whose last read took longer than SlowAfter (it answers
// slowly, or not at all until its connect timeout; whichever process read
// it) is slow, and so is one never read (it may be): while a database
// known to be quick is due within a slow read's time, those take at most
// half the workers, so however many databases are slow or silent, the
// other half keeps reading the rest on time. A database in back-off is not
// read before its back-off ends.

// Facet is one domain's snapshots as the sweep reads them: a
// *Snapshots[T].
type Facet interface {
	Kind() string
	// dues says, for each of vars, when it is next to be read (see
	// Snapshots.due), under one lock.
	dues(vars []string, refreshAfter, spread time.Duration, out []dueAt)
	sweepRead(ctx context.Context, sess *Session)
}

type dueAt struct {
	at      time.Time
	hard    bool
	took    time.Duration // the last read's
	unknown bool          // never read
}

// Sweeper reads the fleet's databases in the background, oldest first.
type Sweeper struct {
	Fleet  *Fleet
	Facets []Facet
	// Workers bounds the databases read at once (at most the status
	// class's share of the cap; three quarters of it when 0, the rest
	// left to link probes and people's Refresh).
	Workers int
	// SlowAfter marks a database slow when a round of it took longer
	// (DefaultSlowAfter when 0).
	SlowAfter time.Duration
	// Now is the clock (time.Now when nil); tests set it.
	Now func() time.Time
	// Recheck is the longest the sweep sleeps before it looks for due
	// databases again (a second when 0).
	Recheck time.Duration
	// Standby makes this a stand-by sweep, for a process that does not
	// hold the background lease: it reads a database only when its
	// snapshot is Standby later than due (nobody sharing this process's
	// value of its config var keeps it fresh: the lease holder was started
	// with another, during a rolling restart, or died), and one never read
	// only Standby after it started. It looks once per Recheck.
	Standby time.Duration
	// Pause, when set and true, skips the sweep's looks (a stand-by
	// sweep's while this process holds the lease).
	Pause func() bool

	mu  sync.Mutex
	dbs map[string]*sweepDB
	// vars and dues are dispatch's, kept from one look to the next (only
	// Run's goroutine dispatches).
	vars    []string
	dues    [][]dueAt
	stats   SweepStats
	started time.Time
}

// DefaultSlowAfter is when a round of a database makes it slow.
const DefaultSlowAfter = time.Second

// SweepStats is what the sweep did, for /metrics and tests.
type SweepStats struct {
	Rounds    int64 // rounds made (one connection each)
	Running   int   // rounds running now
	SlowNow   int   // of which of slow databases
	Workers   int
	SlowLimit int
	LastRound time.Time // when the last round ended
}

type sweepDB struct {
	running   bool
	lastStart time.Time
}

func (s *Sweeper) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// RefreshAfter is how old a snapshot is when the sweep reads it again at
// the latest: a margin before maxAge (a fifth of it, at least a connect
// and a status read, at most half of it), so the read is done before the
// snapshot passes maxAge. Each snapshot is due up to half the margin
// earlier than that (fixed per read), so databases read in one burst (all
// of them, at start) spread over time.
func RefreshAfter(maxAge time.Duration, dl Deadlines) time.Duration {
	margin := min(max(maxAge/5, dl.Connect+dl.Status), maxAge/2)
	return maxAge - margin
}

// Stats is a copy of what the sweep did so far.
func (s *Sweeper) Stats() SweepStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Run sweeps until ctx ends, then waits for the rounds running (each
// bounded by the Status deadline per facet).
func (s *Sweeper) Run(ctx context.Context) {
	want := s.Workers
	if want <= 0 {
		n := s.Fleet.statusConns()
		want = n - n/4
	}
	workers := s.Fleet.Workers(ClassStatus, want)
	slowMax := max(1, workers/2)
	s.mu.Lock()
	if s.dbs == nil {
		s.dbs = map[string]*sweepDB{}
	}
	s.stats.Workers, s.stats.SlowLimit = workers, slowMax
	s.mu.Unlock()
	recheck := s.Recheck
	if recheck <= 0 {
		recheck = time.Second
	}
	// Databases due within a tick are read together: at 1,000 databases
	// one is due every few milliseconds, and looking at them all that
	// often would cost more than reading them.
	tick := min(sweepTick, recheck)
	if s.Standby > 0 {
		tick = recheck // it has time: what it reads is overdue already
	}
	s.started = s.now()
	done := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	pending := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			if !pending {
				continue // nothing waits for the worker that finished
			}
		case <-timer.C:
		}
		if s.Pause != nil && s.Pause() {
			pending = false
			timer.Reset(recheck)
			continue
		}
		var wait time.Duration
		wait, pending = s.dispatch(ctx, &wg, workers, slowMax, tick, done)
		timer.Reset(max(min(wait, recheck), tick))
	}
}

// sweepTick is how far ahead the sweep reads what is due.
const sweepTick = 50 * time.Millisecond

type sweepCand struct {
	d      *Database
	due    time.Time
	slow   bool // slow, or never read (known false)
	known  bool
	facets []Facet
}

// dispatch starts the rounds that are due (within tick), oldest first,
// within the worker and slow limits; it says how long until the next is
// due, and whether some due ones wait for a worker.
func (s *Sweeper) dispatch(ctx context.Context, wg *sync.WaitGroup, workers, slowMax int, tick time.Duration, done chan struct{}) (time.Duration, bool) {
	started := s.now()
	now := started.Add(tick)
	refreshAfter := RefreshAfter(s.Fleet.SnapshotMaxAge, s.Fleet.Deadlines)
	spread := (s.Fleet.SnapshotMaxAge - refreshAfter) / 2
	dbs := s.Fleet.Databases
	s.vars = s.vars[:0]
	for _, d := range dbs {
		s.vars = append(s.vars, d.ConfigVar)
	}
	if len(s.dues) != len(s.Facets) {
		s.dues = make([][]dueAt, len(s.Facets))
	}
	dues := s.dues
	for j := range dues {
		dues[j] = slices.Grow(dues[j][:0], len(dbs))[:len(dbs)]
	}
	for j, f := range s.Facets {
		f.dues(s.vars, refreshAfter, spread, dues[j])
	}
	outages := s.Fleet.outagesNow()
	s.mu.Lock()
	defer s.mu.Unlock()
	var cands []sweepCand
	next := time.Duration(1<<62 - 1)
	quickDue := now.Add(time.Duration(1<<62 - 1)) // the soonest a quick database is due
	for i, d := range dbs {
		if d.ConfigErr != nil {
			continue
		}
		st := s.dbs[d.ConfigVar]
		if st == nil {
			st = &sweepDB{}
			s.dbs[d.ConfigVar] = st
		}
		if st.running {
			continue
		}
		c := sweepCand{d: d, slow: true}
		// when is facet j's due time for database i, as the sweep sees it.
		when := func(j int) (time.Time, bool) {
			at, hard := dues[j][i].at, dues[j][i].hard
			switch {
			case s.Standby <= 0 || hard:
			case dues[j][i].unknown:
				at = s.started.Add(s.Standby)
			default:
				at = at.Add(s.Standby)
			}
			if !st.lastStart.IsZero() && !at.After(st.lastStart) {
				// The last round kept nothing new (pglinks was busy, or
				// its records could not be read): not again at once.
				at, hard = st.lastStart.Add(backoffMin), true
			}
			return at, hard
		}
		for j := range s.Facets {
			if j == 0 {
				c.slow = false
			}
			c.slow = c.slow || dues[j][i].took > s.slowAfter()
			if !dues[j][i].unknown {
				c.known = true
			}
			if at, _ := when(j); j == 0 || at.Before(c.due) {
				c.due = at
			}
		}
		if o, down := outages[d.ConfigVar]; down && now.Before(o.RetryAt) {
			// Every domain waits out the fleet's back-off.
			c.due = o.RetryAt
		}
		c.slow = c.slow || !c.known
		if !c.slow && c.due.Before(quickDue) {
			quickDue = c.due
		}
		if c.due.After(now) {
			next = min(next, c.due.Sub(now))
			continue
		}
		// Facets read together share the round's connection: one due soon
		// (not in back-off) is read now too.
		for j, f := range s.Facets {
			if at, hard := when(j); !at.After(now) || !hard && at.Before(now.Add(refreshAfter/2)) {
				c.facets = append(c.facets, f)
			}
		}
		if len(c.facets) == 0 {
			next = min(next, c.due.Sub(now))
			continue
		}
		cands = append(cands, c)
	}
	slices.SortStableFunc(cands, func(a, b sweepCand) int { return a.due.Compare(b.due) })
	// Slow (and never read) databases keep to their half whenever a quick
	// one is due before a slow read could end (a connect and a status
	// read); otherwise, as at a first start when none is known, they may
	// have every worker.
	slowLimit := workers
	if quickDue.Before(now.Add(s.Fleet.Deadlines.Connect + s.Fleet.Deadlines.Status)) {
		slowLimit = slowMax
	}
	pending := false
	for _, c := range cands {
		if s.stats.Running >= workers {
			pending = true
			break
		}
		if c.slow && s.stats.SlowNow >= slowLimit {
			pending = true
			continue // the quick ones behind it go first
		}
		st := s.dbs[c.d.ConfigVar]
		st.running, st.lastStart = true, started
		s.stats.Running++
		if c.slow {
			s.stats.SlowNow++
		}
		wg.Go(func() {
			s.round(ctx, c)
			select {
			case done <- struct{}{}:
			default:
			}
		})
	}
	return max(next, 0), pending
}

// round reads c's due facets over one session.
func (s *Sweeper) round(ctx context.Context, c sweepCand) {
	// A round that started finishes (each read has its deadline) even
	// when the sweep is stopped: a cancelled read would look like a
	// database that did not answer.
	rctx := context.WithoutCancel(ctx)
	sess := s.Fleet.NewSession(c.d)
	for _, f := range c.facets {
		f.sweepRead(rctx, sess)
	}
	sess.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.dbs[c.d.ConfigVar]
	st.running = false
	s.stats.Running--
	if c.slow {
		s.stats.SlowNow--
	}
	s.stats.Rounds++
	s.stats.LastRound = s.now()
}

func (s *Sweeper) slowAfter() time.Duration {
	if s.SlowAfter > 0 {
		return s.SlowAfter
	}
	return DefaultSlowAfter
}
