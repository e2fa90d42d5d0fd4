package links

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/pgtest"
)

func TestInventory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("UnreachableDoesNotHoldUpOthers", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, "HEROKU_POSTGRESQL_GRAY_URL="+blackholeURL(t), "HEROKU_POSTGRESQL_RED_URL="+closedPortURL(t))
		createSales(t, f)
		start := time.Now()
		inv := f.svc.Inventory(ctx)
		took := time.Since(start)
		byVar := map[string]DatabaseStatus{}
		for _, st := range inv {
			byVar[st.DB.ConfigVar] = st
		}
		if st := byVar["DATABASE_URL"]; !st.Reachable || len(st.Links) != 1 {
			t.Fatalf("local = %+v", st)
		}
		// The card's server version, read in the same statement.
		if st := byVar["DATABASE_URL"]; st.Support.Major() != clusterA.Major() || st.Support.VersionNote() != "" {
			t.Errorf("local version: num %d, major %d, note %q; want major %d", st.Support.VersionNum, st.Support.Major(), st.Support.VersionNote(), clusterA.Major())
		}
		gray, red := byVar["HEROKU_POSTGRESQL_GRAY_URL"], byVar["HEROKU_POSTGRESQL_RED_URL"]
		if gray.Reachable || !strings.Contains(gray.Error, "no answer in time") {
			t.Errorf("silent database = %+v", gray)
		}
		if red.Reachable || !strings.Contains(red.Error, "connection refused") {
			t.Errorf("closed database = %+v", red)
		}
		if strings.Contains(gray.Error+red.Error, "secret") {
			t.Error("error leaks a password")
		}
		if limit := f.svc.Fleet.Deadlines.Status + 2*time.Second; took > limit {
			t.Errorf("inventory took %v with an unreachable database, want under %v", took, limit)
		}
	})

	t.Run("NotSupported", func(t *testing.T) {
		t.Parallel()
		nofdw := newDB(t, clusterA, "nofdw", pgtest.DBOptions{NoFDW: true})
		svc := newService(t, []string{"DATABASE_URL=" + nofdw.URL})
		// The extension is there but the role may not use it.
		if err := clusterA.Exec(ctx, nofdw.Name, "CREATE EXTENSION postgres_fdw"); err != nil {
			t.Fatal(err)
		}
		st := svc.Inventory(ctx)[0]
		if !st.Reachable || st.Support.OK || !strings.Contains(st.Support.Reason, "lacks USAGE") {
			t.Fatalf("status = %+v", st)
		}
	})

	t.Run("HandMadeServersAreNotLinks", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		execAs(t, f.local.URL, `CREATE SERVER handmade FOREIGN DATA WRAPPER postgres_fdw;
			COMMENT ON SERVER handmade IS 'made by a person'`)
		st := f.svc.Inventory(ctx)[0]
		if len(st.Links) != 0 {
			t.Fatalf("links = %+v", st.Links)
		}
	})
}
