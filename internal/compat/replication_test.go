package compat

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/replication"
)

// replWorld is one pair's subscriber (on the local major, in the fleet
// under its cluster's superuser URL: PostgreSQL 15 lets only superusers
// manage subscriptions) and publisher (on the remote major, its owner with
// REPLICATION so slots can be dropped).
type replWorld struct {
	p        pair
	sub, pub *pgtest.Database
	subSuper string
	svc      *replication.Service
	clock    *testClock
}

func newReplWorld(t *testing.T, p pair) *replWorld {
	t.Helper()
	w := &replWorld{p: p, sub: newDB(t, p.local, "sub", pgtest.DBOptions{NoFDW: true}), pub: newDB(t, p.remote, "pub", pgtest.DBOptions{NoFDW: true})}
	w.subSuper = clusters[p.local].SuperURL(w.sub.Name)
	execAs(t, w.pub.URL, `CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders VALUES (1, 'first'), (2, 'second')`)
	execAs(t, w.sub.URL, `CREATE TABLE orders (id int PRIMARY KEY, note text)`)
	execAs(t, clusters[p.remote].SuperURL("postgres"), "ALTER ROLE "+pgIdent(w.pub.Owner)+" REPLICATION")
	svc := newService(t, []string{localVar + "=" + w.subSuper, remoteVar + "=" + w.pub.URL}, p.local, nil)
	w.svc = replication.New(svc.Fleet)
	w.clock = withClock(w.svc)
	t.Cleanup(func() { w.cleanup() })
	return w
}

// cleanup drops what a failed test left, so slots do not pile up on the
// shared clusters.
func (w *replWorld) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = clusters[w.p.local].Exec(ctx, w.sub.Name, `DO $$DECLARE s record; BEGIN
		FOR s IN SELECT subname FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) LOOP
			EXECUTE format('ALTER SUBSCRIPTION %I DISABLE', s.subname);
			EXECUTE format('ALTER SUBSCRIPTION %I SET (slot_name = NONE)', s.subname);
			EXECUTE format('DROP SUBSCRIPTION %I', s.subname);
		END LOOP; END$$`)
	_ = clusters[w.p.remote].Exec(ctx, "postgres", `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active`, w.pub.Name)
}

func (w *replWorld) overview(t *testing.T) *replication.Overview {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return w.svc.Overview(ctx)
}

func findDB(o *replication.Overview, configVar string) *replication.Database {
	for i := range o.Databases {
		if o.Databases[i].DB.ConfigVar == configVar {
			return &o.Databases[i]
		}
	}
	return nil
}

func findSub(o *replication.Overview, name string) *replication.Subscription {
	if d := findDB(o, localVar); d != nil {
		for i := range d.Subscriptions {
			if d.Subscriptions[i].Name == name {
				return &d.Subscriptions[i]
			}
		}
	}
	return nil
}

func findSlot(o *replication.Overview, name string) *replication.Slot {
	if d := findDB(o, remoteVar); d != nil {
		for i := range d.Slots {
			if d.Slots[i].Name == name {
				return &d.Slots[i]
			}
		}
	}
	return nil
}

func hasWarning(o *replication.Overview, configVar, kind, object string) bool {
	for _, w := range o.WarningsFor(configVar) {
		if w.Kind == kind && w.Object == object {
			return true
		}
	}
	return false
}

// waitRunning waits until subscription name's worker runs with its table
// ready.
func (w *replWorld) waitRunning(t *testing.T, name string) {
	t.Helper()
	pgtest.Eventually(t, 30*time.Second, name+" running with its table ready", func() bool {
		sub := findSub(w.overview(t), name)
		return sub != nil && sub.Enabled && sub.WorkerRunning && sub.Tables.Ready == 1 && sub.Tables.Total() == 1
	})
}

// waitRows waits until the subscriber holds n rows.
func (w *replWorld) waitRows(t *testing.T, n int) {
	t.Helper()
	pgtest.Eventually(t, 30*time.Second, fmt.Sprintf("%d rows on the subscriber", n), func() bool {
		return queryInt(t, w.sub.URL, "SELECT count(*) FROM orders") == n
	})
}

// TestReplication runs the replication overview and every replication
// action with a subscriber on each supported major and its publisher on
// another.
func TestReplication(t *testing.T) {
	forEachPair(t, func(t *testing.T, p pair) {
		ctx := ctxFor(t)
		w := newReplWorld(t, p)
		const first, second = "sub_orders", "sub_orders_2"

		t.Run("CreatePublication", func(t *testing.T) {
			tables, err := w.svc.Tables(ctx, remoteVar)
			if err != nil || len(tables) != 1 || tables[0].Qualified != "public.orders" || !tables[0].Owned {
				t.Fatalf("tables: %+v, %v", tables, err)
			}
			pf, res, err := w.svc.CreatePublication(ctx, replication.PublicationRequest{ConfigVar: remoteVar, Name: "pub_orders", Tables: []string{tables[0].Qualified}})
			if err != nil || res == nil {
				t.Fatalf("create publication: %v, problems %v", err, pf.Problems)
			}
			if names, err := w.svc.Publications(ctx, remoteVar); err != nil || !slices.Equal(names, []string{"pub_orders"}) {
				t.Fatalf("publications: %v, %v", names, err)
			}
		})

		t.Run("CreateSubscription", func(t *testing.T) {
			req := replication.SubscriptionRequest{PublisherVar: remoteVar, SubscriberVar: localVar, Publication: "pub_orders", Name: first, CopyData: true}
			pf, err := w.svc.PlanSubscription(ctx, req)
			if err != nil || !pf.OK() {
				t.Fatalf("preflight: %v, problems %v", err, pf.Problems)
			}
			pf, res, err := w.svc.CreateSubscription(ctx, req)
			if err != nil || res == nil {
				t.Fatalf("create subscription: %v, problems %v", err, pf.Problems)
			}
			if audit := strings.Join(res.SQL, "\n"); strings.Contains(audit, w.pub.Password) {
				t.Errorf("the audit SQL holds the publisher's password: %s", audit)
			}
			w.waitRows(t, 2)
			w.waitRunning(t, first)
		})

		t.Run("Overview", func(t *testing.T) {
			o := w.overview(t)
			subDB, pubDB := findDB(o, localVar), findDB(o, remoteVar)
			if !subDB.Reachable || !pubDB.Reachable || subDB.Version/10000 != p.local || pubDB.Version/10000 != p.remote {
				t.Fatalf("databases: subscriber %+v, publisher %+v", subDB, pubDB)
			}
			if len(subDB.Notes)+len(pubDB.Notes) != 0 || !subDB.CanManageSubscriptions() || !pubDB.CanDropSlots() {
				t.Errorf("notes %q %q, manage %q, drop slots %q", subDB.Notes, pubDB.Notes, subDB.ManageReason, pubDB.DropSlotReason)
			}
			sub := findSub(o, first)
			if sub.PublisherVar != remoteVar || sub.SlotName != first || !slices.Equal(sub.Publications, []string{"pub_orders"}) || sub.LagBytes == nil {
				t.Errorf("subscription: %+v", sub)
			}
			if (sub.ApplyErrors != nil) != (p.local >= 15) {
				t.Errorf("error counters on %d: %v (they come with 15)", p.local, sub.ApplyErrors)
			}
			if len(pubDB.Publications) != 1 || !slices.Equal(pubDB.Publications[0].Tables, []string{"public.orders"}) {
				t.Errorf("publications: %+v", pubDB.Publications)
			}
			sl := findSlot(o, first)
			if sl == nil || sl.UsedBy.String() != localVar+"/"+first || sl.Orphaned || !sl.Active || sl.RetainedBytes == nil || sl.WALStatus != "reserved" {
				t.Errorf("slot: %+v", sl)
			}
			if ws := append(o.WarningsFor(localVar), o.WarningsFor(remoteVar)...); len(ws) != 0 {
				t.Errorf("warnings on a healthy subscription: %+v", ws)
			}
			execAs(t, w.pub.URL, "INSERT INTO orders VALUES (3, 'third')")
			w.waitRows(t, 3)
		})

		t.Run("OverviewAsOwnerRoles", func(t *testing.T) {
			// As on a hosted plan: the subscriber's own role, no superuser.
			svc := newService(t, []string{localVar + "=" + w.sub.URL, remoteVar + "=" + w.pub.URL}, p.local, nil)
			o := replication.New(svc.Fleet).Overview(ctx)
			d := findDB(o, localVar)
			sub := findSub(o, first)
			if !d.Reachable || sub == nil || !sub.WorkerRunning || sub.ConnInfoReadable {
				t.Fatalf("subscriber read as its owner: %+v, subscription %+v", d, sub)
			}
			if len(d.Notes) != 1 || !strings.Contains(d.Notes[0], "not readable by this role") {
				t.Errorf("notes: %q", d.Notes)
			}
			want := "needs its owner or a superuser"
			if p.local < 16 {
				want = fmt.Sprintf("needs a superuser on PostgreSQL %d", p.local)
			}
			if !strings.Contains(d.ManageReason, want) {
				t.Errorf("manage reason on %d: %q, want %q", p.local, d.ManageReason, want)
			}
			if _, err := replication.New(svc.Fleet).SetEnabled(ctx, localVar, first, false); err == nil {
				t.Error("a role that may not change the subscription disabled it")
			}
		})

		t.Run("DisableEnable", func(t *testing.T) {
			if _, err := w.svc.SetEnabled(ctx, localVar, first, false); err != nil {
				t.Fatal(err)
			}
			pgtest.Eventually(t, 30*time.Second, "disabled, its slot inactive", func() bool {
				o := w.overview(t)
				sl := findSlot(o, first)
				return hasWarning(o, localVar, "disabled", first) && sl != nil && !sl.Active
			})
			// Inactive for moments is no alarm; past the threshold it is.
			if o := w.overview(t); hasWarning(o, remoteVar, "inactive_slot", first) {
				t.Errorf("alarm on a slot inactive for moments: %+v", o.Warnings)
			}
			w.clock.Advance(replication.DefaultOrphanAfter)
			if o := w.overview(t); !hasWarning(o, remoteVar, "inactive_slot", first) {
				t.Errorf("no alarm past the threshold: %+v", o.Warnings)
			}
			w.clock.Advance(-replication.DefaultOrphanAfter) // the slots made next are new
			execAs(t, w.pub.URL, "INSERT INTO orders VALUES (4, 'while disabled')")
			if _, err := w.svc.SetEnabled(ctx, localVar, first, true); err != nil {
				t.Fatal(err)
			}
			w.waitRunning(t, first)
			w.waitRows(t, 4)
		})

		t.Run("Drop", func(t *testing.T) {
			plan, err := w.svc.PlanDropSubscription(ctx, localVar, first)
			if err != nil || !plan.PublisherReachable || plan.Publisher != remoteVar {
				t.Fatalf("plan: %+v, %v", plan, err)
			}
			res, err := w.svc.DropSubscription(ctx, replication.DropSubscriptionRequest{ConfigVar: localVar, Name: first, Confirm: first})
			if err != nil || res.SafePath {
				t.Fatalf("drop: %+v, %v", res, err)
			}
			o := w.overview(t)
			if findSub(o, first) != nil || findSlot(o, first) != nil {
				t.Fatal("the subscription or its slot is still there")
			}
		})

		t.Run("DropBySafePathThenDropSlot", func(t *testing.T) {
			req := replication.SubscriptionRequest{PublisherVar: remoteVar, SubscriberVar: localVar, Publication: "pub_orders", Name: second}
			if pf, _, err := w.svc.CreateSubscription(ctx, req); err != nil || !pf.OK() {
				t.Fatalf("create: %v, problems %v", err, pf.Problems)
			}
			w.waitRunning(t, second)
			// The publisher moves away from where the subscription looks.
			port, err := pgtest.FreePort()
			if err != nil {
				t.Fatal(err)
			}
			execAs(t, w.subSuper, fmt.Sprintf("ALTER SUBSCRIPTION %s CONNECTION 'host=127.0.0.1 port=%d dbname=gone user=gone connect_timeout=1'", second, port))
			plan, err := w.svc.PlanDropSubscription(ctx, localVar, second)
			if err != nil || plan.PublisherReachable || !plan.PublisherKnown {
				t.Fatalf("plan: %+v, %v", plan, err)
			}
			res, err := w.svc.DropSubscription(ctx, replication.DropSubscriptionRequest{ConfigVar: localVar, Name: second, Confirm: second})
			if err != nil || !res.SafePath || res.OrphanedSlot != second {
				t.Fatalf("drop: %+v, %v", res, err)
			}
			pgtest.Eventually(t, 30*time.Second, "the slot left behind orphaned and inactive", func() bool {
				sl := findSlot(w.overview(t), second)
				return sl != nil && sl.Orphaned && !sl.Active
			})
			if sp, err := w.svc.PlanDropSlot(ctx, remoteVar, second); err != nil || sp.Refusal == "" {
				t.Fatalf("a slot inactive for moments offered for dropping: %+v, %v", sp, err)
			}
			w.clock.Advance(replication.DefaultOrphanAfter)
			if o := w.overview(t); !hasWarning(o, remoteVar, "orphaned_slot", second) {
				t.Fatalf("no orphaned warning past the threshold: %+v", o.Warnings)
			}
			sp, err := w.svc.PlanDropSlot(ctx, remoteVar, second)
			if err != nil || sp.Refusal != "" {
				t.Fatalf("plan drop slot: %+v, %v", sp, err)
			}
			if _, err := w.svc.DropSlot(ctx, replication.DropSlotRequest{ConfigVar: remoteVar, Name: second, Confirm: second}); err != nil {
				t.Fatal(err)
			}
			if n := queryInt(t, clusters[p.remote].SuperURL("postgres"), "SELECT count(*) FROM pg_replication_slots WHERE database = $1", w.pub.Name); n != 0 {
				t.Fatalf("%d slots left on the publisher", n)
			}
		})
	})
}
