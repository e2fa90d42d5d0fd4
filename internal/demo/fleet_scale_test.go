package demo

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/links"
)

// checkDemoFleetScale checks what the demo's fleet shows at scale: more
// than a page of databases, every store reachable with links supported,
// the retired database listed as not answering without anyone waiting for
// it, and a search that finds a store.
func checkDemoFleetScale(t *testing.T, svc *links.Service) {
	t.Helper()
	ctx := context.Background()
	// The first read of the fleet asks every database, the retired one too.
	start := time.Now()
	inv := svc.Inventory(ctx)
	if took := time.Since(start); took >= svc.Fleet.Deadlines.Status {
		t.Errorf("first inventory of the demo fleet took %v, as long as a database's timeout", took)
	}
	if len(inv) <= 20 {
		t.Fatalf("demo fleet has %d databases, want more than a page of 20", len(inv))
	}
	var retired links.DatabaseStatus
	stores := 0
	for _, st := range inv {
		switch {
		case st.DB.ConfigVar == RetiredVar:
			retired = st
		case strings.HasPrefix(st.DB.DBName, "store_"):
			stores++
			if !st.Reachable || !st.Support.OK {
				t.Errorf("store %s: reachable %v, links supported %v: %s", st.DB.ConfigVar, st.Reachable, st.Support.OK, st.Error)
			}
		}
	}
	if stores != len(Stores) {
		t.Errorf("%d store databases in the fleet, want %d", stores, len(Stores))
	}
	if retired.DB == nil || retired.Reachable || retired.Pending || retired.FailingSince.IsZero() || !retired.RetryAt.After(time.Now()) {
		t.Fatalf("retired database: %+v, want unreachable with a back-off", retired)
	}
	if retired.DB.ResourceName != RetiredResource {
		t.Errorf("retired database's resource name %q", retired.DB.ResourceName)
	}
	// Until its back-off ends, the retired database is not asked again:
	// its card is the remembered failure, and the inventory does not wait.
	start = time.Now()
	again := svc.Inventory(ctx)
	if took := time.Since(start); took >= 2*time.Second {
		t.Errorf("second inventory took %v", took)
	}
	for _, st := range again {
		if st.DB.ConfigVar == RetiredVar && (!st.AsOf.Equal(retired.AsOf) || !st.FailingSince.Equal(retired.FailingSince)) {
			t.Errorf("retired database read again within its back-off: as of %v, was %v", st.AsOf, retired.AsOf)
		}
	}
	found := links.MatchInventory(inv, "lisbon")
	if len(found) != 1 || found[0].DB.ConfigVar != "HEROKU_POSTGRESQL_STORE_LISBON_URL" || found[0].DB.DBName != "store_lisbon" {
		t.Errorf("search for lisbon found %d databases: %+v", len(found), found)
	}
	if n := len(links.MatchInventory(inv, "HEROKU_POSTGRESQL_STORE_")); n != len(Stores) {
		t.Errorf("search for the stores' config vars found %d", n)
	}
}
