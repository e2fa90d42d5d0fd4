package links

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
)

func TestParseCheckStatement(t *testing.T) {
	t.Parallel()
	ok := []string{
		"SELECT 1",
		"  select * from shop.customers where id < 3 ;  ",
		"WITH c AS (SELECT * FROM shop.customers) SELECT * FROM c",
		"SELECT 1 UNION ALL SELECT 2",
		"VALUES (1), (2)",
		"SELECT 'DELETE FROM x; DROP TABLE y' AS s",
	}
	for _, sql := range ok {
		if _, err := ParseCheckStatement(sql); err != nil {
			t.Errorf("%q refused: %v", sql, err)
		}
	}
	refused := map[string]string{
		"":                           "Paste a SELECT",
		"DELETE FROM shop.customers": "this is a DELETE",
		"INSERT INTO t VALUES (1)":   "this is an INSERT",
		"UPDATE t SET a = 1":         "this is an UPDATE",
		"DROP TABLE t":               "a DROP statement",
		"CREATE TABLE t (a int)":     "a CREATE statement",
		"SELECT 1; SELECT 2":         "holds 2 statements",
		"SELECT 1; DROP TABLE t":     "holds 2 statements",
		"SELECT * INTO t2 FROM t":    "creates a table",
		"SELECT * FROM t FOR UPDATE": "locks rows",
		"SELECT * FROM (SELECT * FROM t FOR SHARE) s":           "locks rows",
		"WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d": "changes data",
		"EXPLAIN SELECT 1":    "without EXPLAIN",
		"SELEC 1":             "cannot parse",
		"SET search_path = x": "this is a SET",
	}
	for sql, want := range refused {
		_, err := ParseCheckStatement(sql)
		if err == nil || errs.KindOf(err) != errs.Invalid || !strings.Contains(errs.MessageOf(err), want) {
			t.Errorf("%q: got %v, want a refusal saying %q", sql, err, want)
		}
	}
	if _, err := ParseCheckStatement("SELECT '" + strings.Repeat("x", MaxCheckStatement) + "'"); err == nil {
		t.Error("an over-long statement was accepted")
	}
}

// checkFixture is a link "shop" over a remote with more to check: an
// events table with a timestamp, pg_trgm on both sides, a second link
// "other" to the same remote, and local functions.
func checkFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	execAs(t, f.remote.URL, `CREATE EXTENSION pg_trgm;
		CREATE TABLE events (id int PRIMARY KEY, at timestamptz NOT NULL, label text);
		INSERT INTO events SELECT g, now() - g * interval '1 minute', 'e' || g FROM generate_series(1, 2000) g;
		ANALYZE`)
	execAs(t, f.local.URL, `CREATE EXTENSION pg_trgm;
		CREATE FUNCTION public.my_double(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS 'BEGIN RETURN $1 * 2; END'`)
	ctx := context.Background()
	if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "shop", CopyEnums: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "other", CopyEnums: true}); err != nil {
		t.Fatal(err)
	}
	return f
}

func check(t *testing.T, f *fixture, sql string) *QueryCheck {
	t.Helper()
	c, err := f.svc.CheckQuery(context.Background(), QueryCheckRequest{LocalVar: "DATABASE_URL", Name: "shop", SQL: sql, Actor: "a@x"})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return c
}

// kept returns the reasons of this link's conditions kept local.
func kept(c *QueryCheck) []Reason {
	var out []Reason
	for _, s := range c.Scans {
		if s.Mine {
			for _, k := range s.KeptLocal {
				out = append(out, k.Reasons...)
			}
		}
	}
	return out
}

func hasReason(rs []Reason, code, object string) bool {
	return slices.ContainsFunc(rs, func(r Reason) bool { return r.Code == code && strings.Contains(r.Object, object) })
}

func TestQueryCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := checkFixture(t)

	t.Run("PushedWhere", func(t *testing.T) {
		c := check(t, f, "SELECT name FROM shop.customers WHERE id < 10 AND email IS NOT NULL")
		if len(c.Scans) != 1 || !c.Scans[0].Mine || !slices.Contains(c.Scans[0].Pushed, "conditions") || len(c.Scans[0].KeptLocal) != 0 {
			t.Fatalf("scans = %+v", c.Scans)
		}
		if !strings.Contains(c.Scans[0].RemoteSQL, "WHERE") || c.Scans[0].EstFetched < 0 {
			t.Errorf("remote SQL %q, fetched estimate %v (%s)", c.Scans[0].RemoteSQL, c.Scans[0].EstFetched, c.Scans[0].FetchedNote)
		}
	})

	t.Run("ExtensionFunctionThenFixed", func(t *testing.T) {
		sql := "SELECT * FROM shop.customers WHERE similarity(name, 'Ada') > 0.5"
		c := check(t, f, sql)
		rs := kept(c)
		if !hasReason(rs, ReasonExtension, "similarity()") {
			t.Fatalf("reasons = %+v", rs)
		}
		r := rs[slices.IndexFunc(rs, func(r Reason) bool { return r.Code == ReasonExtension })]
		if r.Option == nil || r.Option.Key != "extensions" || r.Option.Value != "pg_trgm" || !strings.Contains(r.Fix, "the remote has it") {
			t.Fatalf("fix = %+v %q", r.Option, r.Fix)
		}
		if _, err := f.svc.ChangeOption(ctx, OptionRequest{LocalVar: "DATABASE_URL", Name: "shop", Change: *r.Option}); err != nil {
			t.Fatal(err)
		}
		c = check(t, f, sql)
		if len(kept(c)) != 0 || !strings.Contains(c.Scans[0].RemoteSQL, "similarity(") {
			t.Fatalf("after listing pg_trgm: kept %+v, remote SQL %q", kept(c), c.Scans[0].RemoteSQL)
		}
		// pg_trgm's % operator calls a stable function (it reads
		// pg_trgm.similarity_threshold): listing the extension does not
		// make it shippable, and the check says why.
		c = check(t, f, "SELECT * FROM shop.customers WHERE name % 'Ada'")
		if rs := kept(c); !hasReason(rs, ReasonMutable, "operator %") || hasReason(rs, ReasonExtension, "") {
			t.Fatalf("reasons for %% = %+v", rs)
		}
		if _, err := f.svc.ChangeOption(ctx, OptionRequest{LocalVar: "DATABASE_URL", Name: "shop", Change: OptionChange{Key: "extensions"}}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("MutableFunction", func(t *testing.T) {
		c := check(t, f, "SELECT * FROM shop.events WHERE at > now() - interval '1 hour'")
		if rs := kept(c); !hasReason(rs, ReasonMutable, "now()") || !strings.Contains(rs[0].Fix, "(SELECT now()") {
			t.Fatalf("reasons = %+v", rs)
		}
		// The fix it gives: the scalar subquery goes as a parameter.
		c = check(t, f, "SELECT * FROM shop.events WHERE at > (SELECT now() - interval '1 hour')")
		if len(kept(c)) != 0 || !strings.Contains(c.Scans[0].RemoteSQL, "$1") {
			t.Fatalf("with a scalar subquery: kept %+v, remote SQL %q", kept(c), c.Scans[0].RemoteSQL)
		}
		c = check(t, f, "SELECT * FROM shop.events WHERE id > random() * 10")
		if rs := kept(c); !hasReason(rs, ReasonMutable, "random()") || !strings.Contains(rs[0].Why, "volatile") {
			t.Fatalf("reasons = %+v", rs)
		}
		c = check(t, f, "SELECT * FROM shop.events WHERE at::date = CURRENT_DATE")
		if rs := kept(c); !hasReason(rs, ReasonMutable, "CURRENT DATE") {
			t.Fatalf("reasons = %+v", rs)
		}
	})

	t.Run("UserFunction", func(t *testing.T) {
		c := check(t, f, "SELECT * FROM shop.customers WHERE my_double(id) = 2")
		if rs := kept(c); !hasReason(rs, ReasonUserFunction, "my_double()") || hasReason(rs, ReasonMutable, "") {
			t.Fatalf("reasons = %+v", rs)
		}
	})

	t.Run("EnumType", func(t *testing.T) {
		c := check(t, f, "SELECT * FROM shop.orders WHERE status = 'paid'")
		if rs := kept(c); !hasReason(rs, ReasonType, "status") || !strings.Contains(rs[0].Why, "enum") {
			t.Fatalf("reasons = %+v", rs)
		}
		if rs := kept(c); len(rs) != 1 {
			t.Errorf("one enum, %d reasons: %+v", len(rs), rs)
		}
		// Joined with another table of the link, the join stays local
		// because of that condition.
		c = check(t, f, "SELECT * FROM shop.orders o JOIN shop.customers c ON c.id = o.customer_id WHERE o.status = 'paid'")
		if i := slices.IndexFunc(c.Local, func(s LocalStep) bool { return s.What == "join" }); i < 0 || !hasReason(c.Local[i].Reasons, ReasonLocalConds, "join") {
			t.Fatalf("local steps = %+v", c.Local)
		}
		// Grouping by it is done locally for the same reason.
		c = check(t, f, "SELECT status, count(*) FROM shop.orders GROUP BY status")
		if len(c.Local) != 1 || c.Local[0].What != "aggregate" || !hasReason(c.Local[0].Reasons, ReasonType, "status") {
			t.Fatalf("local steps = %+v", c.Local)
		}
	})

	t.Run("Collation", func(t *testing.T) {
		c := check(t, f, `SELECT * FROM shop.customers WHERE name = 'Ada' COLLATE "C"`)
		if rs := kept(c); !hasReason(rs, ReasonCollation, `"C"`) {
			t.Fatalf("reasons = %+v", rs)
		}
	})

	t.Run("Subquery", func(t *testing.T) {
		c := check(t, f, "SELECT * FROM shop.customers c WHERE c.id NOT IN (SELECT customer_id FROM shop.orders)")
		if rs := kept(c); !hasReason(rs, ReasonSubquery, "subquery") {
			t.Fatalf("reasons = %+v", rs)
		}
	})

	t.Run("Aggregate", func(t *testing.T) {
		c := check(t, f, "SELECT customer_id, count(*), sum(total) FROM shop.orders GROUP BY customer_id")
		if len(c.Scans) != 1 || !slices.Contains(c.Scans[0].Pushed, "aggregate") || len(c.Local) != 0 {
			t.Fatalf("scans = %+v, local = %+v", c.Scans, c.Local)
		}
	})

	t.Run("JoinSameLink", func(t *testing.T) {
		sql := "SELECT c.name, o.total FROM shop.customers c JOIN shop.orders o ON o.customer_id = c.id WHERE o.total > 5"
		// With the remote's estimates the planner sends the join.
		if _, err := f.svc.ChangeOption(ctx, OptionRequest{LocalVar: "DATABASE_URL", Name: "shop", Change: OptionChange{Key: "use_remote_estimate", Value: "true"}}); err != nil {
			t.Fatal(err)
		}
		defer f.svc.ChangeOption(ctx, OptionRequest{LocalVar: "DATABASE_URL", Name: "shop", Change: OptionChange{Key: "use_remote_estimate"}})
		c := check(t, f, sql)
		if len(c.Scans) != 1 || !slices.Contains(c.Scans[0].Pushed, "join") || !strings.Contains(c.Scans[0].Relations, "INNER JOIN") || len(c.Local) != 0 {
			t.Fatalf("scans = %+v, local = %+v", c.Scans, c.Local)
		}
		if !c.RemoteEst {
			t.Error("use_remote_estimate not seen")
		}
		// An aggregate over the join goes too.
		c = check(t, f, "SELECT count(*) FROM shop.customers c JOIN shop.orders o ON o.customer_id = c.id")
		if len(c.Scans) != 1 || !c.Scans[0].Mine || !slices.Contains(c.Scans[0].Pushed, "aggregate") || !slices.Contains(c.Scans[0].Pushed, "join") {
			t.Fatalf("scans = %+v", c.Scans)
		}
	})

	t.Run("JoinAcrossLinks", func(t *testing.T) {
		c := check(t, f, "SELECT c.name, o.total FROM shop.customers c JOIN other.orders o ON o.customer_id = c.id")
		if len(c.Scans) != 2 || !c.Scans[0].Mine || c.Scans[1].Mine {
			t.Fatalf("scans = %+v", c.Scans)
		}
		i := slices.IndexFunc(c.Local, func(s LocalStep) bool { return s.What == "join" })
		if i < 0 || !hasReason(c.Local[i].Reasons, ReasonOtherLink, "join") {
			t.Fatalf("local = %+v", c.Local)
		}
	})

	t.Run("NotThisLink", func(t *testing.T) {
		_, err := f.svc.CheckQuery(ctx, QueryCheckRequest{LocalVar: "DATABASE_URL", Name: "shop", SQL: "SELECT * FROM other.customers"})
		if errs.KindOf(err) != errs.Invalid || !strings.Contains(errs.MessageOf(err), "reads no foreign table of link shop") {
			t.Fatalf("err = %v", err)
		}
		_, err = f.svc.CheckQuery(ctx, QueryCheckRequest{LocalVar: "DATABASE_URL", Name: "shop", SQL: "SELECT * FROM shop.nope"})
		if errs.KindOf(err) != errs.Invalid || !strings.Contains(errs.MessageOf(err), "does not exist") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("PlanOnlyRunsNothing", func(t *testing.T) {
		// pg_sleep is not called while planning; a huge cross join is only planned.
		start := time.Now()
		c := check(t, f, "SELECT pg_sleep(30), c.* FROM shop.customers c, generate_series(1, 100000000) g")
		if time.Since(start) > 20*time.Second || len(c.Plan) == 0 {
			t.Fatalf("plan-only check took %v", time.Since(start))
		}
	})

	t.Run("AnalyzeBounded", func(t *testing.T) {
		svc := newService(t, f.env)
		svc.Registry = f.svc.Registry
		svc.Fleet.Deadlines.QueryCheck = time.Second
		for _, sql := range []string{
			"SELECT pg_sleep(30) FROM shop.customers LIMIT 1",
			"SELECT count(*) FROM shop.customers a, generate_series(1, 500000000) g",
		} {
			_, err := svc.CheckQuery(ctx, QueryCheckRequest{LocalVar: "DATABASE_URL", Name: "shop", SQL: sql, Analyze: true})
			if errs.KindOf(err) != errs.Invalid || !strings.Contains(errs.MessageOf(err), "could not be run within 1s (statement_timeout)") {
				t.Fatalf("%s: err = %v", sql, err)
			}
		}
		c, err := svc.CheckQuery(ctx, QueryCheckRequest{LocalVar: "DATABASE_URL", Name: "shop", SQL: "SELECT * FROM shop.customers WHERE my_double(id) = 2", Analyze: true})
		if err != nil {
			t.Fatal(err)
		}
		sc := c.Scans[0]
		if !c.Analyze || !sc.Actual || sc.ActualRows != 1 || sc.ActualFetched != 2 {
			t.Fatalf("analyze: %+v", sc)
		}
	})

	t.Run("AnalyzeReadOnly", func(t *testing.T) {
		execAs(t, f.local.URL, `CREATE TABLE public.log (n int);
			CREATE FUNCTION public.write_log() RETURNS int LANGUAGE sql VOLATILE AS 'INSERT INTO public.log VALUES (1) RETURNING n';
			CREATE VIEW public.logged AS SELECT public.write_log() AS n`)
		// Called by name: refused before anything runs.
		_, err := f.svc.CheckQuery(ctx, QueryCheckRequest{LocalVar: "DATABASE_URL", Name: "shop", SQL: "SELECT write_log(), * FROM shop.customers", Analyze: true})
		if errs.KindOf(err) != errs.Invalid || !strings.Contains(errs.MessageOf(err), "write_log()") || !strings.Contains(errs.MessageOf(err), "volatile") {
			t.Fatalf("err = %v", err)
		}
		// Hidden in a view: the read-only transaction stops the write.
		_, err = f.svc.CheckQuery(ctx, QueryCheckRequest{LocalVar: "DATABASE_URL", Name: "shop", SQL: "SELECT * FROM public.logged, shop.customers", Analyze: true})
		if errs.KindOf(err) != errs.Invalid || !strings.Contains(errs.MessageOf(err), "read-only transaction") {
			t.Fatalf("err = %v", err)
		}
		if n := queryInt(t, f.local.URL, "SELECT count(*) FROM public.log"); n != 0 {
			t.Fatalf("%d rows written", n)
		}
		// Without ANALYZE nothing runs, so the plan is shown.
		check(t, f, "SELECT * FROM public.logged, shop.customers")
	})

	t.Run("Saved", func(t *testing.T) {
		store := NewQueryChecks(f.svc.Registry.(*StateRegistry).pool)
		c := check(t, f, "SELECT * FROM shop.customers WHERE my_double(id) = 2")
		if err := store.Save(ctx, c); err != nil || c.ID == 0 {
			t.Fatal(c.ID, err)
		}
		list, err := store.Recent(ctx, "DATABASE_URL", "shop", 10)
		if err != nil || len(list) != 1 || list[0].KeptLocal != 1 || list[0].Actor != "a@x" {
			t.Fatalf("recent = %+v, %v", list, err)
		}
		got, err := store.Get(ctx, "DATABASE_URL", "shop", c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !hasReason(kept(got), ReasonUserFunction, "my_double()") || got.Statement != c.Statement || len(got.PlanJSON()) == 0 {
			t.Fatalf("saved = %+v", got)
		}
		if _, err := store.Get(ctx, "DATABASE_URL", "other", c.ID); errs.KindOf(err) != errs.NotFound {
			t.Fatalf("another link's check: %v", err)
		}
	})
}
