package demo

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/connect"
	"github.com/pglinks/pglinks/internal/links"
)

// The demo's crm holds a Heroku Connect-like schema: the inventory finds
// it, its mapped tables link into shop in one step, and its sync state
// shows PENDING and FAILED writes with their messages.
func TestDemoConnect(t *testing.T) {
	ctx := context.Background()
	env, svc := startDemo(t)

	mapped := []string{"account", "contact", "opportunity"}
	var found []connect.Schema
	for _, st := range svc.Inventory(ctx) {
		if len(st.Connect) > 0 {
			if st.DB.ConfigVar != "HEROKU_POSTGRESQL_ORANGE_URL" {
				t.Errorf("Connect schema found in %s", st.DB.ConfigVar)
			}
			found = st.Connect
		}
	}
	if len(found) != 1 || found[0].Name != "salesforce" || !slices.Equal(found[0].Mapped, mapped) {
		t.Fatalf("Connect schemas = %+v", found)
	}
	res, err := svc.CreateLink(ctx, links.CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_ORANGE_URL", LocalVar: "DATABASE_URL", Name: "salesforce",
		RemoteSchema: "salesforce", Tables: mapped, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tables != 3 {
		t.Fatalf("linked %d tables", res.Tables)
	}
	conn, err := pgx.Connect(ctx, env.Vars["HEROKU_POSTGRESQL_ORANGE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	st, err := connect.ReadSyncState(ctx, conn, "salesforce", mapped, connect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var failed, pending int64
	malformed := false
	for _, ts := range st.Tables {
		failed += ts.Count("FAILED").N
		pending += ts.Count("PENDING").N
		for _, f := range ts.Failed {
			malformed = malformed || f.Err.Malformed
		}
	}
	if failed != 4 || pending != 3 || !malformed || len(st.TriggerLog) != 3 {
		t.Fatalf("demo sync state: %d failed, %d pending, malformed %v, %d failed log entries", failed, pending, malformed, len(st.TriggerLog))
	}
}
