package links

import (
	"context"
	"slices"
	"testing"
	"time"
)

// A large link's page: the count is exact when read, remembered (and
// labelled with when it was counted) for the next views, forgotten when
// pglinks changes the database; the comparison with the remote runs in the
// background, is shown as remembered, and "now" compares at once.
func TestLargeLinkPage(t *testing.T) {
	t.Parallel()
	f := benchFixture(t, LargeLinkTables+1) // plus the fixture's 3 tables
	ctx := context.Background()
	if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "big", CopyEnums: true}); err != nil {
		t.Fatal(err)
	}
	const want = LargeLinkTables + 4
	l, page, err := f.svc.LinkPage(ctx, "DATABASE_URL", "big", "", 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	if l.TableCount != want || !l.TableCountAsOf.IsZero() || page.Matches != want || len(page.Tables) != 50 || l.Stale.Stale() {
		t.Fatalf("first view: count %d as of %v, matches %d, %d tables, stale %v", l.TableCount, l.TableCountAsOf, page.Matches, len(page.Tables), l.Stale.Summary())
	}

	// A foreign table dropped by hand: the next view within
	// TableCountMaxAge shows the remembered count, saying when it was made.
	execAs(t, f.local.URL, "DROP FOREIGN TABLE big.t_0000")
	l, _, err = f.svc.LinkPage(ctx, "DATABASE_URL", "big", "", 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	if l.TableCount != want || l.TableCountAsOf.IsZero() || time.Since(l.TableCountAsOf) > TableCountMaxAge {
		t.Fatalf("second view: count %d as of %v", l.TableCount, l.TableCountAsOf)
	}
	// Once it is older than that, the view counts again.
	f.svc.pages.mu.Lock()
	for k, c := range f.svc.pages.counts {
		c.at = c.at.Add(-TableCountMaxAge - time.Second)
		f.svc.pages.counts[k] = c
	}
	f.svc.pages.mu.Unlock()
	if l, _, err = f.svc.LinkPage(ctx, "DATABASE_URL", "big", "", 0, 50); err != nil || l.TableCount != want-1 || !l.TableCountAsOf.IsZero() {
		t.Fatalf("after max age: %+v %v", l, err)
	}

	// Drift: pending first, then the background comparison.
	d, err := f.svc.PageDrift(ctx, l, false)
	if err != nil || !d.Pending || d.InStep() {
		t.Fatalf("first drift: %+v %v", d, err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if d, err = f.svc.PageDrift(ctx, l, false); err != nil || !d.Pending {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no background comparison within 30 s")
		}
	}
	if err != nil || !d.Remembered || d.Error != "" || !slices.Equal(d.NewTables, []string{"t_0000"}) {
		t.Fatalf("remembered drift: %+v %v", d, err)
	}
	// A remote change shows when compared now, and is remembered.
	execAs(t, f.remote.URL, "CREATE TABLE zz_new (id int)")
	if d, _ = f.svc.PageDrift(ctx, l, false); !slices.Equal(d.NewTables, []string{"t_0000"}) {
		t.Fatalf("remembered drift changed by itself: %v", d.NewTables)
	}
	if d, err = f.svc.PageDrift(ctx, l, true); err != nil || d.Remembered || !slices.Equal(d.NewTables, []string{"t_0000", "zz_new"}) {
		t.Fatalf("drift now: %+v %v", d, err)
	}
	if d, _ = f.svc.PageDrift(ctx, l, false); !d.Remembered || !slices.Equal(d.NewTables, []string{"t_0000", "zz_new"}) {
		t.Fatalf("drift after now: %+v", d)
	}

	// A refresh by pglinks forgets both: the next view counts, and the
	// comparison starts again.
	plan, err := f.svc.PlanRefresh(ctx, "DATABASE_URL", "big")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RefreshLink(ctx, RefreshRequest{LocalVar: "DATABASE_URL", Name: "big", Fingerprint: plan.Fingerprint}); err != nil {
		t.Fatal(err)
	}
	l, _, err = f.svc.LinkPage(ctx, "DATABASE_URL", "big", "", 0, 50)
	if err != nil || l.TableCount != want+1 || !l.TableCountAsOf.IsZero() {
		t.Fatalf("after refresh: %+v %v", l, err)
	}
	if d, err = f.svc.PageDrift(ctx, l, false); err != nil || !d.Pending {
		t.Fatalf("drift after refresh: %+v %v", d, err)
	}
}

// A small link's page compares with the remote on every view and counts
// every time.
func TestSmallLinkPageReadsNow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "small", CopyEnums: true}); err != nil {
		t.Fatal(err)
	}
	l, _, err := f.svc.LinkPage(ctx, "DATABASE_URL", "small", "", 0, 50)
	if err != nil || l.TableCount != 3 || !l.TableCountAsOf.IsZero() {
		t.Fatalf("%+v %v", l, err)
	}
	if d, err := f.svc.PageDrift(ctx, l, false); err != nil || !d.InStep() || d.Remembered {
		t.Fatalf("%+v %v", d, err)
	}
	execAs(t, f.remote.URL, "CREATE TABLE zz_new (id int)")
	execAs(t, f.local.URL, `DROP FOREIGN TABLE small.customers`)
	l, _, err = f.svc.LinkPage(ctx, "DATABASE_URL", "small", "", 0, 50)
	if err != nil || l.TableCount != 2 || !l.TableCountAsOf.IsZero() {
		t.Fatalf("%+v %v", l, err)
	}
	if d, err := f.svc.PageDrift(ctx, l, false); err != nil || d.Remembered || !slices.Equal(d.NewTables, []string{"customers", "zz_new"}) {
		t.Fatalf("%+v %v", d, err)
	}
}
