package replication

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// "Enable" clicked on a subscription that is already enabled (a DBA
// enabled it by hand since the page was shown) whose worker has been
// stopped for a long time: pglinks changes nothing, yet says it enabled the
// subscription and then calls it "starting", a transition, for the settle
// time, instead of the alarm it was ("worker stopped").
func TestEnableOfAnEnabledStoppedSubscriptionKeepsTheAlarm(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.waitReady(t)
	ctx := context.Background()
	// The publisher's address goes wrong: the worker cannot start.
	pgtest.MustExec(t, w.subSuperURL, fmt.Sprintf("ALTER SUBSCRIPTION %s CONNECTION 'host=127.0.0.1 port=1 dbname=x user=x connect_timeout=1'", w.subName))
	pgtest.Eventually(t, 15*time.Second, "worker stopped", func() bool {
		s := findSub(w.overview(t), subVar, w.subName)
		return s != nil && s.State == SubStopped
	})
	w.clock.Advance(time.Hour)
	if s := findSub(w.overview(t), subVar, w.subName); s == nil || s.State != SubStopped {
		t.Fatalf("before: %+v", s)
	}
	res, err := w.svc.SetEnabled(ctx, subVar, w.subName, true)
	if err != nil && !errs.Is(err, errs.Conflict) {
		t.Fatal(err)
	}
	s := findSub(w.overview(t), subVar, w.subName)
	if s.State != SubStopped {
		t.Errorf("after an Enable that changed nothing the subscription is %q (was %q for an hour)", s.State, SubStopped)
	}
	if err == nil && strings.Contains(res.Message, " enabled.") {
		t.Errorf("an Enable that changed nothing says: %s", res.Message)
	}
}
