package links

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pglinks/pglinks/internal/errs"
)

// Link pages using every user-facing connection to a database, and many
// people loading the inventory at once, never make the inventory call a
// healthy database unreachable.
func TestInventoryWhilePoolBusy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	createSales(t, f)
	f.svc.Fleet.Deadlines.Status = 2 * time.Second
	var held []*pgxpool.Conn
	for range 4 {
		c, err := acquire(ctx, f.svc, "DATABASE_URL")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()

	var wg sync.WaitGroup
	results := make([][]DatabaseStatus, 30)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = f.svc.Inventory(ctx)
		}()
	}
	wg.Wait()
	for i, inv := range results {
		for _, st := range inv {
			if !st.Reachable || st.Error != "" {
				t.Fatalf("load %d: %s shown as %q", i, st.DB.ConfigVar, st.Error)
			}
		}
		if len(inv[0].Links) != 1 {
			t.Fatalf("load %d: links = %v", i, inv[0].Links)
		}
	}

	// A user-facing read that cannot get a connection says pglinks is
	// busy, not that the database is down.
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := f.svc.GetLink(rctx, "DATABASE_URL", "sales")
	if !errs.Is(err, errs.Unavailable) || !strings.Contains(errs.MessageOf(err), "busy") {
		t.Fatalf("GetLink with the pool full: %v", err)
	}
}

// The link page reads one page of tables, filtered by name, whatever the
// size of the link.
func TestForeignTablesPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	execAs(t, f.remote.URL, `DO $$ BEGIN FOR i IN 1..120 LOOP EXECUTE format('CREATE TABLE t_%s (id int, v text)', lpad(i::text, 3, '0')); END LOOP; END $$`)
	createSales(t, f)
	_, page, err := f.svc.LinkPage(ctx, "DATABASE_URL", "sales", "", 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Tables) != 50 || page.Matches != 123 || page.Tables[0].Name != "<script>alert(1)</script>" {
		t.Fatalf("first page: %d tables of %d, first %q", len(page.Tables), page.Matches, page.Tables[0].Name)
	}
	if len(page.Tables[1].Columns) == 0 {
		t.Fatal("columns missing")
	}
	_, page, _ = f.svc.LinkPage(ctx, "DATABASE_URL", "sales", "", 100, 50)
	if len(page.Tables) != 23 || page.Tables[22].Name != "t_120" {
		t.Fatalf("last page: %d tables", len(page.Tables))
	}
	_, page, _ = f.svc.LinkPage(ctx, "DATABASE_URL", "sales", "T_11", 0, 50)
	if page.Matches != 10 || len(page.Tables) != 10 || page.Tables[0].Name != "t_110" {
		t.Fatalf("filter: %d matches, %d tables", page.Matches, len(page.Tables))
	}
	_, page, _ = f.svc.LinkPage(ctx, "DATABASE_URL", "sales", "%", 0, 50)
	if page.Matches != 0 {
		t.Fatalf("%% matched %d tables: the filter is not literal", page.Matches)
	}
	if _, _, err := f.svc.LinkPage(ctx, "DATABASE_URL", "sales", strings.Repeat("x", 201), 0, 50); !errs.Is(err, errs.Invalid) {
		t.Fatalf("long filter: %v", err)
	}
}
