package fleet

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// scripted is a reader whose next result the test sets, counting reads.
type scripted struct {
	mu    sync.Mutex
	next  Read[string]
	wait  chan struct{} // when set, reads block until it is closed
	reads atomic.Int32  // of DATABASE_URL
}

func (s *scripted) set(r Read[string]) {
	s.mu.Lock()
	s.next = r
	s.mu.Unlock()
}

func (s *scripted) read(ctx context.Context, d *Database) Read[string] {
	if d.ConfigVar == "DATABASE_URL" {
		s.reads.Add(1)
	}
	s.mu.Lock()
	r, wait := s.next, s.wait
	s.mu.Unlock()
	if wait != nil {
		<-wait
	}
	return r
}

func testSnapshots(t *testing.T, loadErr error) (*Fleet, *Snapshots[string], *scripted) {
	t.Helper()
	f, err := Load([]string{"DATABASE_URL=postgres://u:p@127.0.0.1:1/db", "HEROKU_POSTGRESQL_RED_URL=mysql://u:p@h/x"})
	if err != nil {
		t.Fatal(err)
	}
	f.Log = slog.New(slog.DiscardHandler)
	sc := &scripted{}
	ss := NewSnapshots(f, func(ctx context.Context, configVar string) (Reader[string], error) { return sc.read, loadErr })
	return f, ss, sc
}

// A database that does not answer is backed off, 5 s doubling, with since
// when; the fleet knows the outage for every domain, and an answer ends it.
func TestSnapshotsBackOff(t *testing.T) {
	ctx := context.Background()
	f, ss, sc := testSnapshots(t, nil)
	d := f.Databases[0]
	sc.set(Read[string]{Val: "down", Down: "is unreachable: connection refused"})
	first := ss.Refresh(ctx, d)
	if first.FailingSince.IsZero() || first.RetryAt.Sub(first.AsOf) != backoffMin {
		t.Fatalf("first failure: %+v", first)
	}
	o, down := f.Outage(d.ConfigVar)
	if !down || o.Reason != "is unreachable: connection refused" || !o.RetryAt.Equal(first.RetryAt) {
		t.Fatalf("outage: %+v, %v", o, down)
	}
	// While the back-off runs, page views are served the failure: no read.
	before := sc.reads.Load()
	for range 3 {
		if sn := ss.All(ctx)[0]; !sn.RetryAt.Equal(first.RetryAt) {
			t.Fatalf("view during back-off: %+v", sn)
		}
	}
	if sc.reads.Load() != before {
		t.Fatalf("%d reads during the back-off", sc.reads.Load()-before)
	}
	second := ss.Refresh(ctx, d)
	if !second.FailingSince.Equal(first.FailingSince) || second.RetryAt.Sub(second.AsOf) != 2*backoffMin {
		t.Fatalf("second failure: %+v", second)
	}
	sc.set(Read[string]{Val: "up"})
	up := ss.Refresh(ctx, d)
	if up.Val != "up" || !up.RetryAt.IsZero() || !up.FailingSince.IsZero() {
		t.Fatalf("answered: %+v", up)
	}
	if _, down := f.Outage(d.ConfigVar); down {
		t.Fatal("the outage outlived an answer")
	}
}

// A read that found pglinks' own connections busy says nothing of the
// database: the last snapshot stands, or the database is "not read yet".
// A read marked Once is shown and not kept.
func TestSnapshotsBusyAndOnce(t *testing.T) {
	ctx := context.Background()
	f, ss, sc := testSnapshots(t, nil)
	d := f.Databases[0]
	sc.set(Read[string]{Busy: "all connections in use"})
	if sn := ss.Refresh(ctx, d); !sn.Pending || sn.Why != "Not read yet: all connections in use" {
		t.Fatalf("busy, never read: %+v", sn)
	}
	sc.set(Read[string]{Val: "up"})
	kept := ss.Refresh(ctx, d)
	sc.set(Read[string]{Busy: "all connections in use"})
	if sn := ss.Refresh(ctx, d); sn.Pending || sn.Val != "up" || !sn.AsOf.Equal(kept.AsOf) {
		t.Fatalf("busy after a read: %+v", sn)
	}
	sc.set(Read[string]{Val: "records unreadable", Once: true})
	if sn := ss.Refresh(ctx, d); sn.Val != "records unreadable" {
		t.Fatalf("once: %+v", sn)
	}
	if sn, _ := ss.Get(d.ConfigVar); sn.Val != "up" {
		t.Fatalf("a read marked Once was kept: %+v", sn)
	}
	if _, down := f.Outage(d.ConfigVar); down {
		t.Fatal("busy or once made an outage")
	}
}

// A misconfigured database is never asked through the shared read and
// never kept; a caller whose context ends first gets a Pending snapshot
// while the read goes on and is kept; Forget drops snapshot and outage.
func TestSnapshotsMisconfiguredPendingForget(t *testing.T) {
	ctx := context.Background()
	f, ss, sc := testSnapshots(t, nil)
	red := f.Databases[1]
	sc.set(Read[string]{Val: "misconfigured"})
	if sn := ss.Refresh(ctx, red); sn.Val != "misconfigured" || !sn.AsOf.IsZero() {
		t.Fatalf("misconfigured: %+v", sn)
	}
	if _, ok := ss.Get(red.ConfigVar); ok {
		t.Fatal("a misconfigured database's read was kept")
	}

	d := f.Databases[0]
	release := make(chan struct{})
	sc.mu.Lock()
	sc.wait = release
	sc.mu.Unlock()
	sc.set(Read[string]{Val: "slow", Down: "no answer in time"})
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if sn := ss.Refresh(short, d); !sn.Pending || sn.Why == "" {
		t.Fatalf("caller gone first: %+v", sn)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if sn, ok := ss.Get(d.ConfigVar); ok && sn.Val == "slow" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the read the caller left was not kept")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ss.Forget(d.ConfigVar)
	if _, ok := ss.Get(d.ConfigVar); ok {
		t.Fatal("Forget kept the snapshot")
	}
	if _, down := f.Outage(d.ConfigVar); down {
		t.Fatal("Forget kept the outage")
	}
}

// When what the reads are checked against cannot be had, page views still
// read (the reader says what failed) and background refreshes skip.
func TestSnapshotsLoadError(t *testing.T) {
	ctx := context.Background()
	_, ss, sc := testSnapshots(t, errors.New("state database down"))
	sc.set(Read[string]{Val: "records unreadable", Once: true})
	if sn := ss.All(ctx)[0]; sn.Val != "records unreadable" {
		t.Fatalf("page view: %+v", sn)
	}
	before := sc.reads.Load()
	ss.refreshDue(ctx, time.Second, 1)
	if sc.reads.Load() != before {
		t.Fatal("a background refresh read without what to check against")
	}
}
