package demo

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/links"
)

// The demo's crm link shows drift once crm gains a table, and a refresh
// brings the table in without a destroy. Both clusters run the default
// major here, so the replication path is walked on it too (TestDemoPath
// walks it on the newest).
func TestDemoDrift(t *testing.T) {
	ctx := context.Background()
	env, svc := startDemo(t)

	const local = "HEROKU_POSTGRESQL_BLUE_URL"
	if _, err := svc.CreateLink(ctx, links.CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_ORANGE_URL", LocalVar: local, Name: "crm", CopyEnums: true}); err != nil {
		t.Fatal(err)
	}
	if err := env.AddDrift(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := svc.LinkDrift(ctx, local, "crm")
	if err != nil || !slices.Equal(d.NewTables, []string{"tickets"}) || d.Changes() != 1 {
		t.Fatalf("drift = %+v, %v", d, err)
	}
	p, err := svc.PlanRefresh(ctx, local, "crm")
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.RefreshLink(ctx, links.RefreshRequest{LocalVar: local, Name: "crm", Fingerprint: p.Fingerprint})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Summary.String(); got != "1 table added" {
		t.Errorf("summary = %q", got)
	}
	conn, err := pgx.Connect(ctx, env.Vars[local])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM crm.tickets").Scan(&n); err != nil || n != 25 {
		t.Fatalf("crm.tickets through the link: %d, %v", n, err)
	}
	checkDemoReplication(t, svc)
}
