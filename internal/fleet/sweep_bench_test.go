package fleet

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"sync"
	"testing"
	"time"
)

// BenchmarkSweepDispatch is one look of the sweep over 1,000 databases with
// two facets (the inventory's cards and the replication state), every
// snapshot read within the last max age and none due: the sweep's cost
// between rounds, made every 50 ms tick and after every round that ends
// while others wait. The floor is one pass over the fleet's databases that
// reads each snapshot's time under the same locks and does nothing else.
func BenchmarkSweepDispatch(b *testing.B) {
	c := newClock()
	f, ss, _ := sweepFleet(b, 1000, c)
	ss2 := NewSnapshots(f, SnapshotOptions{Kind: "test2"}, ss.load)
	ss2.Now = c.Now
	now := c.Now()
	for i, d := range f.Databases {
		asOf := now.Add(-time.Duration(i%20) * time.Second)
		ss.Apply(d.ConfigVar, Snapshot[string]{Val: "up", AsOf: asOf, Took: 5 * time.Millisecond})
		ss2.Apply(d.ConfigVar, Snapshot[string]{Val: "up", AsOf: asOf, Took: 5 * time.Millisecond})
	}
	sw := &Sweeper{Fleet: f, Facets: []Facet{ss, ss2}, Now: c.Now, dbs: map[string]*sweepDB{}}
	sw.started = now
	var wg sync.WaitGroup
	done := make(chan struct{}, 1)
	ctx := context.Background()
	b.Run("dispatch", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if wait, _ := sw.dispatch(ctx, &wg, 24, 12, sweepTick, done); wait <= 0 {
				b.Fatalf("a database was due: %v", wait)
			}
		}
	})
	b.Run("floor", func(b *testing.B) {
		b.ReportAllocs()
		var last time.Time
		for b.Loop() {
			for _, s := range []*Snapshots[string]{ss, ss2} {
				s.mu.Lock()
				for _, d := range f.Databases {
					if sn := s.m[d.ConfigVar]; sn.AsOf.After(last) {
						last = sn.AsOf
					}
				}
				s.mu.Unlock()
			}
		}
		if last.IsZero() {
			b.Fatal(fmt.Sprint("no snapshot seen"))
		}
	})
	wg.Wait()
}

// jitter is hash/fnv's FNV-1a, written out.
func TestJitterIsFNV1a(t *testing.T) {
	asOf := time.Date(2026, 12, 3, 16, 0, 0, 123456789, time.UTC)
	for _, v := range []string{"", "DATABASE_URL", "HEROKU_POSTGRESQL_ÄMBER_URL"} {
		h := fnv.New64a()
		h.Write([]byte(v))
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(asOf.UnixNano()))
		h.Write(b[:])
		spread := 3 * time.Second
		if got, want := jitter(v, asOf, spread), time.Duration(h.Sum64()%uint64(spread)); got != want {
			t.Errorf("jitter(%q) = %v, want %v", v, got, want)
		}
	}
	if got := jitter("DATABASE_URL", asOf, 0); got != 0 {
		t.Errorf("jitter with no spread = %v", got)
	}
}
