package links

import (
	"context"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/errs"
)

// A query check never reads a link's password: pglinks' role may read its
// own user mappings, and a statement run under ANALYZE could carry the
// password out in PostgreSQL's error (the value a cast refused), whole,
// cut out or transformed (so masking the known value is not enough).
// Every way of naming the mappings is refused before the statement runs,
// with or without ANALYZE.
func TestQueryCheckNeverReadsUserMappings(t *testing.T) {
	t.Parallel()
	f := checkFixture(t)
	// A view made earlier by someone else hides the catalog's name.
	execAs(t, f.local.URL, `CREATE VIEW public.innocent AS SELECT srvname, umoptions FROM pg_catalog.pg_user_mappings;
		GRANT SELECT ON public.innocent TO PUBLIC`)
	ctx := context.Background()
	for _, sql := range []string{
		// The password alone, after "password=": no keyword left to mask by.
		`SELECT * FROM shop.customers WHERE id = (SELECT split_part(split_part(umoptions::text, 'password=', 2), '}', 1) FROM pg_catalog.pg_user_mappings WHERE srvname = 'shop')::int`,
		// The whole options array.
		`SELECT * FROM shop.customers WHERE id = (SELECT umoptions::text FROM pg_catalog.pg_user_mappings WHERE srvname = 'shop')::int`,
		// Reversed: not the value any mask looks for.
		`SELECT * FROM shop.customers WHERE id = (SELECT reverse(umoptions::text) FROM pg_user_mappings WHERE srvname = 'shop')::int`,
		`SELECT * FROM shop.customers WHERE id = (SELECT reverse(option_value) FROM information_schema.user_mapping_options WHERE option_name = 'password' LIMIT 1)::int`,
		`WITH m AS (SELECT umoptions FROM "pg_catalog"."pg_user_mappings") SELECT * FROM shop.customers WHERE id = (SELECT reverse(umoptions::text) FROM m)::int`,
		`SELECT * FROM shop.customers WHERE id = (SELECT reverse(umoptions::text) FROM public.innocent WHERE srvname = 'shop')::int`,
	} {
		for _, analyze := range []bool{true, false} {
			_, err := f.svc.CheckQuery(ctx, QueryCheckRequest{LocalVar: "DATABASE_URL", Name: "shop", SQL: sql, Analyze: analyze})
			msg := errs.MessageOf(err)
			if !errs.Is(err, errs.Invalid) || !strings.Contains(msg, "user mappings") {
				t.Errorf("analyze %v: %s: err = %v, want a refusal naming the user mappings", analyze, sql, err)
			}
			rev := []rune(f.remote.Password)
			for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
				rev[i], rev[j] = rev[j], rev[i]
			}
			if strings.Contains(msg, f.remote.Password) || strings.Contains(msg, string(rev)) {
				t.Errorf("the query check's error shows the link's password:\n%s", msg)
			}
		}
	}
	// The refusal is not a refusal of catalogs: other catalogs are read.
	if _, err := f.svc.CheckQuery(ctx, QueryCheckRequest{LocalVar: "DATABASE_URL", Name: "shop", SQL: `SELECT * FROM shop.customers WHERE id = (SELECT count(*) FROM pg_catalog.pg_class)::int`, Analyze: true}); err != nil {
		t.Errorf("a check reading pg_class: %v", err)
	}
}

// PostgreSQL's words in a failed check never hold a fleet database's
// password, however the statement got at it (here: a function made
// earlier that returns it, whose reads no plan shows).
func TestQueryCheckErrorHidesPasswords(t *testing.T) {
	t.Parallel()
	f := checkFixture(t)
	execAs(t, f.local.URL, `CREATE FUNCTION public.pw() RETURNS text STABLE LANGUAGE plpgsql AS $$BEGIN RETURN '`+f.remote.Password+`'; END$$`)
	_, err := f.svc.CheckQuery(context.Background(), QueryCheckRequest{LocalVar: "DATABASE_URL", Name: "shop", SQL: `SELECT * FROM shop.customers WHERE id = public.pw()::int`, Analyze: true})
	msg := errs.MessageOf(err)
	if err == nil || strings.Contains(msg, f.remote.Password) || !strings.Contains(msg, `"***"`) {
		t.Errorf("err = %v, want PostgreSQL's message with the password as ***", err)
	}
}
