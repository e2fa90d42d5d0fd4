package replication

import (
	"context"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/pgtest"
)

// Once read, the overview the inventory's cards use is served as it is when
// it gets old, while a background read replaces it: a page view never waits
// for the fleet's replication state again.
func TestRecentOverviewServedWhileRead(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, worldOpts{NoSubscription: true})
	const maxAge = 100 * time.Millisecond
	first := w.svc.RecentOverview(ctx, maxAge)
	if len(first.Databases) != 2 || first.ReadAt.IsZero() {
		t.Fatalf("first overview: %+v", first)
	}
	time.Sleep(2 * maxAge)
	if again := w.svc.RecentOverview(ctx, maxAge); again != first {
		t.Fatalf("an old overview was not served as it is (read at %v, first at %v)", again.ReadAt, first.ReadAt)
	}
	pgtest.Eventually(t, 10*time.Second, "a newer overview", func() bool {
		o := w.svc.RecentOverview(ctx, time.Hour)
		return o != first && o.ReadAt.After(first.ReadAt) && len(o.Databases) == 2
	})
}
