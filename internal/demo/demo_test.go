package demo

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/pgversion"
)

// TestDemoPath walks what the README asks a new user to try on the demo:
// link shop into crm, list its foreign tables, query it, destroy it. It
// runs the demo as PGLINKS_DEMO_PG does, crm's cluster on the newest
// supported major, so the link and the subscription cross versions.
func TestDemoPath(t *testing.T) {
	ctx := context.Background()
	other := pgversion.NewestSupported
	env, svc := startDemoWith(t, Options{Major: other})

	checkDemoFleetScale(t, svc)
	inv := svc.Inventory(ctx)
	support := map[string]bool{}
	for _, st := range inv {
		if st.DB.ConfigVar == RetiredVar {
			continue // decommissioned: checked by checkDemoFleetScale
		}
		if !st.Reachable {
			t.Fatalf("%s unreachable: %s", st.DB.ConfigVar, st.Error)
		}
		if st.DB.IsRedis() {
			if st.DB.ConfigVar != RedisVar || st.Redis == nil || st.Redis.Keys != Widgets+3 || !st.DB.Redis.TLS {
				t.Errorf("the demo's Redis: %+v %+v", st.DB, st.Redis)
			}
			continue
		}
		if rs := st.RedisSupport; st.DB.ConfigVar == RedisLinkLocal && (rs == nil || !rs.OK) {
			t.Errorf("shop cannot take Redis links: %+v", rs)
		}
		support[st.DB.ConfigVar] = st.Support.OK
		if want := env.Clusters[0].Major(); st.DB.ConfigVar == "DATABASE_URL" && st.Support.Major() != want || st.DB.ConfigVar == "HEROKU_POSTGRESQL_ORANGE_URL" && st.Support.Major() != other {
			t.Errorf("%s runs PostgreSQL %d", st.DB.ConfigVar, st.Support.Major())
		}
	}
	if len(inv) != 7+len(Stores) || !support["DATABASE_URL"] || !support["HEROKU_POSTGRESQL_ORANGE_URL"] || support["HEROKU_POSTGRESQL_GRAY_URL"] {
		t.Fatalf("demo fleet support = %v", support)
	}

	res, err := svc.CreateLink(ctx, links.CreateRequest{RemoteVar: "DATABASE_URL", LocalVar: "HEROKU_POSTGRESQL_ORANGE_URL", Name: "shop", CopyEnums: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tables != 5 || len(res.CopiedTypes) != 1 {
		t.Fatalf("create: %d tables, copied %v", res.Tables, res.CopiedTypes)
	}
	_, page, err := svc.LinkPage(ctx, "HEROKU_POSTGRESQL_ORANGE_URL", "shop", "", 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	tables := page.Tables
	if tables[0].Name != "Order Items (2024) <draft>" {
		t.Errorf("first table = %q", tables[0].Name)
	}
	conn, err := pgx.Connect(ctx, env.Vars["HEROKU_POSTGRESQL_ORANGE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var paid int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM shop.orders WHERE status = 'paid'").Scan(&paid); err != nil || paid != 250 {
		t.Fatalf("paid orders through the link: %d, %v", paid, err)
	}
	plan, err := svc.PlanDestroy(ctx, "HEROKU_POSTGRESQL_ORANGE_URL", "shop")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DestroyLink(ctx, links.DestroyRequest{LocalVar: "HEROKU_POSTGRESQL_ORANGE_URL", Name: "shop", Confirm: "shop", Fingerprint: plan.Fingerprint}); err != nil {
		t.Fatal(err)
	}
	checkDemoReplication(t, svc)
	for _, v := range env.Vars {
		if strings.Contains(v, "postgres://") && !strings.Contains(v, "127.0.0.1") {
			t.Errorf("demo URL not on loopback: %s", fleet.MaskURLs(v))
		}
	}
}
