package state

import (
	"context"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
)

// A lease is held by one holder at a time: renewed by its holder, taken
// by another only once it expired (by the state database's clock) or was
// given up.
func TestLeases(t *testing.T) {
	ctx := context.Background()
	l := mustOpen(t).Leases()
	take := func(holder string, ttl time.Duration) bool {
		t.Helper()
		ok, err := l.TryAcquire(ctx, "background", holder, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !take("a", time.Hour) {
		t.Fatal("a free lease was not taken")
	}
	if take("b", time.Hour) {
		t.Fatal("b took a lease a holds")
	}
	if !take("a", 200*time.Millisecond) {
		t.Fatal("a could not renew its own lease")
	}
	if h, _, err := l.Holder(ctx, "background"); err != nil || h != "a" {
		t.Fatalf("holder %q, %v", h, err)
	}
	time.Sleep(300 * time.Millisecond)
	if h, _, _ := l.Holder(ctx, "background"); h != "" {
		t.Fatalf("an expired lease still has holder %q", h)
	}
	if !take("b", time.Hour) {
		t.Fatal("b could not take an expired lease")
	}
	if take("a", time.Hour) {
		t.Fatal("a took the lease back from b")
	}
	if err := l.Release(ctx, "background", "a"); err != nil {
		t.Fatal(err)
	}
	if h, _, _ := l.Holder(ctx, "background"); h != "b" {
		t.Fatalf("a gave up b's lease: holder %q", h)
	}
	if err := l.Release(ctx, "background", "b"); err != nil {
		t.Fatal(err)
	}
	if !take("a", time.Hour) {
		t.Fatal("a lease given up was not free")
	}
}

// Results are kept newest first by as_of, read back in write order, and
// deleted ones come back as such.
func TestSharedResults(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t).Shared()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	err := s.Save(ctx, []fleet.SharedRecord{
		{Kind: "card", Key: "DATABASE_URL", AsOf: t0, Body: []byte(`{"Reachable":true}`)},
		{Kind: "card", Key: "HEROKU_POSTGRESQL_RED_URL", AsOf: t0, FailingSince: t0.Add(-time.Minute), RetryAt: t0.Add(5 * time.Second), Down: "is unreachable: connection refused", Body: []byte(`{}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := s.Since(ctx, 0, 10)
	if err != nil || len(recs) != 2 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	red := recs[1]
	if red.Key != "HEROKU_POSTGRESQL_RED_URL" || !red.RetryAt.Equal(t0.Add(5*time.Second)) || !red.FailingSince.Equal(t0.Add(-time.Minute)) || red.Down == "" || string(red.Body) != "{}" {
		t.Fatalf("failing record: %+v", red)
	}
	if !recs[0].FailingSince.IsZero() || !recs[0].RetryAt.IsZero() {
		t.Fatalf("answering record: %+v", recs[0])
	}
	last := recs[1].Seq
	// An older result does not replace a newer one; a newer one does, and
	// is read again after the last seq seen.
	if err := s.Save(ctx, []fleet.SharedRecord{{Kind: "card", Key: "DATABASE_URL", AsOf: t0.Add(-time.Second), Body: []byte(`{"Reachable":false}`)}}); err != nil {
		t.Fatal(err)
	}
	if recs, _ := s.Since(ctx, last, 10); len(recs) != 0 {
		t.Fatalf("an older result was kept: %+v", recs)
	}
	if err := s.Save(ctx, []fleet.SharedRecord{{Kind: "link_health", Key: "DATABASE_URL/sales", AsOf: t0.Add(time.Second)}}); err != nil {
		t.Fatal(err)
	}
	recs, err = s.Since(ctx, last, 10)
	if err != nil || len(recs) != 1 || recs[0].Body != nil || recs[0].Seq <= last {
		t.Fatalf("deleted record: %+v, %v", recs, err)
	}
}
