package links

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// holdUntilWaited runs hold (statements that take a lock) in an open
// transaction on url, calls op in the background, waits until a session of
// url's database waits for a lock (op reached its blocked statement), runs
// meanwhile, then releases the lock and returns op's error.
func holdUntilWaited(t *testing.T, url, hold string, op func() error, meanwhile func()) error {
	t.Helper()
	ctx := context.Background()
	tx := beginOn(t, url)
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, hold); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- op() }()
	pgtest.Eventually(t, 10*time.Second, "the change waiting for the held lock", func() bool {
		return queryInt(t, url, `SELECT count(*) FROM pg_locks WHERE NOT granted
			AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())`) > 0
	})
	meanwhile()
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	return <-done
}

// A refresh reads its remote once (the drift), then runs its local
// statements, then IMPORT FOREIGN SCHEMA ... LIMIT TO the new tables. A
// new remote table dropped in between (while a session's read of the
// link's table held up the refresh's ALTER FOREIGN TABLE) is skipped by
// PostgreSQL without an error, and the refresh still reports "1 table
// added": the operator is told a table came in that is not there.
func TestRefreshReportsTheTablesItReallyAdded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	createSales(t, f)
	execAs(t, f.remote.URL, "ALTER TABLE customers ADD COLUMN phone text; CREATE TABLE invoices (id int, amount numeric)")
	plan, err := f.svc.PlanRefresh(ctx, "DATABASE_URL", "sales")
	if err != nil {
		t.Fatal(err)
	}
	if plan.Summary.TablesAdded != 1 || plan.Summary.ColumnsChanged != 1 {
		t.Fatalf("plan: %s %q", plan.Summary, plan.SQL)
	}
	var res *RefreshResult
	err = holdUntilWaited(t, f.local.URL, "SELECT 1 FROM sales.customers WHERE false", func() (err error) {
		res, err = f.svc.RefreshLink(ctx, RefreshRequest{LocalVar: "DATABASE_URL", Name: "sales", Fingerprint: plan.Fingerprint, Actor: "test"})
		return err
	}, func() { execAs(t, f.remote.URL, "DROP TABLE invoices") })
	if errs.Is(err, errs.Conflict) || errs.Is(err, errs.Unavailable) {
		return // refused, the remote changed: the truth
	}
	if err != nil {
		t.Fatal(err)
	}
	have := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_class WHERE oid = to_regclass('sales.invoices')")
	if have != res.Summary.TablesAdded {
		t.Fatalf("refresh reported %q; sales.invoices exists: %d (the remote dropped it between the refresh's read and its import)", res.Summary, have)
	}
}

// A create reads the remote's tables (the pre-flight) before it waits for
// the link's lock; a chosen table dropped on the remote meanwhile is
// skipped by IMPORT FOREIGN SCHEMA ... LIMIT TO, and the link is made
// without it while its record says it imports it (the API's "tables"
// lists it), and the preview's token (which named it) is taken.
func TestCreateMakesTheTablesItPreviewed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	req := CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "few", Tables: []string{"customers", "orders"}, CopyEnums: true, Actor: "test"}
	prev, err := f.svc.PreviewCreate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	req.Token = prev.Token
	var res *CreateResult
	err = holdUntilWaited(t, f.local.URL, "SELECT pg_advisory_xact_lock(hashtextextended('pglinks:link:few', 0))", func() (err error) {
		res, err = f.svc.CreateLink(ctx, req)
		return err
	}, func() { execAs(t, f.remote.URL, "DROP TABLE orders") })
	if errs.Is(err, errs.Conflict) || errs.Is(err, errs.Invalid) {
		assertNothingLeft(t, f.local.URL, "few")
		return // refused, the remote changed: the truth
	}
	if err != nil {
		t.Fatal(err)
	}
	have := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_class WHERE oid = to_regclass('few.orders')")
	if have == 0 || res.Tables != len(prev.Tables) || !slices.Equal(res.Link.Tables, []string{"customers", "orders"}) {
		t.Fatalf("preview showed tables %q; create answered %d tables, link tables %q; few.orders exists: %d", prev.Tables, res.Tables, res.Link.Tables, have)
	}
}

// The same wait, for a link of every table: a table the remote adds while
// the create waits for the link's lock is imported although the preview
// whose token the create carries listed the tables it would import
// without it ("runs what the preview showed, or nothing").
func TestCreateOfEveryTableImportsWhatThePreviewListed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	req := CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "all", CopyEnums: true, Actor: "test"}
	prev, err := f.svc.PreviewCreate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	req.Token = prev.Token
	var res *CreateResult
	err = holdUntilWaited(t, f.local.URL, "SELECT pg_advisory_xact_lock(hashtextextended('pglinks:link:all', 0))", func() (err error) {
		res, err = f.svc.CreateLink(ctx, req)
		return err
	}, func() { execAs(t, f.remote.URL, "CREATE TABLE card_numbers (pan text)") })
	if errs.Is(err, errs.Conflict) || errs.Is(err, errs.Invalid) {
		assertNothingLeft(t, f.local.URL, "all")
		return // refused, the remote changed: the truth
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.Tables != len(prev.Tables) {
		t.Fatalf("preview listed %d tables %q; the create it confirmed made %d (all.card_numbers: %d)", len(prev.Tables), prev.Tables, res.Tables,
			queryInt(t, f.local.URL, "SELECT count(*) FROM pg_class WHERE oid = to_regclass('all.card_numbers')"))
	}
}

// Importing chosen tables into a LIMIT TO link reads the remote (the
// plan, under the link's lock), copies the enum types the tables need,
// then runs IMPORT FOREIGN SCHEMA ... LIMIT TO. A chosen table the remote
// drops while the copy waits (a session creating the same type) is
// skipped without an error: the import says it imported the table, and
// the link's record lists it.
func TestImportReportsTheTablesItReallyImported(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "few", Tables: []string{"customers"}}); err != nil {
		t.Fatal(err)
	}
	plan, err := f.svc.PlanImport(ctx, "DATABASE_URL", "few", []string{"orders"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.CopiedTypes) != 1 || len(plan.SQL) != 2 {
		t.Fatalf("plan copies %q, SQL %q: want the enum copy, then the import", plan.CopiedTypes, plan.SQL)
	}
	var res *ImportResult
	err = holdUntilWaited(t, f.local.URL, plan.SQL[0], func() (err error) {
		res, err = f.svc.ImportTables(ctx, ImportRequest{LocalVar: "DATABASE_URL", Name: "few", Tables: []string{"orders"}, Fingerprint: plan.Fingerprint, Actor: "test"})
		return err
	}, func() { execAs(t, f.remote.URL, "DROP TABLE orders") })
	if errs.Is(err, errs.Conflict) || errs.Is(err, errs.Unavailable) || errs.Is(err, errs.Invalid) {
		return // refused, the remote changed: the truth
	}
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := allForeignTables(ctx, f.svc, "DATABASE_URL", "few")
	if err != nil {
		t.Fatal(err)
	}
	have := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_class WHERE oid = to_regclass('few.orders')")
	if have != len(res.Plan.Tables) {
		t.Fatalf("import answered tables %q imported; few.orders exists: %d; the link's record lists %q", res.Plan.Tables, have, l.Tables)
	}
}
