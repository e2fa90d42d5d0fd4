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

// Two processes with different values of one config var (a rolling
// restart after a rotation) each keep their own row of its card, and each
// applies only the row read with its own value; the cause of a failure
// comes back with it.
func TestSharedResultsPerTarget(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	const v = "HEROKU_POSTGRESQL_ORANGE_URL"
	load := func(url string) *fleet.Fleet {
		f, err := fleet.Load([]string{"PGLINKS_DATABASES=" + v, v + "=" + url})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	oldF := load("postgres://u:old-password@127.0.0.1:5432/d")
	newF := load("postgres://u:new-password@127.0.0.1:5432/d")
	key := []byte("the session key every process shares")
	type proc struct {
		sh    *fleet.Shared
		cards *fleet.Snapshots[string]
	}
	mk := func(f *fleet.Fleet) proc {
		sh := fleet.NewShared(db.Shared(), nil)
		sh.Target = fleet.Targets(f, key)
		cards := fleet.NewSnapshots(f, fleet.SnapshotOptions{Kind: "card", FleetOutages: true}, func(context.Context, string) (fleet.Reader[string], error) {
			return nil, nil
		})
		fleet.Share(sh, cards)
		return proc{sh, cards}
	}
	oldP, newP := mk(oldF), mk(newF)
	if fleet.Targets(oldF, key)(v) == fleet.Targets(newF, key)(v) || fleet.Targets(oldF, key)(v) != fleet.Targets(load("postgres://u:old-password@127.0.0.1:5432/d"), key)(v) {
		t.Fatal("targets do not tell the two values apart, or differ for one value")
	}
	t0 := time.Now().Truncate(time.Microsecond)
	// The process with the old password reads the card: refused.
	oldP.sh.Put(fleet.SharedRecord{Kind: "card", Key: v, Target: fleet.Targets(oldF, key)(v), AsOf: t0, FailingSince: t0, Down: "password refused", Cause: fleet.CausePassword, Body: []byte(`"refused"`)})
	newP.sh.Put(fleet.SharedRecord{Kind: "card", Key: v, Target: fleet.Targets(newF, key)(v), AsOf: t0.Add(-time.Second), Body: []byte(`"up"`)})
	for _, p := range []proc{oldP, newP} {
		if err := p.sh.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []proc{oldP, newP} {
		if err := p.sh.Load(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if sn, ok := newP.cards.Get(v); !ok || sn.Val != "up" || sn.Down != "" {
		t.Fatalf("the new password's process shows %+v (%v): another value's read", sn, ok)
	}
	if _, down := newF.Outage(v); down {
		t.Fatal("the new password's process took the old one's outage")
	}
	sn, ok := oldP.cards.Get(v)
	if !ok || sn.Val != "refused" || sn.Cause != fleet.CausePassword {
		t.Fatalf("the old password's process shows %+v (%v)", sn, ok)
	}
	if o, down := oldF.Outage(v); !down || o.Cause != fleet.CausePassword {
		t.Fatalf("outage %+v, %v", o, down)
	}
}
