package fleet

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Pages are served from a snapshot of each database's state (the
// inventory's cards are links' reads of it, the replication warnings
// replication's). The lease holder's Sweeper reads every database in the
// background, oldest snapshot first, so that none is older than
// Fleet.SnapshotMaxAge; a page view never reads a database itself (with
// SnapshotMaxAge 0 it does: every view reads every database). A database
// that failed is not asked again before its back-off ends (5 s, doubling
// up to 2 min): until then its snapshot shows the failure, since when, and
// when the next try is. Kept snapshots are published to the state
// database (Shared), and every process applies what the others kept, so
// all of them show the same snapshots with the same ages.

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

// A Reader reads one database over s, within ctx.
type Reader[T any] func(ctx context.Context, s *Session) Read[T]

// Snapshot is one database's last read as pages show it.
type Snapshot[T any] struct {
	Val T
	// AsOf is when the read started: what it found is at least this
	// recent. Took is how long it took (the sweep reads a database that
	// is slow to answer, or not to answer, in its slow lane).
	AsOf time.Time
	Took time.Duration
	// FailingSince is set while the database's reads fail (Down says why,
	// Cause classifies it), and RetryAt when it is backed off: when it is
	// asked again.
	FailingSince, RetryAt time.Time
	Down                  string
	Cause                 Cause
	// Pending is set when nothing is known of the database yet: it was
	// not read since pglinks started, its read did not finish in time for
	// this page, or waited for pglinks' own connections (the cap) rather
	// than for the database. Why says which; it is not the same as
	// unreachable.
	Pending bool
	Why     string
}

// NotReadYet is what a page says of a database no process has read yet.
const NotReadYet = "Not read yet: pglinks reads every database in the background, the oldest first, and has not reached this one since it started."

// Snapshots keeps the last read of every fleet database for one domain.
// Reads of one database are shared by everyone asking at once, and
// finish (and are kept) even when every caller stopped waiting.
type Snapshots[T any] struct {
	fleet *Fleet
	kind  string
	// load prepares reads of configVar ("" for all): it returns the reader
	// and, when what the reads are checked against could not be had, why;
	// page views still read (the reader says what failed), background
	// reads skip the round.
	load func(ctx context.Context, configVar string) (Reader[T], error)
	// outages: this domain's failures are the fleet's (Fleet.Outage), so
	// every domain honours them. Only the inventory's cards set it.
	outages bool

	// Now is the clock (time.Now when nil); tests set it.
	Now func() time.Time

	mu        sync.Mutex
	m         map[string]Snapshot[T]
	failures  map[string]int       // consecutive failed reads, for the back-off
	forgotten map[string]time.Time // Forget: reads started before are not kept
	gen       map[string]int       // Forget: later reads never join earlier ones
	version   atomic.Uint64
	urgent    atomic.Uint64 // a person's Refresh, pglinks' own change
	flight    singleflight.Group
	publish   func(configVar string, sn Snapshot[T])
}

// SnapshotOptions name a domain's snapshots.
type SnapshotOptions struct {
	// Kind names them in the state database and in logs ("card",
	// "replication").
	Kind string
	// FleetOutages makes this domain's failed reads the fleet's outages,
	// which every domain honours (the inventory's cards).
	FleetOutages bool
}

// NewSnapshots keeps snapshots of f's databases read through load.
func NewSnapshots[T any](f *Fleet, opts SnapshotOptions, load func(ctx context.Context, configVar string) (Reader[T], error)) *Snapshots[T] {
	return &Snapshots[T]{
		fleet: f, kind: opts.Kind, outages: opts.FleetOutages, load: load,
		m: map[string]Snapshot[T]{}, failures: map[string]int{}, forgotten: map[string]time.Time{}, gen: map[string]int{},
	}
}

// Kind names the snapshots.
func (s *Snapshots[T]) Kind() string { return s.kind }

func (s *Snapshots[T]) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Version changes whenever a snapshot is kept, applied or forgotten:
// what is built from them all can be kept until it changes.
func (s *Snapshots[T]) Version() uint64 { return s.version.Load() }

// Urgent changes when a person's Refresh read a database or pglinks
// changed one (Forget): what is built from the snapshots must show it at
// once, while what the background read may wait a moment (see
// RebuildEvery).
func (s *Snapshots[T]) Urgent() uint64 { return s.urgent.Load() }

// RebuildEvery bounds how often what is built from every snapshot (the
// inventory, the replication warnings) is built again for the background
// reads alone: at 1,000 databases they change a hundred times a second.
const RebuildEvery = 200 * time.Millisecond

// Outdated reports whether something built from the snapshots at
// version, urgent and time built must be built again at now.
func (s *Snapshots[T]) Outdated(version, urgent uint64, built, now time.Time) bool {
	if s.urgent.Load() != urgent {
		return true
	}
	return s.version.Load() != version && now.Sub(built) >= RebuildEvery
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
// it: a read that started before is neither joined nor kept, nor is an
// older snapshot from another process.
func (s *Snapshots[T]) Forget(configVar string) {
	s.mu.Lock()
	delete(s.m, configVar)
	delete(s.failures, configVar)
	s.forgotten[configVar] = s.now()
	s.gen[configVar]++
	s.mu.Unlock()
	s.version.Add(1)
	s.urgent.Add(1)
	if s.outages {
		s.fleet.answered(configVar)
	}
}

// All is every fleet database's snapshot for a page view, in fleet order,
// as it is: a database not read yet is Pending (NotReadYet), and no page
// view waits for any database. With SnapshotMaxAge 0 every database is
// read now instead (but one in back-off), each bounded by the Status
// deadline and all by ctx.
// A misconfigured database has a zero snapshot: its domain says why.
func (s *Snapshots[T]) All(ctx context.Context) []Snapshot[T] {
	dbs := s.fleet.Databases
	out := make([]Snapshot[T], len(dbs))
	if s.fleet.SnapshotMaxAge <= 0 {
		read, _ := s.load(ctx, "") // the reader says what could not be had
		now := s.now()
		var wg sync.WaitGroup
		for i, d := range dbs {
			if d.ConfigErr != nil {
				continue
			}
			if sn, ok := s.Get(d.ConfigVar); ok && now.Before(sn.RetryAt) {
				out[i] = sn // failing: wait for the back-off
				continue
			}
			wg.Go(func() { out[i] = s.Read(ctx, d, read) })
		}
		wg.Wait()
		return out
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, d := range dbs {
		if sn, ok := s.m[d.ConfigVar]; ok {
			out[i] = sn
		} else if d.ConfigErr == nil {
			out[i] = Snapshot[T]{Pending: true, Why: NotReadYet}
		}
	}
	return out
}

// Refresh reads d now, whatever its snapshot or back-off.
func (s *Snapshots[T]) Refresh(ctx context.Context, d *Database) Snapshot[T] {
	read, _ := s.load(ctx, d.ConfigVar)
	sn := s.Read(ctx, d, read)
	s.urgent.Add(1)
	return sn
}

// Read reads d with read over a session of its own and keeps the read as
// its snapshot. Concurrent reads of the same database (people pressing
// Refresh, the background sweep) share one read, which finishes and is
// kept even when every caller stopped waiting; a caller whose ctx ends
// first gets a Pending snapshot.
func (s *Snapshots[T]) Read(ctx context.Context, d *Database, read Reader[T]) Snapshot[T] {
	if d.ConfigErr != nil {
		return Snapshot[T]{}
	}
	ch := s.flight.DoChan(s.flightKey(d.ConfigVar), func() (any, error) {
		sess := s.fleet.NewSession(d)
		defer sess.Close()
		// Detached from any one caller, so a caller that leaves does not
		// fail the read for the others.
		return s.readOn(context.WithoutCancel(ctx), sess, read), nil
	})
	select {
	case r := <-ch:
		return r.Val.(Snapshot[T])
	case <-ctx.Done():
		// The read goes on and keeps its snapshot for the next view.
		return Snapshot[T]{Pending: true, Why: "pglinks is still reading this database; reload in a moment.", AsOf: s.now()}
	}
}

func (s *Snapshots[T]) flightKey(configVar string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return configVar + "\x00" + strconv.Itoa(s.gen[configVar])
}

// readOn reads over sess, bounded by the Status deadline, and keeps it.
func (s *Snapshots[T]) readOn(ctx context.Context, sess *Session, read Reader[T]) Snapshot[T] {
	rctx, cancel := context.WithTimeout(ctx, s.fleet.Deadlines.Status)
	defer cancel()
	// As the state database keeps it (microseconds), so every process
	// shows the same age.
	start := s.now().Truncate(time.Microsecond)
	began := time.Now()
	r := read(rctx, sess)
	return s.keep(sess.D, start, time.Since(began), r)
}

// keep stores r, a read of d that started at start, as d's snapshot and
// returns it. A read that says nothing of d itself is not kept: one that
// found pglinks' connections all in use serves what is known of d instead
// (or says d is not read yet), and a read marked Once is shown once. A
// read older than the snapshot kept (or than a Forget) is not kept either.
func (s *Snapshots[T]) keep(d *Database, start time.Time, took time.Duration, r Read[T]) Snapshot[T] {
	if r.Busy != "" {
		if sn, ok := s.Get(d.ConfigVar); ok {
			return sn
		}
		return Snapshot[T]{Pending: true, Why: "Not read yet: " + r.Busy, AsOf: start}
	}
	sn := Snapshot[T]{Val: r.Val, AsOf: start, Took: took}
	if r.Once {
		return sn
	}
	s.mu.Lock()
	if cur, ok := s.m[d.ConfigVar]; ok && cur.AsOf.After(start) || start.Before(s.forgotten[d.ConfigVar]) {
		s.mu.Unlock()
		return sn
	}
	if r.Down != "" {
		sn.Down, sn.Cause = r.Down, r.Cause
		sn.FailingSince = start
		if cur, ok := s.m[d.ConfigVar]; ok && !cur.FailingSince.IsZero() && cur.Cause == r.Cause {
			sn.FailingSince = cur.FailingSince // the same failure again
		} else {
			s.failures[d.ConfigVar] = 0
		}
		// Only a cause that asking again can help is backed off ("" counts
		// as one): a refused password is read as often as any database.
		if r.Cause == "" || r.Cause.Retried() {
			n := s.failures[d.ConfigVar] + 1
			s.failures[d.ConfigVar] = n
			sn.RetryAt = start.Add(backoff(n))
		}
	} else {
		delete(s.failures, d.ConfigVar)
	}
	s.m[d.ConfigVar] = sn
	publish := s.publish
	s.mu.Unlock()
	s.version.Add(1)
	s.noteOutage(d.ConfigVar, sn)
	if publish != nil {
		publish(d.ConfigVar, sn)
	}
	return sn
}

// noteOutage tells the fleet of a card's failure or answer.
func (s *Snapshots[T]) noteOutage(configVar string, sn Snapshot[T]) {
	if !s.outages {
		return
	}
	if sn.Down == "" {
		s.fleet.answered(configVar)
		return
	}
	s.fleet.setOutage(configVar, Outage{Since: sn.FailingSince, RetryAt: sn.RetryAt, Reason: sn.Down, Cause: sn.Cause})
}

// Apply keeps sn, a snapshot another process kept (or this one, read back
// from the state database), unless a newer one is kept here already.
func (s *Snapshots[T]) Apply(configVar string, sn Snapshot[T]) {
	s.mu.Lock()
	if cur, ok := s.m[configVar]; ok && !sn.AsOf.After(cur.AsOf) || sn.AsOf.Before(s.forgotten[configVar]) {
		s.mu.Unlock()
		return
	}
	s.m[configVar] = sn
	s.mu.Unlock()
	s.version.Add(1)
	s.noteOutage(configVar, sn)
}

// dues says when each of vars is next to be read by the sweep: at once
// when it was never read, when its back-off ends (hard: not before), or
// refreshAfter after it was read, less up to spread (the same for a
// snapshot every time: databases read together are not all due together
// again); and how long its last read took.
func (s *Snapshots[T]) dues(vars []string, refreshAfter, spread time.Duration, out []dueAt) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, v := range vars {
		sn, ok := s.m[v]
		switch {
		case !ok:
			out[i] = dueAt{unknown: true}
		case !sn.RetryAt.IsZero():
			out[i] = dueAt{at: sn.RetryAt, hard: true, took: sn.Took}
		default:
			out[i] = dueAt{at: sn.AsOf.Add(refreshAfter - jitter(v, sn.AsOf, spread)), took: sn.Took}
		}
	}
}

// jitter is a duration in [0, spread) fixed by a database and the time of
// its read: FNV-1a of the config var and the read's UnixNano (little
// endian), written out because the sweep asks it of every database on
// every look and hash/fnv allocates.
func jitter(configVar string, asOf time.Time, spread time.Duration) time.Duration {
	if spread <= 0 {
		return 0
	}
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	for i := range len(configVar) {
		h = (h ^ uint64(configVar[i])) * prime64
	}
	n := uint64(asOf.UnixNano())
	for range 8 {
		h = (h ^ (n & 0xff)) * prime64
		n >>= 8
	}
	return time.Duration(h % uint64(spread))
}

// sweepRead is the sweep's read of d over its round's session. A round
// whose reader could not be prepared (pglinks' records unavailable) is
// skipped: it would show nothing true.
func (s *Snapshots[T]) sweepRead(ctx context.Context, sess *Session) {
	read, err := s.load(ctx, sess.D.ConfigVar)
	if err != nil {
		s.fleet.log().Warn("background read", "kind", s.kind, "database", sess.D.ConfigVar, "err", err)
		return
	}
	// Shares a read already running (a person's Refresh); waits for it
	// either way, since the session is closed after the round.
	s.flight.Do(s.flightKey(sess.D.ConfigVar), func() (any, error) {
		return s.readOn(ctx, sess, read), nil
	})
}

// Publish sets where kept snapshots are sent (the state database, for
// every process): called with each snapshot this process keeps.
func (s *Snapshots[T]) Publish(fn func(configVar string, sn Snapshot[T])) {
	s.mu.Lock()
	s.publish = fn
	s.mu.Unlock()
}

// Oldest is the age of the oldest snapshot at now, over the databases
// that can be read, and how many were never read: a database never read
// counts as old as since, the start of whoever asks (a process's start).
func (s *Snapshots[T]) Oldest(now, since time.Time) (age time.Duration, unread int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.fleet.Databases {
		if d.ConfigErr != nil {
			continue
		}
		sn, ok := s.m[d.ConfigVar]
		at := sn.AsOf
		if !ok {
			unread++
			at = since
		}
		age = max(age, now.Sub(at))
	}
	return age, unread
}
