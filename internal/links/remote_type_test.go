package links

import (
	"context"
	"testing"

	"github.com/pglinks/pglinks/internal/pgtest"
)

// format_type's answers are type names; anything more is refused.
func TestCheckRemoteType(t *testing.T) {
	for _, typ := range []string{
		"text", "integer", "character varying(20)", "numeric(10,2)", "timestamp(3) with time zone",
		"integer[]", "public.order_status", `"Odd ""Type"""`, "bit varying(5)", "interval day to second(3)", `public."my type"[]`,
	} {
		if err := checkRemoteType(typ); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
	for _, typ := range []string{
		"", "text; DROP TABLE x", "text; SELECT 1 --", "int DEFAULT 1", `text COLLATE "C"`, "int, 1", "int FROM pg_class",
		"int) ; (SELECT 1", "text UNION SELECT 1", "int WHERE true", "int AS x", "int LIMIT 1", "(SELECT 1)::int",
	} {
		if err := checkRemoteType(typ); err == nil {
			t.Errorf("%q accepted as a type name", typ)
		}
	}
}

// execOne runs one statement and refuses a string of several.
func TestExecOneRunsOneStatement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newDB(t, clusterA, "execone", pgtest.DBOptions{})
	tx := beginOn(t, d.URL)
	if err := execOne(ctx, tx, "CREATE TABLE one (x int)"); err != nil {
		t.Fatal(err)
	}
	if err := execOne(ctx, tx, "CREATE TABLE two (x int); CREATE TABLE three (x int)"); err == nil {
		t.Fatal("two statements in one string ran")
	}
}
