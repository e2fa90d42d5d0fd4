package links

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/fleet"
)

// The benchmarks compare pglinks' catalog work with the cheapest round trip
// through the same pool (BenchmarkBaselineSelect1), so figures read as
// ratios on any machine. See BENCHMARKS.md.

func benchFixture(b testing.TB, tables int) *fixture {
	b.Helper()
	f := newFixture(b)
	var sql strings.Builder
	for i := range tables {
		fmt.Fprintf(&sql, "CREATE TABLE t_%04d (id bigint PRIMARY KEY, name text, amount numeric(12,2), created_at timestamptz, tags text[]);\n", i)
	}
	execAs(b, f.remote.URL, sql.String())
	return f
}

func BenchmarkBaselineSelect1(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	d := mustDB(b, f.svc, "DATABASE_URL")
	for b.Loop() {
		conn, err := f.svc.Fleet.Acquire(ctx, d, fleet.ClassUser)
		if err != nil {
			b.Fatal(err)
		}
		var one int
		if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			b.Fatal(err)
		}
		conn.Release()
	}
}

func BenchmarkForeignTables(b *testing.B) {
	for _, n := range []int{10, 500} {
		b.Run(fmt.Sprintf("tables=%d", n), func(b *testing.B) {
			f := benchFixture(b, n)
			ctx := context.Background()
			if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "bench", CopyEnums: true}); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				_, tables, err := allForeignTables(ctx, f.svc, "DATABASE_URL", "bench")
				if err != nil || len(tables) < n {
					b.Fatalf("%d tables, %v", len(tables), err)
				}
			}
		})
	}
}

func BenchmarkInventory(b *testing.B) {
	f := benchFixture(b, 10)
	ctx := context.Background()
	for i := range 5 {
		if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: fmt.Sprintf("bench_%d", i), CopyEnums: true}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		inv := f.svc.Inventory(ctx)
		if len(inv[0].Links) != 5 {
			b.Fatalf("links = %d", len(inv[0].Links))
		}
	}
}

func BenchmarkCreateDestroy(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("tables=%d", n), func(b *testing.B) {
			f := benchFixture(b, n)
			ctx := context.Background()
			for b.Loop() {
				if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "bench", CopyEnums: true}); err != nil {
					b.Fatal(err)
				}
				plan, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", "bench")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "bench", Confirm: "bench", Fingerprint: plan.Fingerprint}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
