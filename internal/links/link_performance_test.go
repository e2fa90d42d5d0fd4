package links

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

func TestLinkPerformance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	execAs(t, f.local.URL, "CREATE EXTENSION pg_trgm")
	if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "shop", CopyEnums: true}); err != nil {
		t.Fatal(err)
	}
	link := func() *Link {
		l, err := f.svc.GetLink(ctx, "DATABASE_URL", "shop")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	perf := func() *Performance {
		p, err := f.svc.LinkPerformance(ctx, link())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	change := func(ch OptionChange) *OptionPlan {
		t.Helper()
		p, err := f.svc.ChangeOption(ctx, OptionRequest{LocalVar: "DATABASE_URL", Name: "shop", Change: ch, Actor: "a@x"})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("NeverAnalyzedAdvice", func(t *testing.T) {
		p := perf()
		if p.TableCount != 3 || p.NeverAnalyzed != 3 || !p.LastAnalyzed.IsZero() || len(p.Stats) != 3 || p.Stats[0].Rows != -1 {
			t.Fatalf("perf = %+v", p)
		}
		i := slices.IndexFunc(p.Advice, func(a Advice) bool { return a.Key == "use_remote_estimate" })
		if i < 0 || !strings.Contains(p.Advice[i].Text, "planned blind") || p.Advice[i].Option == nil {
			t.Fatalf("advice = %+v", p.Advice)
		}
		if !slices.Contains(p.LocalExtensions, "pg_trgm") || !slices.ContainsFunc(p.Advice, func(a Advice) bool { return a.Key == "extensions" && strings.Contains(a.Text, "pg_trgm") }) {
			t.Fatalf("extensions advice = %+v", p.Advice)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		for _, ch := range []OptionChange{
			{Key: "fetch_size", Value: "0"},
			{Key: "batch_size", Value: "ten"},
			{Key: "use_remote_estimate", Value: "maybe"},
			{Key: "extensions", Value: "pg_trgm,nope"},
			{Key: "host", Value: "evil"},
			{Key: "extensions", Value: "pg_trgm", Table: "customers"},
			{Key: "fetch_size", Value: "10", Table: "no_such_table"},
			{Key: "fetch_size", Value: ""}, // not set: nothing to reset
		} {
			_, err := f.svc.PlanOption(ctx, "DATABASE_URL", "shop", ch)
			if errs.KindOf(err) != errs.Invalid {
				t.Errorf("%+v: err = %v", ch, err)
			}
		}
	})

	t.Run("PreviewThenApply", func(t *testing.T) {
		p, err := f.svc.PlanOption(ctx, "DATABASE_URL", "shop", OptionChange{Key: "fetch_size", Value: " 5000 "})
		if err != nil {
			t.Fatal(err)
		}
		if p.SQL != `ALTER SERVER "shop" OPTIONS (ADD fetch_size '5000')` {
			t.Fatalf("sql = %s", p.SQL)
		}
		if v, set := perf().Value("fetch_size"); set || v != "100" {
			t.Fatalf("the preview changed the server: %s", v)
		}
		change(OptionChange{Key: "fetch_size", Value: "5000"})
		if p := change(OptionChange{Key: "fetch_size", Value: "2000"}); p.SQL != `ALTER SERVER "shop" OPTIONS (SET fetch_size '2000')` {
			t.Fatalf("sql = %s", p.SQL)
		}
		change(OptionChange{Key: "extensions", Value: "pg_trgm"})
		// The remote lacks pg_trgm: the preview says so.
		pp, err := f.svc.PlanOption(ctx, "DATABASE_URL", "shop", OptionChange{Key: "extensions", Value: "pg_trgm, plpgsql"})
		if err != nil || pp.SQL != `ALTER SERVER "shop" OPTIONS (SET extensions 'pg_trgm,plpgsql')` || len(pp.Warnings) != 1 || !strings.Contains(pp.Warnings[0], "pg_trgm is not installed on the remote") {
			t.Fatalf("%+v %v", pp, err)
		}
		pp, err = f.svc.PlanOption(ctx, "DATABASE_URL", "shop", OptionChange{Key: "extensions", Value: ""})
		if err != nil || pp.SQL != `ALTER SERVER "shop" OPTIONS (DROP extensions)` {
			t.Fatalf("%+v %v", pp, err)
		}
		if p := perf(); p.Server["fetch_size"] != "2000" || p.Server["extensions"] != "pg_trgm" {
			t.Fatalf("server = %v", p.Server)
		}
	})

	t.Run("TableOptionSurvivesRefreshAndRepair", func(t *testing.T) {
		if p := change(OptionChange{Table: "customers", Key: "use_remote_estimate", Value: "true"}); p.SQL != `ALTER FOREIGN TABLE "shop"."customers" OPTIONS (ADD use_remote_estimate 'true')` {
			t.Fatalf("sql = %s", p.SQL)
		}
		change(OptionChange{Table: "customers", Key: "fetch_size", Value: "300"})
		// The remote changes: a column added to customers, a new table.
		execAs(t, f.remote.URL, "ALTER TABLE customers ADD COLUMN phone text; CREATE TABLE notes (id int)")
		plan, err := f.svc.PlanRefresh(ctx, "DATABASE_URL", "shop")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.RefreshLink(ctx, RefreshRequest{LocalVar: "DATABASE_URL", Name: "shop", Fingerprint: plan.Fingerprint}); err != nil {
			t.Fatal(err)
		}
		p := perf()
		if len(p.Tables) != 1 || p.Tables[0].Table != "customers" || p.Tables[0].Options["use_remote_estimate"] != "true" || p.Tables[0].Options["fetch_size"] != "300" {
			t.Fatalf("table options after refresh = %+v", p.Tables)
		}
		if p.Server["fetch_size"] != "2000" || p.TableCount != 4 {
			t.Fatalf("server after refresh = %v, %d tables", p.Server, p.TableCount)
		}
		// A password rotation and its repair keep them too.
		execAs(t, clusterB.SuperURL("postgres"), "ALTER ROLE "+fleet.Ident(f.remote.Owner)+" PASSWORD 'rotated-Secret-1'")
		svc := newService(t, []string{"DATABASE_URL=" + f.local.URL, blue + "=" + strings.Replace(f.remote.URL, f.remote.Password, "rotated-Secret-1", 1)})
		svc.Registry = f.svc.Registry
		if _, err := repairConfirmed(ctx, svc, "DATABASE_URL", "shop"); err != nil {
			t.Fatal(err)
		}
		p, err = svc.LinkPerformance(ctx, link())
		if err != nil {
			t.Fatal(err)
		}
		if p.Server["fetch_size"] != "2000" || p.Server["extensions"] != "pg_trgm" || len(p.Tables) != 1 || p.Tables[0].Options["fetch_size"] != "300" {
			t.Fatalf("after repair: server %v, tables %+v", p.Server, p.Tables)
		}
		change(OptionChange{Table: "customers", Key: "fetch_size"})
		if p := perf(); p.Tables[0].Options["fetch_size"] != "" {
			t.Fatalf("reset kept %v", p.Tables[0].Options)
		}
	})

	t.Run("Analyze", func(t *testing.T) {
		res, err := f.svc.AnalyzeLink(ctx, AnalyzeRequest{LocalVar: "DATABASE_URL", Name: "shop"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != 4 || len(res.Analyzed) != 4 || len(res.Failed) != 0 || res.Remaining != 0 {
			t.Fatalf("analyze = %+v", res)
		}
		p := perf()
		if p.NeverAnalyzed != 0 || p.LastAnalyzed.IsZero() || slices.ContainsFunc(p.Stats, func(s TableStats) bool { return s.Rows < 0 || s.LastAnalyzed.IsZero() }) {
			t.Fatalf("after analyze: %+v", p)
		}
		if slices.ContainsFunc(p.Advice, func(a Advice) bool { return a.Key == "use_remote_estimate" || a.Key == "fetch_size" }) {
			t.Errorf("advice for small analyzed tables: %+v", p.Advice)
		}
		if p.LargestRows != 2 {
			t.Errorf("largest table: %v rows", p.LargestRows)
		}
	})
}
