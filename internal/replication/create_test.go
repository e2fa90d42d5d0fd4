package replication

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/pgtest"
)

func TestCreatePublicationPreflight(t *testing.T) {
	w := newWorld(t, worldOpts{NoSubscription: true, Unprivileged: true})
	ctx := context.Background()
	pgtest.MustExec(t, w.pubSuperURL, `CREATE TABLE not_mine (id int PRIMARY KEY)`)

	if _, err := w.svc.PlanPublication(ctx, PublicationRequest{ConfigVar: pubVar, Name: "p"}); !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "tables" {
		t.Fatalf("no tables: %v", err)
	}
	p, err := w.svc.PlanPublication(ctx, PublicationRequest{ConfigVar: pubVar, Name: "pub_orders", AllTables: true})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(p.Problems, "\n")
	for _, want := range []string{"already exists", "FOR ALL TABLES needs a superuser"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	if _, res, err := w.svc.CreatePublication(ctx, PublicationRequest{ConfigVar: pubVar, Name: "pub_bad", Tables: []string{"public.not_mine", "public.nope"}}); err != nil || res != nil {
		t.Fatalf("create with problems ran: %v %v", res, err)
	}
	p, _ = w.svc.PlanPublication(ctx, PublicationRequest{ConfigVar: pubVar, Name: "pub_bad", Tables: []string{"public.not_mine", "public.nope"}})
	all = strings.Join(p.Problems, "\n")
	for _, want := range []string{"does not own public.not_mine", "There is no table public.nope"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	if n := pgtest.MustQueryInt(t, w.pub.URL, "SELECT count(*) FROM pg_publication WHERE pubname = 'pub_bad'"); n != 0 {
		t.Fatal("a publication with problems was created")
	}

	_, res, err := w.svc.CreatePublication(ctx, PublicationRequest{ConfigVar: pubVar, Name: `pub "new"`, Tables: []string{"public.orders"}})
	if err != nil || res == nil {
		t.Fatalf("create: %v", err)
	}
	if res.SQL[0] != `CREATE PUBLICATION "pub ""new""" FOR TABLE public.orders` {
		t.Errorf("SQL %v", res.SQL)
	}
	if n := pgtest.MustQueryInt(t, w.pub.URL, `SELECT count(*) FROM pg_publication_tables WHERE pubname = 'pub "new"' AND tablename = 'orders'`); n != 1 {
		t.Fatal("publication not created")
	}
}

func TestCreateSubscriptionPreflight(t *testing.T) {
	w := newWorld(t, worldOpts{NoSubscription: true})
	ctx := context.Background()
	pgtest.MustExec(t, w.pub.URL, `CREATE TABLE extra (id int PRIMARY KEY); CREATE TABLE wide (id int PRIMARY KEY, a text, "b c" text);
		CREATE PUBLICATION pub_mismatch FOR TABLE extra, wide`)
	pgtest.MustExec(t, w.sub.URL, `CREATE TABLE wide (id int PRIMARY KEY, a text, local_only int)`)

	p, err := w.svc.PlanSubscription(ctx, SubscriptionRequest{PublisherVar: pubVar, SubscriberVar: subVar, Publication: "pub_mismatch", Name: w.subName, CopyData: true})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(p.Problems, "\n")
	for _, want := range []string{"public.extra is missing on " + subVar, `public.wide on ` + subVar + ` lacks published columns: "b c"`} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	if len(p.Problems) != 2 {
		t.Errorf("want exactly 2 problems, got:\n%s", all)
	}
	// A column list publishes only some columns: the subscriber needs only those.
	pgtest.MustExec(t, w.pub.URL, `CREATE PUBLICATION pub_cols FOR TABLE wide (id, a)`)
	p, err = w.svc.PlanSubscription(ctx, SubscriptionRequest{PublisherVar: pubVar, SubscriberVar: subVar, Publication: "pub_cols", Name: w.subName})
	if err != nil || !p.OK() {
		t.Errorf("column list: %v %v", err, p.Problems)
	}
	p, _ = w.svc.PlanSubscription(ctx, SubscriptionRequest{PublisherVar: pubVar, SubscriberVar: subVar, Publication: "nope", Name: w.subName})
	if !strings.Contains(strings.Join(p.Problems, "\n"), "There is no publication nope") {
		t.Errorf("problems %v", p.Problems)
	}
	if _, err := w.svc.PlanSubscription(ctx, SubscriptionRequest{PublisherVar: pubVar, SubscriberVar: pubVar, Publication: "pub_orders", Name: "x"}); !errs.Is(err, errs.Invalid) {
		t.Errorf("same database: %v", err)
	}

	p, res, err := w.svc.CreateSubscription(ctx, SubscriptionRequest{PublisherVar: pubVar, SubscriberVar: subVar, Publication: "pub_orders", Name: w.subName, CopyData: true})
	if err != nil || res == nil {
		t.Fatalf("create: %v, problems %v", err, p.Problems)
	}
	t.Cleanup(func() { w.cleanupSubscription(t) })
	audit := strings.Join(res.SQL, "\n")
	if strings.Contains(audit, w.pub.Password) || !strings.Contains(audit, "connect_timeout=5") || !strings.Contains(audit, "copy_data = true") {
		t.Errorf("audit SQL %q", audit)
	}
	pgtest.Eventually(t, 20*time.Second, "the first row copied to the subscriber", func() bool {
		return pgtest.MustQueryInt(t, w.sub.URL, "SELECT count(*) FROM orders") == 1
	})
	w.waitReady(t)
	if sub := findSub(w.overview(t), subVar, w.subName); sub == nil || sub.PublisherVar != pubVar {
		t.Errorf("created subscription %+v", sub)
	}
	// Its name and slot are now taken.
	p, _ = w.svc.PlanSubscription(ctx, SubscriptionRequest{PublisherVar: pubVar, SubscriberVar: subVar, Publication: "pub_orders", Name: w.subName})
	all = strings.Join(p.Problems, "\n")
	if !strings.Contains(all, "already exists in "+subVar) || !strings.Contains(all, "replication slot named "+w.subName+" already exists") {
		t.Errorf("problems %s", all)
	}
}

func TestCreateSubscriptionNeedsPrivileges(t *testing.T) {
	w := newWorld(t, worldOpts{NoSubscription: true, Unprivileged: true})
	p, err := w.svc.PlanSubscription(context.Background(), SubscriptionRequest{PublisherVar: pubVar, SubscriberVar: subVar, Publication: "pub_orders", Name: w.subName})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(p.Problems, "\n")
	for _, want := range []string{"needs a superuser", "neither REPLICATION nor superuser"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
}

func TestPreflightNamesWalLevel(t *testing.T) {
	ctx := context.Background()
	plain, err := pgtest.Start(ctx, pgtest.Options{ForTests: true})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Stop()
	w := newWorld(t, worldOpts{NoSubscription: true})
	pgtest.MustExec(t, plain.SuperURL("postgres"), "CREATE DATABASE legacy")
	pgtest.MustExec(t, plain.SuperURL("legacy"), schemaSQL+"; CREATE PUBLICATION pub_orders FOR TABLE orders")
	fl, err := fleet.Load([]string{subVar + "=" + w.subSuperURL, pubVar + "=" + plain.SuperURL("legacy")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fl.Close)
	w.svc.Fleet = fl
	p, err := w.svc.PlanSubscription(ctx, SubscriptionRequest{PublisherVar: pubVar, SubscriberVar: subVar, Publication: "pub_orders", Name: w.subName})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Problems) != 1 || !strings.Contains(p.Problems[0], `wal_level on the publisher `+pubVar+` is "replica"`) {
		t.Errorf("problems %v", p.Problems)
	}
	pp, err := w.svc.PlanPublication(ctx, PublicationRequest{ConfigVar: pubVar, Name: "pub_more", Tables: []string{"public.orders"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(pp.Problems) != 1 || !strings.Contains(pp.Problems[0], "wal_level") {
		t.Errorf("publication problems %v", pp.Problems)
	}
}

// The subscription's connection string means what the publisher's URL
// means: a percent-encoded space in application_name reaches the publisher
// as a space (not "+"), quotes and backslashes intact.
func TestSubscriptionConnInfoKeepsTheURLsMeaning(t *testing.T) {
	const appName = `odd pub+x'q\b`
	w := newWorld(t, worldOpts{NoSubscription: true, PubQuery: "application_name=odd%20pub%2Bx%27q%5Cb"})
	ctx := context.Background()
	p, res, err := w.svc.CreateSubscription(ctx, SubscriptionRequest{PublisherVar: pubVar, SubscriberVar: subVar, Publication: "pub_orders", Name: w.subName})
	if err != nil || res == nil {
		t.Fatalf("create: %v, problems %v", err, p.Problems)
	}
	t.Cleanup(func() { w.cleanupSubscription(t) })
	if audit := strings.Join(res.SQL, "\n"); strings.Contains(audit, w.pub.Password) || !strings.Contains(audit, "password=***") {
		t.Errorf("audit SQL shows the password or no mask: %s", audit)
	}
	pgtest.Eventually(t, 20*time.Second, "the subscription's walsender on the publisher", func() bool {
		return pgtest.MustQueryInt(t, pubCluster.SuperURL("postgres"), "SELECT count(*) FROM pg_stat_replication WHERE application_name = $1", appName) == 1
	})
}
