package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder is a reader that records which database it read, in order,
// and can hold some databases' reads (slow ones) until released.
type recorder struct {
	mu      sync.Mutex
	order   []string
	down    map[string]bool
	hold    map[string]chan struct{}
	delay   map[string]time.Duration
	running map[string]bool
	slowNow int
	slowMax int
}

func newRecorder() *recorder {
	return &recorder{down: map[string]bool{}, hold: map[string]chan struct{}{}, delay: map[string]time.Duration{}, running: map[string]bool{}}
}

func (r *recorder) read(ctx context.Context, sess *Session) Read[string] {
	v := sess.D.ConfigVar
	r.mu.Lock()
	r.order = append(r.order, v)
	hold, delay, down := r.hold[v], r.delay[v], r.down[v]
	if hold != nil || delay > 0 {
		r.slowNow++
		r.slowMax = max(r.slowMax, r.slowNow)
	}
	r.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	if hold != nil {
		<-hold
	}
	r.mu.Lock()
	if hold != nil || delay > 0 {
		r.slowNow--
	}
	r.mu.Unlock()
	if down {
		return Read[string]{Val: "down", Down: "no answer in time"}
	}
	return Read[string]{Val: "up " + v}
}

func (r *recorder) reads() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.order)
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.order = nil
	r.mu.Unlock()
}

// sweepFleet is a fleet of n databases (never connected to: the reader
// does not use its session's connection) with snapshots read by rec.
func sweepFleet(t testing.TB, n int, c *clock) (*Fleet, *Snapshots[string], *recorder) {
	t.Helper()
	env := []string{}
	var names []string
	for i := range n {
		v := fmt.Sprintf("DB%02d", i)
		names = append(names, v)
		env = append(env, v+"=postgres://u:p@127.0.0.1:1/db")
	}
	env = append(env, "PGLINKS_DATABASES="+joinComma(names))
	f, err := Load(env)
	if err != nil {
		t.Fatal(err)
	}
	f.Log = slog.New(slog.DiscardHandler)
	f.SnapshotMaxAge = 30 * time.Second
	rec := newRecorder()
	ss := NewSnapshots(f, SnapshotOptions{Kind: "test"}, func(context.Context, string) (Reader[string], error) { return rec.read, nil })
	ss.Now = c.Now
	return f, ss, rec
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// runSweep runs a sweep over ss until the test ends.
func runSweep(t *testing.T, f *Fleet, ss *Snapshots[string], c *clock, workers int) *Sweeper {
	t.Helper()
	sw := &Sweeper{Fleet: f, Facets: []Facet{ss}, Workers: workers, Now: c.Now, Recheck: 5 * time.Millisecond, SlowAfter: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sw.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return sw
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A page view never reads a database when snapshots have a max age: one
// not read yet is shown as such at once.
func TestSnapshotsPageViewsNeverRead(t *testing.T) {
	c := newClock()
	f, ss, rec := sweepFleet(t, 3, c)
	for _, sn := range ss.All(context.Background()) {
		if !sn.Pending || sn.Why != NotReadYet {
			t.Fatalf("never read: %+v", sn)
		}
	}
	if n := len(rec.reads()); n != 0 {
		t.Fatalf("a page view read %d databases", n)
	}
	age, unread := ss.Oldest(c.Now().Add(7*time.Second), c.Now())
	if age != 7*time.Second || unread != len(f.Databases) {
		t.Fatalf("oldest %v, %d unread", age, unread)
	}
}

// The sweep reads every database once, then each again when its snapshot
// is due (RefreshAfter), the oldest first, and never before.
func TestSweepReadsOldestFirst(t *testing.T) {
	c := newClock()
	f, ss, rec := sweepFleet(t, 5, c)
	// Snapshots of different ages, none due yet: DB03 the oldest, then
	// DB01; apart by more than the spread of their due times.
	for i, age := range []time.Duration{10, 15, 5, 19, 0} {
		ss.keep(f.Databases[i], c.Now().Add(-age*time.Second), 0, Read[string]{Val: "old"})
	}
	runSweep(t, f, ss, c, 1)
	time.Sleep(50 * time.Millisecond)
	if n := len(rec.reads()); n != 0 {
		t.Fatalf("%d reads before any snapshot was due (%v)", n, rec.reads())
	}
	after := RefreshAfter(f.SnapshotMaxAge, f.Deadlines)
	// Everything due: one worker reads them in age order.
	c.add(after)
	eventually(t, "five reads", func() bool { return len(rec.reads()) == 5 })
	if got, want := rec.reads(), []string{"DB03", "DB01", "DB00", "DB02", "DB04"}; !slices.Equal(got, want) {
		t.Fatalf("read %v, want the oldest first %v", got, want)
	}
	for _, d := range f.Databases {
		if sn, _ := ss.Get(d.ConfigVar); sn.Val != "up "+d.ConfigVar || !sn.AsOf.Equal(c.Now()) {
			t.Fatalf("%s: %+v", d.ConfigVar, sn)
		}
	}
	rec.reset()
	spread := (f.SnapshotMaxAge - after) / 2
	c.add(after - spread - time.Second)
	time.Sleep(50 * time.Millisecond)
	if n := len(rec.reads()); n != 0 {
		t.Fatalf("%d reads of fresh snapshots", n)
	}
	c.add(spread + time.Second)
	eventually(t, "the next round", func() bool { return len(rec.reads()) == 5 })
}

// A database that does not answer is not read again before its back-off
// ends.
func TestSweepHonoursBackOff(t *testing.T) {
	c := newClock()
	f, ss, rec := sweepFleet(t, 2, c)
	rec.down["DB01"] = true
	runSweep(t, f, ss, c, 2)
	eventually(t, "first reads", func() bool { return len(rec.reads()) == 2 })
	sn, _ := ss.Get("DB01")
	if sn.RetryAt.Sub(sn.AsOf) != backoffMin {
		t.Fatalf("down: %+v", sn)
	}
	rec.reset()
	c.add(backoffMin - time.Second)
	time.Sleep(50 * time.Millisecond)
	if got := rec.reads(); len(got) != 0 {
		t.Fatalf("read during the back-off: %v", got)
	}
	c.add(time.Second)
	eventually(t, "a read once the back-off ended", func() bool { return slices.Equal(rec.reads(), []string{"DB01"}) })
	if sn, _ := ss.Get("DB01"); sn.RetryAt.Sub(sn.AsOf) != 2*backoffMin {
		t.Fatalf("second failure: %+v", sn)
	}
}

// Slow databases take at most half the workers while quick ones wait:
// with as many slow ones as workers hanging, due first, the quick ones are
// still read.
func TestSweepSlowDatabasesKeepToHalfTheWorkers(t *testing.T) {
	c := newClock()
	f, ss, rec := sweepFleet(t, 12, c)
	slow := []string{"DB00", "DB01", "DB02", "DB03"}
	release := make(chan struct{})
	var once sync.Once
	for i, d := range f.Databases {
		// The slow ones' last reads took 2 s and are the oldest; none is
		// due yet.
		took, age := time.Duration(0), 10*time.Second
		if slices.Contains(slow, d.ConfigVar) {
			took, age = 2*time.Second, 15*time.Second
			rec.hold[d.ConfigVar] = release
		}
		ss.keep(f.Databases[i], c.Now().Add(-age), took, Read[string]{Val: "old"})
	}
	runSweep(t, f, ss, c, 4)
	// After runSweep's: cleanups run last first, and the sweep waits for
	// the reads this releases.
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	c.add(f.SnapshotMaxAge)
	fastRead := func() bool {
		n := 0
		for _, v := range rec.reads() {
			if !slices.Contains(slow, v) {
				n++
			}
		}
		return n == 8
	}
	eventually(t, "the quick databases read while the slow ones hang", fastRead)
	// The first three reads: had the slow ones (due first) taken more
	// than half the workers, three of them would be slow.
	n := 0
	for _, v := range rec.reads()[:3] {
		if slices.Contains(slow, v) {
			n++
		}
	}
	if n > 2 {
		t.Fatalf("reads began %v: more than half the workers went to slow databases while quick ones waited", rec.reads())
	}
	once.Do(func() { close(release) })
	eventually(t, "the slow ones read too", func() bool { return len(rec.reads()) == 12 })
}

// A snapshot applied from another process replaces only an older one; a
// Forget keeps older ones from coming back.
func TestSnapshotsApplyNewerOnly(t *testing.T) {
	c := newClock()
	f, ss, _ := sweepFleet(t, 1, c)
	d := f.Databases[0]
	now := c.Now()
	ss.Apply(d.ConfigVar, Snapshot[string]{Val: "b", AsOf: now})
	ss.Apply(d.ConfigVar, Snapshot[string]{Val: "a", AsOf: now.Add(-time.Second)})
	if sn, _ := ss.Get(d.ConfigVar); sn.Val != "b" {
		t.Fatalf("an older snapshot replaced a newer one: %+v", sn)
	}
	v := ss.Version()
	c.add(time.Second)
	ss.Forget(d.ConfigVar)
	if ss.Version() == v {
		t.Fatal("Forget did not change the version")
	}
	ss.Apply(d.ConfigVar, Snapshot[string]{Val: "b", AsOf: now})
	if _, ok := ss.Get(d.ConfigVar); ok {
		t.Fatal("a snapshot older than a Forget came back")
	}
	ss.Apply(d.ConfigVar, Snapshot[string]{Val: "c", AsOf: c.Now().Add(time.Second)})
	if sn, _ := ss.Get(d.ConfigVar); sn.Val != "c" {
		t.Fatalf("a newer snapshot was not applied: %+v", sn)
	}
}

// A stand-by sweep (a process without the lease) reads nothing while
// what others share keeps its snapshots fresh; a snapshot nobody keeps
// fresh (the lease holder has another value of its config var, or died)
// it reads once it is Standby overdue, and one never read Standby after
// it started. Paused, it reads nothing at all.
func TestStandbySweepReadsOnlyWhatNobodyKeepsFresh(t *testing.T) {
	c := newClock()
	f, ss, rec := sweepFleet(t, 2, c)
	const standby = 15 * time.Second
	paused := make(chan bool, 1)
	paused <- false
	isPaused := func() bool { p := <-paused; paused <- p; return p }
	sw := &Sweeper{Fleet: f, Facets: []Facet{ss}, Workers: 1, Now: c.Now, Recheck: 5 * time.Millisecond, Standby: standby, Pause: isPaused}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	// The holder's read of DB00 arrives from the state database.
	ss.Apply("DB00", Snapshot[string]{Val: "up", AsOf: c.Now()})
	go func() { sw.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	time.Sleep(50 * time.Millisecond)
	c.add(standby - time.Second)
	time.Sleep(50 * time.Millisecond)
	if got := rec.reads(); len(got) != 0 {
		t.Fatalf("a stand-by read before anything was overdue: %v", got)
	}
	c.add(time.Second)
	eventually(t, "DB01, never read, read Standby after the start", func() bool { return slices.Equal(rec.reads(), []string{"DB01"}) })
	rec.reset()
	// The holder keeps DB00 fresh: the stand-by never reads it.
	refresh := RefreshAfter(f.SnapshotMaxAge, f.Deadlines)
	for range 3 {
		c.add(refresh)
		ss.Apply("DB00", Snapshot[string]{Val: "up", AsOf: c.Now()})
		time.Sleep(20 * time.Millisecond)
	}
	if got := rec.reads(); slices.Contains(got, "DB00") {
		t.Fatalf("read a database the holder keeps fresh: %v", got)
	}
	rec.reset()
	// Paused (this process took the lease): nothing, however overdue.
	<-paused
	paused <- true
	c.add(10 * f.SnapshotMaxAge)
	time.Sleep(50 * time.Millisecond)
	if got := rec.reads(); len(got) != 0 {
		t.Fatalf("a paused stand-by read %v", got)
	}
	// The holder stops sharing DB00 (it died): read once overdue by Standby.
	<-paused
	paused <- false
	eventually(t, "DB00 read once nobody keeps it fresh", func() bool { return slices.Contains(rec.reads(), "DB00") })
}
