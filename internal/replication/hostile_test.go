package replication

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// The replication page's reads and the creation preflights resolve names
// to PostgreSQL's own functions, whatever another role put on the default
// search_path of pglinks' role: here aggregates and a format() that leak
// what only that role can read, in a schema named after it.
func TestReadsIgnoreAHijackedSearchPath(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, worldOpts{Unprivileged: true, NoSubscription: true})
	in, err := pubCluster.AddIntruder(ctx, w.pub)
	if err != nil {
		t.Fatal(err)
	}
	in.HijackSearchPath(t, w.pub.Owner)
	o := w.overview(t)
	tables, err := w.svc.Tables(ctx, pubVar)
	if err != nil {
		t.Fatal(err)
	}
	pubs, err := w.svc.Publications(ctx, pubVar)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := w.svc.PlanPublication(ctx, PublicationRequest{ConfigVar: pubVar, Name: "pub_more", Tables: []string{"public.orders"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal([]any{o, tables, pubs, plan})
	if ran := in.Ran(t); len(ran) > 0 {
		t.Errorf("the intruder's code ran as another role: %v", ran)
	}
	if strings.Contains(string(b), in.Secret) || strings.Contains(string(b), "LEAKED") {
		t.Errorf("the intruder's secret leaked: %.2000s", b)
	}
	if db := findDB(o, pubVar); db == nil || len(db.Publications) != 1 || strings.Join(db.Publications[0].Tables, ",") != "public.orders" {
		t.Errorf("publications = %+v", db)
	}
}
