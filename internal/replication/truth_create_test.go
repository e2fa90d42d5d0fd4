package replication

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/pgtest"
)

// A publication pglinks creates publishes inserts, updates and deletes.
// PostgreSQL then refuses every UPDATE and DELETE on a published table that
// has no replica identity (no primary key, no REPLICA IDENTITY index or
// FULL): the application writing to the publisher breaks the moment the
// publication exists. "Every check passed" must not be said of such a
// table: the preflight names it before anything runs.
func TestPublicationPreflightNamesATableWithoutReplicaIdentity(t *testing.T) {
	w := newWorld(t, worldOpts{NoSubscription: true, Unprivileged: true})
	ctx := context.Background()
	pgtest.MustExec(t, w.pub.URL, `CREATE TABLE events (id int, note text); INSERT INTO events VALUES (1, 'first')`)

	req := PublicationRequest{ConfigVar: pubVar, Name: "pub_events", Tables: []string{"public.events"}}
	p, err := w.svc.PlanPublication(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(p.Problems, "\n"), "replica identity") {
		return
	}
	// The preflight said every check passed: this is what the create does.
	_, res, err := w.svc.CreatePublication(ctx, req)
	if err != nil || res == nil {
		t.Fatalf("create: %v", err)
	}
	uerr := pubCluster.Exec(ctx, w.pub.Name, `UPDATE events SET note = 'second' WHERE id = 1`)
	derr := pubCluster.Exec(ctx, w.pub.Name, `DELETE FROM events WHERE id = 1`)
	t.Fatalf("the preflight passed every check (problems %q) for public.events, which has no replica identity; after %q the publisher's application gets:\n UPDATE: %v\n DELETE: %v", p.Problems, res.SQL, uerr, derr)
}

// The subscriber applies a published UPDATE or DELETE by finding the row
// through its own replica identity. A subscriber table without one (no
// primary key there) while the publisher sends one makes the apply worker
// fail at the first UPDATE, again and again, and nothing flows after it:
// the preflight that says "Every check passed" must name that table first.
func TestSubscriptionPreflightNamesASubscriberTableWithoutReplicaIdentity(t *testing.T) {
	w := newWorld(t, worldOpts{NoSubscription: true})
	ctx := context.Background()
	pgtest.MustExec(t, w.sub.URL, `ALTER TABLE orders DROP CONSTRAINT orders_pkey`)
	name := fmt.Sprintf("sub_noident_%d", seq.Add(1))
	req := SubscriptionRequest{PublisherVar: pubVar, Publication: w.pubName, SubscriberVar: subVar, Name: name, CopyData: true}
	p, err := w.svc.PlanSubscription(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(p.Problems, "\n"), "replica identity") {
		return
	}
	w.subName = name
	t.Cleanup(func() { w.cleanupSubscription(t) })
	if _, res, err := w.svc.CreateSubscription(ctx, req); err != nil || res == nil {
		t.Fatalf("create: %v", err)
	}
	w.waitReady(t)
	pgtest.MustExec(t, w.pub.URL, `UPDATE orders SET note = 'changed' WHERE id = 1; INSERT INTO orders VALUES (2, 'after')`)
	pgtest.Eventually(t, 20*time.Second, "the apply worker counts an error", func() bool {
		return pgtest.MustQueryInt(t, w.subSuperURL, `SELECT coalesce(sum(apply_error_count), 0)::int FROM pg_stat_subscription_stats WHERE subname = $1`, name) > 0
	})
	rows := pgtest.MustQueryInt(t, w.sub.URL, `SELECT count(*) FROM orders`)
	t.Fatalf("the preflight passed every check (problems %q) while the subscriber's orders has no replica identity; the apply worker now fails on the publisher's UPDATE and the row inserted after it never arrives (subscriber has %d rows, publisher 2)", p.Problems, rows)
}
