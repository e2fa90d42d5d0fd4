package links

import (
	"context"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// A refresh compares the link with its remote's config var, but imports
// through the link's foreign server. When the server points somewhere else
// (changed by hand, or not yet repaired after a failover), the plan shows
// the config var's tables and columns while the import takes whatever the
// server's database holds under those names: the confirmation says one
// thing and the refresh does another.
func TestRefreshOfAStaleLinkImportsWhatThePlanShowed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	createSales(t, f)
	// Another database the link's remote user may connect to, holding a
	// table of the same name with other columns.
	other := newDB(t, clusterB, "other", pgtest.DBOptions{})
	execAs(t, other.URL, "CREATE TABLE invoices (card_number text, cvv text)")
	execAs(t, f.remote.URL, "CREATE TABLE invoices (id int, amount numeric)")
	execAs(t, f.local.URL, "ALTER SERVER sales OPTIONS (SET dbname '"+other.Name+"')")

	plan, err := f.svc.PlanRefresh(ctx, "DATABASE_URL", "sales")
	if errs.Is(err, errs.Conflict) {
		return // refused while the link points elsewhere: the truth
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("plan: %s; SQL %v; stale %v", plan.Summary, plan.SQL, plan.Link.Stale.Summary())
	res, err := f.svc.RefreshLink(ctx, RefreshRequest{LocalVar: "DATABASE_URL", Name: "sales", Fingerprint: plan.Fingerprint})
	if errs.Is(err, errs.Conflict) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	cols := queryString(t, f.local.URL, `SELECT coalesce(string_agg(attname, ',' ORDER BY attnum), '(no table)') FROM pg_attribute
		WHERE attrelid = to_regclass('sales.invoices') AND attnum > 0`)
	if cols != "id,amount" {
		t.Fatalf("refresh planned against %s (%s) said %q and reported %q; sales.invoices now has columns %q, from database %s the server points at",
			"HEROKU_POSTGRESQL_BLUE_URL", f.remote.Name, strings.Join(plan.SQL, "; "), res.Summary, cols, other.Name)
	}
}

// The same, where the server's database has no table of that name: IMPORT
// FOREIGN SCHEMA ... LIMIT TO imports nothing without an error, and the
// refresh reports "1 table added" for a table that is not there.
func TestRefreshReportsOnlyTablesItAdded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	createSales(t, f)
	other := newDB(t, clusterB, "other", pgtest.DBOptions{})
	execAs(t, f.remote.URL, "CREATE TABLE invoices (id int, amount numeric)")
	execAs(t, f.local.URL, "ALTER SERVER sales OPTIONS (SET dbname '"+other.Name+"')")
	plan, err := f.svc.PlanRefresh(ctx, "DATABASE_URL", "sales")
	if errs.Is(err, errs.Conflict) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.RefreshLink(ctx, RefreshRequest{LocalVar: "DATABASE_URL", Name: "sales", Fingerprint: plan.Fingerprint})
	if errs.Is(err, errs.Conflict) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_class WHERE oid = to_regclass('sales.invoices')"); n != res.Summary.TablesAdded {
		t.Fatalf("refresh reported %q (%d added); sales.invoices exists: %d", res.Summary, res.Summary.TablesAdded, n)
	}
}

// Importing chosen tables into a LIMIT TO link has the same split: the
// tables offered and checked are the config var's, the import goes
// through the server, wherever it points now.
func TestImportIntoAStaleLinkImportsWhatThePlanShowed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "few", Tables: []string{"customers"}}); err != nil {
		t.Fatal(err)
	}
	other := newDB(t, clusterB, "other", pgtest.DBOptions{})
	execAs(t, other.URL, "CREATE TABLE invoices (card_number text, cvv text)")
	execAs(t, f.remote.URL, "CREATE TABLE invoices (id int, amount numeric)")
	execAs(t, f.local.URL, "ALTER SERVER few OPTIONS (SET dbname '"+other.Name+"')")
	plan, err := f.svc.PlanImport(ctx, "DATABASE_URL", "few", []string{"invoices"})
	if errs.Is(err, errs.Conflict) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ImportTables(ctx, ImportRequest{LocalVar: "DATABASE_URL", Name: "few", Tables: []string{"invoices"}, Fingerprint: plan.Fingerprint}); errs.Is(err, errs.Conflict) {
		return
	} else if err != nil {
		t.Fatal(err)
	}
	cols := queryString(t, f.local.URL, `SELECT coalesce(string_agg(attname, ',' ORDER BY attnum), '(no table)') FROM pg_attribute
		WHERE attrelid = to_regclass('few.invoices') AND attnum > 0`)
	if cols != "id,amount" {
		t.Fatalf("import planned against HEROKU_POSTGRESQL_BLUE_URL (%s), SQL %q; few.invoices has columns %q, from %s the server points at", f.remote.Name, plan.SQL, cols, other.Name)
	}
}

// IMPORT FOREIGN SCHEMA ... LIMIT TO skips, without an error, a table the
// remote dropped between the plan and the statement: the check after it
// names what did not come in, and the change is refused.
func TestCheckImportedNamesWhatDidNotComeIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	createSales(t, f)
	tx := beginOn(t, f.local.URL)
	if err := checkImported(ctx, tx, "sales", []string{"customers", "orders"}, "refresh"); err != nil {
		t.Fatalf("every table there: %v", err)
	}
	err := checkImported(ctx, tx, "sales", []string{"customers", "invoices"}, "refresh")
	if !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), "invoices") || strings.Contains(errs.MessageOf(err), "customers") {
		t.Fatalf("err = %v, want a conflict naming invoices only", err)
	}
}
