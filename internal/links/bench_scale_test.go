package links

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/pgtest"
)

// BenchmarkLinkPage is the link page's data (the link, then one page of 50
// foreign tables with their columns) for a link of 50 and of 10,000
// tables: the page's cost should not grow with the link.
func BenchmarkLinkPage(b *testing.B) {
	for _, n := range []int{50, 10000} {
		b.Run(fmt.Sprintf("tables=%d", n), func(b *testing.B) {
			f := newFixture(b)
			// In batches: one transaction creating 10,000 tables with
			// their indexes runs out of lock slots.
			for from := 1; from <= n; from += 1000 {
				execAs(b, f.remote.URL, fmt.Sprintf(`DO $$ BEGIN FOR i IN %d..%d LOOP
					EXECUTE format('CREATE TABLE t_%%s (id bigint PRIMARY KEY, name text, amount numeric(12,2), created_at timestamptz, tags text[])', lpad(i::text, 5, '0'));
					END LOOP; END $$`, from, min(from+999, n)))
			}
			ctx := context.Background()
			f.svc.Fleet.Deadlines.Statement = 5 * time.Minute
			if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "bench", CopyEnums: true}); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				_, page, err := f.svc.LinkPage(ctx, "DATABASE_URL", "bench", "", 0, 50)
				if err != nil || len(page.Tables) != 50 {
					b.Fatalf("%v", err)
				}
			}
		})
	}
}

// BenchmarkInventoryDegraded is a page view of the inventory (snapshots at
// most 30 s old) over four healthy databases, and over the same plus one
// that accepts connections and never answers: after the first view the
// silent one is served from its remembered failure, so a degraded fleet
// costs what a healthy one does.
func BenchmarkInventoryDegraded(b *testing.B) {
	for _, silent := range []bool{false, true} {
		b.Run(fmt.Sprintf("silent=%v", silent), func(b *testing.B) {
			f := newFixture(b)
			env := append([]string{}, f.env...)
			for i := range 2 {
				d := newDB(b, clusterA, "extra", pgtest.DBOptions{})
				env = append(env, fmt.Sprintf("EXTRA_%d_URL=%s", i, d.URL))
			}
			if silent {
				proxy, err := clusterB.NewProxy()
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(proxy.Close)
				proxy.Stall("pglinks", "pg_")
				env = append(env, "SILENT_URL="+proxy.URL(f.remote.URL))
			}
			var vars []string
			for _, kv := range env {
				k, _, _ := strings.Cut(kv, "=")
				vars = append(vars, k)
			}
			svc := newService(b, append(env, "PGLINKS_DATABASES="+strings.Join(vars, ",")))
			svc.Fleet.SnapshotMaxAge = 30 * time.Second
			svc.Fleet.Deadlines.Status = 2 * time.Second
			ctx := context.Background()
			svc.Inventory(ctx) // the first view pays the silent one's timeout
			for b.Loop() {
				if inv := svc.Inventory(ctx); len(inv) < 4 {
					b.Fatalf("%d databases", len(inv))
				}
			}
		})
	}
}

// BenchmarkPlanDestroy is the destroy confirmation's plan: the link's
// DROP SCHEMA ... CASCADE run in a savepoint and rolled back, with what
// disappeared from pg_depend described.
func BenchmarkPlanDestroy(b *testing.B) {
	for _, n := range []int{10, 500} {
		b.Run(fmt.Sprintf("tables=%d", n), func(b *testing.B) {
			f := benchFixture(b, n)
			ctx := context.Background()
			if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "bench", CopyEnums: true}); err != nil {
				b.Fatal(err)
			}
			execAs(b, f.local.URL, "CREATE VIEW public.v AS SELECT id FROM bench.t_0000")
			for b.Loop() {
				plan, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", "bench")
				if err != nil || len(plan.Dependents) != 1 {
					b.Fatalf("%v %v", plan, err)
				}
			}
		})
	}
}
