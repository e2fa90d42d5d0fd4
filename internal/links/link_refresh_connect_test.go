package links

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// A schema that became a Heroku Connect schema after a link of all its
// tables was made: a refresh imports its new mapped table and, by the rule
// of creation and import, none of Connect's system tables, into a
// read-write link or a read-only one; the drift names them as left out
// and is otherwise in step.
func TestRefreshLeavesConnectSystemTablesOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	execAs(t, f.remote.URL, `CREATE SCHEMA sf;
CREATE TABLE sf.account (id serial PRIMARY KEY, sfid varchar(18), _hc_lastop varchar(32), _hc_err text, name text)`)
	for _, ro := range []bool{false, true} {
		name := map[bool]string{false: "sfrw", true: "sfro"}[ro]
		if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: name, RemoteSchema: "sf", ReadOnly: ro}); err != nil {
			t.Fatal(err)
		}
	}
	execAs(t, f.remote.URL, `
CREATE TABLE sf._hcmeta (id serial PRIMARY KEY, hcver integer, org_id varchar(50), details text);
CREATE TABLE sf._trigger_log (id bigserial PRIMARY KEY, state varchar(8), action varchar(7), table_name varchar(128), record_id integer, sfid varchar(18), sf_message text);
CREATE TABLE sf._trigger_log_archive (LIKE sf._trigger_log);
CREATE TABLE sf.contact (id serial PRIMARY KEY, sfid varchar(18), _hc_lastop varchar(32), _hc_err text, lastname text)`)
	for _, name := range []string{"sfrw", "sfro"} {
		p, err := f.svc.PlanRefresh(ctx, "DATABASE_URL", name)
		if err != nil {
			t.Fatal(err)
		}
		sql := strings.Join(p.SQL, "\n")
		if !strings.Contains(sql, `LIMIT TO ("contact")`) || strings.Contains(sql, "_hcmeta") || strings.Contains(sql, "_trigger_log") {
			t.Errorf("%s: refresh SQL:\n%s", name, sql)
		}
		var left []string
		for _, lo := range p.Drift.LeftOut {
			left = append(left, lo.Table)
			if !strings.Contains(lo.Why, "Heroku Connect") {
				t.Errorf("%s: %s left out because %q", name, lo.Table, lo.Why)
			}
		}
		if !slices.Equal(left, []string{"_hcmeta", "_trigger_log", "_trigger_log_archive"}) {
			t.Errorf("%s: left out %q", name, left)
		}
		if _, err := f.svc.RefreshLink(ctx, RefreshRequest{LocalVar: "DATABASE_URL", Name: name, Fingerprint: p.Fingerprint}); err != nil {
			t.Fatal(err)
		}
		got := queryStrings(t, f.local.URL, `SELECT coalesce(array_agg(c.relname::text ORDER BY c.relname), '{}') FROM pg_foreign_table ft
			JOIN pg_class c ON c.oid = ft.ftrelid WHERE c.relnamespace = $1::regnamespace`, name)
		if !slices.Equal(got, []string{"account", "contact"}) {
			t.Errorf("%s: foreign tables after the refresh = %q", name, got)
		}
		d, err := f.svc.LinkDrift(ctx, "DATABASE_URL", name)
		if err != nil {
			t.Fatal(err)
		}
		if !d.InStep() || len(d.LeftOut) != 3 || !d.Connect {
			t.Errorf("%s: drift after the refresh = %+v", name, d)
		}
	}
}

func queryStrings(t *testing.T, url, sql string, args ...any) []string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var out []string
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&out); err != nil {
		t.Fatal(err)
	}
	return out
}
