package compat

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/pgversion"
	"github.com/pglinks/pglinks/internal/replication"
	"github.com/pglinks/pglinks/views"
)

// What newer servers add to replication, used where present and said in
// words where not: each test runs on majors that have the feature and on
// ones that do not.

// testClock is the real clock moved forward by Advance, so thresholds pass
// without waiting; server timestamps (inactive_since) still compare.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// withClock gives svc a clock the test moves.
func withClock(svc *replication.Service) *testClock {
	c := &testClock{}
	svc.Now = c.Now
	return c
}

// ownCluster starts a cluster of major for one test, with settings
// (ALTER SYSTEM) that would disturb the shared ones.
func ownCluster(t *testing.T, major int, settings ...string) *pgtest.Cluster {
	t.Helper()
	ctx := ctxFor(t)
	c, err := pgtest.Start(ctx, pgtest.Options{ForTests: true, Major: major, Logical: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	for _, s := range append(settings, "wal_retrieve_retry_interval = '300ms'") {
		execAs(t, c.SuperURL("postgres"), "ALTER SYSTEM SET "+s)
	}
	execAs(t, c.SuperURL("postgres"), "SELECT pg_reload_conf()")
	return c
}

// renderReplication renders the Replication page over o for an admin, as
// the handler does.
func renderReplication(t testing.TB, o *replication.Overview) string {
	t.Helper()
	shown, empty := replication.Sorted(o.Databases)
	page := views.ReplicationPage{Page: views.Page{Title: "Replication", Nav: "replication", Viewer: &views.Viewer{IsAdmin: true}},
		Overview: o, Shown: shown, Empty: empty, OrphanAfter: replication.DefaultOrphanAfter}
	var b strings.Builder
	if err := views.ReplicationView(page).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func warningText(o *replication.Overview, configVar, kind, object string) string {
	for _, w := range o.WarningsFor(configVar) {
		if w.Kind == kind && w.Object == object {
			return w.Message
		}
	}
	return ""
}

// TestSubscriptionsByTheirOwner: from PostgreSQL 16 a role granted
// pg_create_subscription (with CREATE on the database) creates and manages
// subscriptions, which pglinks accepts, showing their password_required and
// run_as_owner and checking what such a subscription needs before it runs;
// before 16 the preflight says a superuser is needed, and why.
func TestSubscriptionsByTheirOwner(t *testing.T) {
	forEachPair(t, func(t *testing.T, p pair) {
		ctx := ctxFor(t)
		w := newReplWorld(t, p)
		newer := p.local >= 16
		if newer {
			execAs(t, clusters[p.local].SuperURL(w.sub.Name), "GRANT pg_create_subscription TO "+pgIdent(w.sub.Owner))
		}
		// As on a hosted plan: both databases under their own roles.
		svc := replication.New(newService(t, []string{localVar + "=" + w.sub.URL, remoteVar + "=" + w.pub.URL}, p.local, nil).Fleet)
		if pf, _, err := svc.CreatePublication(ctx, replication.PublicationRequest{ConfigVar: remoteVar, Name: "pub_orders", Tables: []string{"public.orders"}}); err != nil || !pf.OK() {
			t.Fatalf("publication: %v %v", err, pf)
		}
		req := replication.SubscriptionRequest{PublisherVar: remoteVar, SubscriberVar: localVar, Publication: "pub_orders", Name: "sub_own", CopyData: true}
		pf, res, err := svc.CreateSubscription(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !newer {
			want := fmt.Sprintf("Creating a subscription on PostgreSQL %d needs a superuser (PostgreSQL 16 lets members of pg_create_subscription do it)", p.local)
			if res != nil || len(pf.Problems) != 1 || !strings.Contains(pf.Problems[0], want) {
				t.Fatalf("on %d: created %v, problems %q", p.local, res, pf.Problems)
			}
			return
		}
		if res == nil {
			t.Fatalf("on %d: problems %q", p.local, pf.Problems)
		}
		var sub *replication.Subscription
		pgtest.Eventually(t, 30*time.Second, "the owner's subscription running", func() bool {
			sub = findSub(svc.Overview(ctx), "sub_own")
			return sub != nil && sub.State == replication.SubRunning && sub.Tables.Ready == 1
		})
		if sub.Owner != w.sub.Owner || sub.PasswordRequired == nil || !*sub.PasswordRequired || sub.RunAsOwner == nil || *sub.RunAsOwner ||
			sub.ConnInfoReadable || sub.SlotOn != remoteVar {
			t.Errorf("subscription %+v", sub)
		}
		if (sub.Failover != nil) != (p.local >= 17) {
			t.Errorf("failover option on %d: %v (it comes with 17)", p.local, sub.Failover)
		}
		w.waitRows(t, 2)
		// Its owner changes it, and drops it with its slot.
		if _, err := svc.SetEnabled(ctx, localVar, "sub_own", false); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SetEnabled(ctx, localVar, "sub_own", true); err != nil {
			t.Fatal(err)
		}
		if res, err := svc.DropSubscription(ctx, replication.DropSubscriptionRequest{ConfigVar: localVar, Name: "sub_own", Confirm: "sub_own"}); err != nil || res.SafePath {
			t.Fatalf("drop by the owner: %+v, %v", res, err)
		}
		if n := queryInt(t, clusters[p.remote].SuperURL("postgres"), "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sub_own'"); n != 0 {
			t.Error("the owner's drop left the slot")
		}

		// What a subscription owned by such a role needs, checked first:
		// a table the apply worker may not write as its owner...
		execAs(t, clusters[p.local].SuperURL(w.sub.Name), "CREATE TABLE public.ledger (id int PRIMARY KEY)")
		execAs(t, w.pub.URL, "CREATE TABLE public.ledger (id int PRIMARY KEY); CREATE PUBLICATION pub_ledger FOR TABLE ledger")
		pf, err = svc.PlanSubscription(ctx, replication.SubscriptionRequest{PublisherVar: remoteVar, SubscriberVar: localVar, Publication: "pub_ledger", Name: "sub_ledger"})
		if err != nil || len(pf.Problems) != 1 || !strings.Contains(pf.Problems[0], "may not SET ROLE to postgres") {
			t.Errorf("run_as_owner: %v, problems %q", err, pf.Problems)
		}
		// ...and a publisher URL without a password (over the socket,
		// where the cluster trusts local users).
		socket := fmt.Sprintf("postgres://%s@/%s?host=%s&port=%d&sslmode=disable", w.pub.Owner, w.pub.Name, clusters[p.remote].Dir, clusters[p.remote].Port)
		nopw := replication.New(newService(t, []string{localVar + "=" + w.sub.URL, remoteVar + "=" + socket}, p.local, nil).Fleet)
		pf, _, err = nopw.CreateSubscription(ctx, replication.SubscriptionRequest{PublisherVar: remoteVar, SubscriberVar: localVar, Publication: "pub_orders", Name: "sub_nopw"})
		if err != nil || len(pf.Problems) != 1 || !strings.Contains(pf.Problems[0], "must log in to its publisher with a password (password_required = true)") {
			t.Errorf("password_required: %v, problems %q", err, pf.Problems)
		}
		if n := queryInt(t, w.sub.URL, "SELECT count(*) FROM pg_subscription WHERE subname = 'sub_nopw'"); n != 0 {
			t.Error("a subscription without a password was created")
		}
	})
}

// TestSlotInactivityByMajor: PostgreSQL 17 and later date a slot's
// inactivity (inactive_since), report failover slots and invalidation
// reasons; 16 reports conflicting; before, pglinks times inactivity from
// when it first saw it and says "at least". Either way the orphaned-slot
// alarm waits for the threshold.
func TestSlotInactivityByMajor(t *testing.T) {
	t.Parallel() // its own slots, or clusters of its own
	forEachPair(t, func(t *testing.T, p pair) {
		w := newReplWorld(t, p)
		clock := withClock(w.svc)
		slot := fmt.Sprintf("stray_%d", seq.Add(1))
		super := clusters[p.remote].SuperURL(w.pub.Name)
		execAs(t, super, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", slot)
		if p.remote >= 17 {
			execAs(t, super, "SELECT pg_create_logical_replication_slot($1, 'pgoutput', false, false, true)", slot+"_fo")
		}
		o := w.overview(t)
		d, sl := findDB(o, remoteVar), findSlot(o, slot)
		if sl == nil || sl.InactiveSince == nil || sl.InactiveSinceSeen != (p.remote < 17) || sl.State != replication.SlotInactive || sl.DropOffered() {
			t.Fatalf("on %d: slot %+v", p.remote, sl)
		}
		if (sl.Conflicting != nil) != (p.remote >= 16) || sl.Invalidated() {
			t.Errorf("conflicting on %d: %v (it comes with 16)", p.remote, sl.Conflicting)
		}
		if (d.IdleSlotTimeout != nil) != (p.remote >= 18) || d.MaxSlotWALKeep != nil {
			t.Errorf("limits on %d: idle %v, keep %v", p.remote, d.IdleSlotTimeout, d.MaxSlotWALKeep)
		}
		if p.remote >= 17 {
			if fo := findSlot(o, slot+"_fo"); fo == nil || !fo.Failover || sl.Failover {
				t.Errorf("failover slot %+v", fo)
			}
		}
		if warningText(o, remoteVar, "orphaned_slot", slot) != "" {
			t.Errorf("alarm on a slot inactive for moments: %+v", o.Warnings)
		}
		html := renderReplication(t, o)
		word := "has no idle_replication_slot_timeout (18 and later)"
		if p.remote >= 18 {
			word = "idle_replication_slot_timeout is off"
		}
		if !strings.Contains(html, word) || strings.Contains(html, "does not say since when a slot is inactive") != (p.remote < 17) {
			t.Errorf("slot limits on %d do not say %q, or mis-say inactive_since", p.remote, word)
		}

		clock.Advance(replication.DefaultOrphanAfter + 2*time.Minute)
		o = w.overview(t)
		msg := warningText(o, remoteVar, "orphaned_slot", slot)
		want := "inactive for 7 min"
		if p.remote < 17 {
			want = "inactive for at least 7 min"
		}
		if !strings.Contains(msg, want) || !findSlot(o, slot).DropOffered() {
			t.Errorf("on %d past the threshold: %q, want %q", p.remote, msg, want)
		}
	})
}

// TestInvalidatedSlot: a slot whose WAL max_slot_wal_keep_size let go is
// shown invalidated, with the reason where the server gives one (17) and
// from wal_status elsewhere (15), naming the subscription that cannot
// resume; it is offered for dropping at once.
func TestInvalidatedSlot(t *testing.T) {
	t.Parallel() // its own slots, or clusters of its own
	for _, m := range []struct{ pub, sub int }{{15, 16}, {17, 14}} {
		t.Run(fmt.Sprintf("publisher_%d", m.pub), func(t *testing.T) {
			t.Parallel()
			ctx := ctxFor(t)
			pc := ownCluster(t, m.pub, "max_slot_wal_keep_size = '1MB'")
			pub, err := pc.CreateDatabase(ctx, fmt.Sprintf("pub_%d", seq.Add(1)), pgtest.DBOptions{NoFDW: true})
			if err != nil {
				t.Fatal(err)
			}
			execAs(t, pc.SuperURL("postgres"), "ALTER ROLE "+pgIdent(pub.Owner)+" REPLICATION")
			execAs(t, pub.URL, "CREATE TABLE orders (id int PRIMARY KEY, note text); CREATE PUBLICATION pub_orders FOR TABLE orders")
			sub := newDB(t, m.sub, "sub", pgtest.DBOptions{NoFDW: true})
			subSuper := clusters[m.sub].SuperURL(sub.Name)
			execAs(t, sub.URL, "CREATE TABLE orders (id int PRIMARY KEY, note text)")
			execAs(t, subSuper, fmt.Sprintf("CREATE SUBSCRIPTION sub_lost CONNECTION '%s' PUBLICATION pub_orders", pc.SuperURL(pub.Name)))
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				clusters[m.sub].Exec(ctx, sub.Name, "ALTER SUBSCRIPTION sub_lost DISABLE; ALTER SUBSCRIPTION sub_lost SET (slot_name = NONE); DROP SUBSCRIPTION sub_lost")
			})
			svc := replication.New(newService(t, []string{localVar + "=" + subSuper, remoteVar + "=" + pub.URL}, m.sub, nil).Fleet)
			pgtest.Eventually(t, 30*time.Second, "the subscription running", func() bool {
				s := findSub(svc.Overview(ctx), "sub_lost")
				return s != nil && s.State == replication.SubRunning && s.Tables.Ready == 1
			})
			if _, err := svc.SetEnabled(ctx, localVar, "sub_lost", false); err != nil {
				t.Fatal(err)
			}
			pgtest.Eventually(t, 30*time.Second, "the slot given up by the server", func() bool {
				if sl := findSlot(svc.Overview(ctx), "sub_lost"); sl == nil || sl.Active {
					return false
				}
				for range 3 {
					execAs(t, pub.URL, "INSERT INTO orders SELECT g, repeat('x', 100) FROM generate_series(1, 500) g ON CONFLICT (id) DO UPDATE SET note = excluded.note")
					execAs(t, pc.SuperURL("postgres"), "SELECT pg_switch_wal()")
				}
				execAs(t, pc.SuperURL("postgres"), "CHECKPOINT")
				return queryInt(t, pc.SuperURL("postgres"), "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sub_lost' AND wal_status = 'lost'") == 1
			})
			o := svc.Overview(ctx)
			sl := findSlot(o, "sub_lost")
			reason := ""
			if m.pub >= 17 {
				reason = "wal_removed"
			}
			if sl.State != replication.SlotInvalidated || sl.InvalidationReason != reason || !sl.DropOffered() || sl.Breaks() != localVar+"/sub_lost" {
				t.Errorf("on %d: slot %s, reason %q, offered %v, breaks %q", m.pub, sl.State, sl.InvalidationReason, sl.DropOffered(), sl.Breaks())
			}
			msg := warningText(o, remoteVar, "invalidated_slot", "sub_lost")
			for _, want := range []string{"is invalidated", "Subscription sub_lost on " + localVar + " uses it and cannot resume"} {
				if !strings.Contains(msg, want) {
					t.Errorf("on %d the warning %q lacks %q", m.pub, msg, want)
				}
			}
			if m.pub >= 17 && !strings.Contains(msg, "max_slot_wal_keep_size") || m.pub < 17 && !strings.Contains(msg, "wal_status lost") {
				t.Errorf("on %d the reason is not in words: %q", m.pub, msg)
			}
			if html := renderReplication(t, o); !strings.Contains(html, `data-testid="slot-invalidated"`) || !strings.Contains(html, "max_slot_wal_keep_size 1.0 MB: a slot that retains more is invalidated") {
				t.Errorf("on %d the page does not show the invalidated slot and its limit", m.pub)
			}
		})
	}
}

// TestIdleSlotTimeout: PostgreSQL 18 invalidates a slot idle for longer
// than idle_replication_slot_timeout; pglinks shows when, next to the WAL
// it retains, and names the reason once it happened. 17 has no such
// timeout, and the page says so (TestSlotInactivityByMajor).
func TestIdleSlotTimeout(t *testing.T) {
	t.Parallel() // its own slots, or clusters of its own
	ctx := ctxFor(t)
	c := ownCluster(t, pgversion.NewestSupported, "idle_replication_slot_timeout = '1h'")
	db, err := c.CreateDatabase(ctx, fmt.Sprintf("pub_%d", seq.Add(1)), pgtest.DBOptions{NoFDW: true})
	if err != nil {
		t.Fatal(err)
	}
	execAs(t, c.SuperURL(db.Name), "SELECT pg_create_logical_replication_slot('idle', 'pgoutput')")
	svc := replication.New(newService(t, []string{remoteVar + "=" + db.URL}, pgversion.NewestSupported, nil).Fleet)
	clock := withClock(svc)
	o := svc.Overview(ctx)
	sl := findSlot(o, "idle")
	if sl == nil || sl.InvalidatesAt == nil || sl.InvalidatesAt.Sub(*sl.InactiveSince) != time.Hour {
		t.Fatalf("slot %+v", sl)
	}
	if html := renderReplication(t, o); !strings.Contains(html, "idle timeout: invalidated in 59 min") || !strings.Contains(html, "idle_replication_slot_timeout 1 h") {
		t.Errorf("the page does not say when the server invalidates the idle slot")
	}
	clock.Advance(replication.DefaultOrphanAfter)
	if msg := warningText(svc.Overview(ctx), remoteVar, "orphaned_slot", "idle"); !strings.Contains(msg, "The server invalidates it in 54 min (idle_replication_slot_timeout)") {
		t.Errorf("orphaned warning: %q", msg)
	}

	execAs(t, c.SuperURL("postgres"), "ALTER SYSTEM SET idle_replication_slot_timeout = '1s'")
	execAs(t, c.SuperURL("postgres"), "SELECT pg_reload_conf()")
	pgtest.Eventually(t, 30*time.Second, "the server invalidating the idle slot", func() bool {
		execAs(t, c.SuperURL("postgres"), "CHECKPOINT")
		sl := findSlot(svc.Overview(ctx), "idle")
		return sl != nil && sl.State == replication.SlotInvalidated
	})
	o = svc.Overview(ctx)
	if sl := findSlot(o, "idle"); sl.InvalidationReason != "idle_timeout" || !strings.Contains(warningText(o, remoteVar, "invalidated_slot", "idle"), "inactive for longer than idle_replication_slot_timeout") {
		t.Errorf("slot %+v, warnings %+v", sl, o.Warnings)
	}
}

// TestSubscriptionErrorCounts: from PostgreSQL 15 the apply worker's
// errors are counted per subscription and shown; on 14 the page says the
// counts need 15.
func TestSubscriptionErrorCounts(t *testing.T) {
	t.Parallel() // its own slots, or clusters of its own
	for _, p := range []pair{{14, 18}, {16, 17}} {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			ctx := ctxFor(t)
			w := newReplWorld(t, p)
			if pf, _, err := w.svc.CreatePublication(ctx, replication.PublicationRequest{ConfigVar: remoteVar, Name: "pub_orders", Tables: []string{"public.orders"}}); err != nil || !pf.OK() {
				t.Fatalf("publication: %v %v", err, pf)
			}
			if pf, _, err := w.svc.CreateSubscription(ctx, replication.SubscriptionRequest{PublisherVar: remoteVar, SubscriberVar: localVar, Publication: "pub_orders", Name: "sub_err", CopyData: true}); err != nil || !pf.OK() {
				t.Fatalf("subscription: %v %v", err, pf)
			}
			w.waitRunning(t, "sub_err")
			// A row the subscriber already has: the apply worker fails on it.
			execAs(t, w.sub.URL, "INSERT INTO orders VALUES (7, 'local')")
			execAs(t, w.pub.URL, "INSERT INTO orders VALUES (7, 'remote')")
			if p.local < 15 {
				time.Sleep(time.Second) // the worker fails meanwhile; 14 keeps no count of it
				o := w.overview(t)
				if s := findSub(o, "sub_err"); s.ApplyErrors != nil {
					t.Errorf("error counts on 14: %v", *s.ApplyErrors)
				}
				if !strings.Contains(renderReplication(t, o), "error counts need PostgreSQL 15") {
					t.Error("the page does not say the counts need 15")
				}
			} else {
				var o *replication.Overview
				pgtest.Eventually(t, 30*time.Second, "an apply error counted", func() bool {
					o = w.overview(t)
					s := findSub(o, "sub_err")
					return s != nil && s.ApplyErrors != nil && *s.ApplyErrors > 0
				})
				if html := renderReplication(t, o); !regexp.MustCompile(`data-testid="sub-errors"[^>]*>\s*[1-9][0-9]* apply errors?, [0-9]+ sync errors?`).MatchString(html) {
					t.Error("the page does not show the counts")
				}
			}
			execAs(t, w.sub.URL, "DELETE FROM orders WHERE id = 7")
			w.waitRows(t, 3)
		})
	}
}
