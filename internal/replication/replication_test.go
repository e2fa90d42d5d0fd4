package replication

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/pgtest"
)

func TestSubscriptionShownWithRowsFlowing(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.waitReady(t)
	pgtest.MustExec(t, w.pub.URL, "INSERT INTO orders VALUES (2, 'second')")
	pgtest.Eventually(t, 15*time.Second, "row 2 on the subscriber", func() bool {
		return pgtest.MustQueryInt(t, w.sub.URL, "SELECT count(*) FROM orders WHERE id = 2") == 1
	})

	o := w.overview(t)
	if o.Incomplete {
		t.Fatalf("overview incomplete: %+v", o.Databases)
	}
	sub := findSub(o, subVar, w.subName)
	if sub == nil {
		t.Fatal("subscription not shown")
	}
	if !sub.Enabled || !sub.WorkerRunning || sub.WorkerPID == 0 {
		t.Errorf("want enabled and running, got %+v", sub)
	}
	if sub.PublisherVar != pubVar {
		t.Errorf("publisher matched to %q, want %s", sub.PublisherVar, pubVar)
	}
	if strings.Contains(sub.PublisherShown, "password") || sub.PublisherShown == "" {
		t.Errorf("publisher shown as %q", sub.PublisherShown)
	}
	if sub.SlotName != w.subName || len(sub.Publications) != 1 || sub.Publications[0] != "pub_orders" {
		t.Errorf("slot %q publications %v", sub.SlotName, sub.Publications)
	}
	if sub.Tables.Ready != 1 {
		t.Errorf("tables %+v, want 1 ready", sub.Tables)
	}
	if sub.ApplyErrors == nil || *sub.ApplyErrors != 0 || sub.SyncErrors == nil {
		t.Errorf("error counters %v %v, want read and zero", sub.ApplyErrors, sub.SyncErrors)
	}
	if sub.LagBytes == nil {
		t.Error("lag not computed from the publisher's slot")
	}
	if sub.State != SubRunning || sub.PasswordRequired != nil || sub.RunAsOwner != nil {
		t.Errorf("state %q, options %v %v (PostgreSQL 15 has none)", sub.State, sub.PasswordRequired, sub.RunAsOwner)
	}
	pub := findDB(o, pubVar)
	if len(pub.Publications) != 1 || pub.Publications[0].Name != "pub_orders" || pub.Publications[0].AllTables ||
		strings.Join(pub.Publications[0].Tables, ",") != "public.orders" ||
		strings.Join(pub.Publications[0].Operations(), ",") != "insert,update,delete,truncate" {
		t.Errorf("publications %+v", pub.Publications)
	}
	slot := findSlot(o, pubVar, w.subName)
	if slot == nil || slot.Type != "logical" || slot.Plugin != "pgoutput" || !slot.Active || slot.Orphaned || slot.State != SlotActive ||
		slot.UsedBy.String() != subVar+"/"+w.subName || slot.RetainedBytes == nil || slot.WALStatus != "reserved" || slot.DropOffered() {
		t.Fatalf("slot %+v", slot)
	}
	if ws := o.Warnings; len(ws) != 0 {
		t.Errorf("want no warnings, got %+v", ws)
	}
}

func TestDisableThenEnable(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.waitReady(t)
	ctx := context.Background()
	res, err := w.svc.SetEnabled(ctx, subVar, w.subName, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "ALTER SUBSCRIPTION " + w.subName + " DISABLE"; len(res.SQL) != 1 || res.SQL[0] != `ALTER SUBSCRIPTION "`+w.subName+`" DISABLE` {
		t.Errorf("SQL %v, want %s", res.SQL, want)
	}
	var o *Overview
	pgtest.Eventually(t, 15*time.Second, "worker stopped", func() bool {
		o = w.overview(t)
		s := findSub(o, subVar, w.subName)
		return s != nil && !s.Enabled && !s.WorkerRunning
	})
	if !hasWarning(o, subVar, "disabled", w.subName) {
		t.Errorf("no disabled warning: %+v", o.Warnings)
	}
	pgtest.Eventually(t, 10*time.Second, "slot inactive", func() bool {
		o = w.overview(t)
		s := findSlot(o, pubVar, w.subName)
		return s != nil && !s.Active
	})
	w.clock.Advance(w.svc.OrphanAfter)
	o = w.overview(t)
	if !hasWarning(o, pubVar, "inactive_slot", w.subName) {
		t.Errorf("no inactive slot warning: %+v", o.Warnings)
	}
	if _, err := w.svc.SetEnabled(ctx, subVar, w.subName, true); err != nil {
		t.Fatal(err)
	}
	pgtest.Eventually(t, 15*time.Second, "worker running again", func() bool {
		s := findSub(w.overview(t), subVar, w.subName)
		return s != nil && s.Enabled && s.WorkerRunning
	})
}

func TestDropSubscriptionWithPublisherStopped(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.waitReady(t)
	ctx := context.Background()

	pubCluster.Halt()
	resumed := false
	defer func() {
		if !resumed {
			pubCluster.Resume(context.Background(), 0)
		}
	}()

	plan, err := w.svc.PlanDropSubscription(ctx, subVar, w.subName)
	if err != nil {
		t.Fatal(err)
	}
	if plan.PublisherReachable || !strings.Contains(plan.SlotFate, "safe path") {
		t.Errorf("plan %+v", plan)
	}
	// With the publisher known not to answer, only the safe path runs.
	safe := []string{`ALTER SUBSCRIPTION "` + w.subName + `" DISABLE`, `ALTER SUBSCRIPTION "` + w.subName + `" SET (slot_name = NONE)`, `DROP SUBSCRIPTION "` + w.subName + `"`}
	if plan.PlainSQL != nil || strings.Join(plan.SafeSQL, ";") != strings.Join(safe, ";") {
		t.Errorf("plan SQL: plain %q, safe %q", plan.PlainSQL, plan.SafeSQL)
	}
	start := time.Now()
	res, err := w.svc.DropSubscription(ctx, DropSubscriptionRequest{ConfigVar: subVar, Name: w.subName, Confirm: w.subName})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if took > 8*time.Second {
		t.Errorf("drop took %s", took)
	}
	if !res.SafePath || res.OrphanedSlot != w.subName || res.OrphanedOn != pubVar || strings.Join(res.SQL, ";") != strings.Join(safe, ";") {
		t.Errorf("result %+v, want the SQL the plan showed", res)
	}
	if n := pgtest.MustQueryInt(t, w.subSuperURL, "SELECT count(*) FROM pg_subscription WHERE subname = $1", w.subName); n != 0 {
		t.Fatal("subscription still there")
	}

	if err := pubCluster.Resume(ctx, 0); err != nil {
		t.Fatal(err)
	}
	resumed = true
	var o *Overview
	pgtest.Eventually(t, 15*time.Second, "publisher readable again", func() bool {
		o = w.overview(t)
		return findSlot(o, pubVar, w.subName) != nil
	})
	slot := findSlot(o, pubVar, w.subName)
	if slot.Active || !slot.Orphaned || slot.RetainedBytes == nil {
		t.Fatalf("slot %+v, want orphaned and inactive", slot)
	}
	// Inactive for less than the threshold: no alarm yet, no offer.
	if hasWarning(o, pubVar, "orphaned_slot", w.subName) || slot.DropOffered() || slot.State != SlotInactive {
		t.Errorf("a slot inactive for %s is already an alarm (%s): %+v", slot.InactiveFor(o.ReadAt), slot.State, o.Warnings)
	}
	w.clock.Advance(w.svc.OrphanAfter)
	o = w.overview(t)
	slot = findSlot(o, pubVar, w.subName)
	if !hasWarning(o, pubVar, "orphaned_slot", w.subName) || !slot.DropOffered() {
		t.Errorf("no orphaned warning or offer after %s: %+v", w.svc.OrphanAfter, o.Warnings)
	}
	before := *slot.RetainedBytes
	pgtest.MustExec(t, w.pub.URL, "INSERT INTO orders SELECT g, repeat('x', 200) FROM generate_series(100, 5100) g")
	slot = findSlot(w.overview(t), pubVar, w.subName)
	if slot == nil || slot.RetainedBytes == nil || *slot.RetainedBytes <= before {
		t.Fatalf("retained WAL did not grow: before %d, slot %+v", before, slot)
	}

	// A mismatched name changes nothing.
	if _, err := w.svc.DropSlot(ctx, DropSlotRequest{ConfigVar: pubVar, Name: w.subName, Confirm: w.subName + "x"}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("mismatch: %v", err)
	}
	if findSlot(w.overview(t), pubVar, w.subName) == nil {
		t.Fatal("slot gone after a mismatched confirmation")
	}
	res, err = w.svc.DropSlot(ctx, DropSlotRequest{ConfigVar: pubVar, Name: w.subName, Confirm: w.subName})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.SQL[len(res.SQL)-1], "pg_drop_replication_slot('"+w.subName+"')") {
		t.Errorf("SQL %v", res.SQL)
	}
	if n := pgtest.MustQueryInt(t, pubCluster.SuperURL("postgres"), "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", w.subName); n != 0 {
		t.Fatal("slot still there")
	}
}

func TestDropSubscriptionWithPublisherUp(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.waitReady(t)
	ctx := context.Background()
	plan, err := w.svc.PlanDropSubscription(ctx, subVar, w.subName)
	if err != nil {
		t.Fatal(err)
	}
	// The plain drop, and the safe path should the subscriber not reach
	// the publisher after all.
	if strings.Join(plan.PlainSQL, ";") != `DROP SUBSCRIPTION "`+w.subName+`"` || len(plan.SafeSQL) != 3 {
		t.Errorf("plan SQL: plain %q, safe %q", plan.PlainSQL, plan.SafeSQL)
	}
	if _, err := w.svc.DropSubscription(ctx, DropSubscriptionRequest{ConfigVar: subVar, Name: w.subName, Confirm: "sub_orders"}); !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "confirm" {
		t.Fatalf("mismatch: %v", err)
	}
	if n := pgtest.MustQueryInt(t, w.subSuperURL, "SELECT count(*) FROM pg_subscription WHERE subname = $1", w.subName); n != 1 {
		t.Fatal("mismatched confirmation dropped the subscription")
	}
	// The active slot is refused, with the reason.
	_, err = w.svc.DropSlot(ctx, DropSlotRequest{ConfigVar: pubVar, Name: w.subName, Confirm: w.subName})
	if !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), "active") {
		t.Fatalf("active slot: %v", err)
	}
	res, err := w.svc.DropSubscription(ctx, DropSubscriptionRequest{ConfigVar: subVar, Name: w.subName, Confirm: w.subName})
	if err != nil {
		t.Fatal(err)
	}
	if res.SafePath || res.SQL[len(res.SQL)-1] != plan.PlainSQL[0] {
		t.Errorf("safe path taken with the publisher up, or not the SQL shown: %+v", res)
	}
	if n := pgtest.MustQueryInt(t, pubCluster.SuperURL("postgres"), "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", w.subName); n != 0 {
		t.Fatal("plain drop left the slot")
	}
	o := w.overview(t)
	if len(o.Warnings) != 0 {
		t.Errorf("warnings after a clean drop: %+v", o.Warnings)
	}
}

func TestUnprivilegedRoleSeesReasons(t *testing.T) {
	w := newWorld(t, worldOpts{Unprivileged: true})
	ctx := context.Background()
	slot := fmt.Sprintf("stray_%d", seq.Add(1))
	pgtest.MustExec(t, w.pubSuperURL, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", slot)
	t.Cleanup(func() { pubCluster.Exec(context.Background(), "postgres", "SELECT pg_drop_replication_slot($1)", slot) })
	w.waitReady(t)

	o := w.overview(t)
	sd := findDB(o, subVar)
	if !sd.Reachable || sd.Superuser {
		t.Fatalf("subscriber %+v", sd)
	}
	sub := findSub(o, subVar, w.subName)
	if sub == nil || sub.ConnInfoReadable || sub.PublisherShown != "" || !sub.WorkerRunning {
		t.Fatalf("subscription %+v", sub)
	}
	if !strings.Contains(strings.Join(sd.Notes, " "), "not readable by this role") {
		t.Errorf("notes %v", sd.Notes)
	}
	if sd.CanManageSubscriptions() || !strings.Contains(sd.ManageReason, "superuser") {
		t.Errorf("manage reason %q", sd.ManageReason)
	}
	// The subscription's slot is still tied to it by name.
	if s := findSlot(o, pubVar, w.subName); s == nil || s.Orphaned {
		t.Errorf("slot %+v", s)
	}
	if s := findSlot(o, pubVar, slot); s == nil || !s.Orphaned || s.Active {
		t.Errorf("stray slot %+v", s)
	}
	if _, err := w.svc.SetEnabled(ctx, subVar, w.subName, false); !errs.Is(err, errs.Forbidden) {
		t.Errorf("disable as non-superuser: %v", err)
	}
	_, err := w.svc.DropSlot(ctx, DropSlotRequest{ConfigVar: pubVar, Name: slot, Confirm: slot})
	if !errs.Is(err, errs.Forbidden) || !strings.Contains(errs.MessageOf(err), "dropping slots needs a role with REPLICATION") {
		t.Errorf("drop slot as non-replication role: %v", err)
	}
	if n := pgtest.MustQueryInt(t, w.pubSuperURL, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", slot); n != 1 {
		t.Error("slot dropped by an unprivileged role")
	}
}

func TestUnreachableDatabaseShownAsSuch(t *testing.T) {
	w := newWorld(t, worldOpts{NoSubscription: true})
	port, err := pgtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	env := []string{subVar + "=" + w.subSuperURL, pubVar + "=" + w.pub.URL,
		fmt.Sprintf("HEROKU_POSTGRESQL_GONE_URL=postgres://u:p@127.0.0.1:%d/gone?sslmode=disable", port)}
	fl, err := fleet.Load(env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fl.Close)
	w.svc.Fleet = fl
	start := time.Now()
	o := w.overview(t)
	if time.Since(start) > 6*time.Second {
		t.Errorf("overview took %s", time.Since(start))
	}
	gone := findDB(o, "HEROKU_POSTGRESQL_GONE_URL")
	if gone.Reachable || !strings.Contains(gone.Error, "unreachable") || !o.Incomplete {
		t.Errorf("gone %+v", gone)
	}
	if d := findDB(o, pubVar); !d.Reachable || len(d.Publications) != 1 {
		t.Errorf("publisher %+v", d)
	}
}

func TestParseConnInfo(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"host=db.example.com port=5433 dbname=shop user=rep password=secret", "host=db.example.com port=5433 dbname=shop user=rep"},
		{"host='a b' dbname='it\\'s' user=x password='p w'", "host=a b port=5432 dbname=it's user=x"},
		{"postgres://rep:secret@127.0.0.1:6000/orders?sslmode=disable", "host=127.0.0.1 port=6000 dbname=orders user=rep"},
		{"user=me", "host= port=5432 dbname=me user=me"},
	} {
		got := parseConnInfo(tc.in).String()
		if got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "secret") {
			t.Errorf("%q: password leaked", tc.in)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 1023: "1023 bytes", 1536: "1.5 kB", 1288490189: "1.2 GB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
