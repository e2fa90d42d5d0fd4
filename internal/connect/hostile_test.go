package connect

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// hostileDB is a database holding the lookalike, an intruder, and a
// connection as the database's owner (who can read the intruder's secret).
func hostileDB(t *testing.T) (*pgtest.Intruder, *pgx.Conn) {
	t.Helper()
	d, conn := connectDB(t)
	in, err := cluster.AddIntruder(ctx(t), d)
	if err != nil {
		t.Fatal(err)
	}
	sql, err := os.ReadFile("testdata/lookalike.sql")
	if err != nil {
		t.Fatal(err)
	}
	in.MustExec(t, string(sql))
	return in, conn
}

// noLeak fails t when the intruder's code ran as another role, or its
// secret shows anywhere in v.
func noLeak(t *testing.T, in *pgtest.Intruder, v any) {
	t.Helper()
	if ran := in.Ran(t); len(ran) > 0 {
		t.Errorf("the intruder's code ran: %v", ran)
	}
	b, _ := json.Marshal(v)
	if strings.Contains(string(b), in.Secret) || strings.Contains(string(b), "LEAKED") {
		t.Errorf("the intruder's secret leaked: %s", b)
	}
}

// Reading the sync state of a lookalike runs none of its casts or
// policies: columns of types that are not PostgreSQL's own are said to be
// unreadable, and a table behind row-level security is not read.
func TestSyncStateRunsNoRemoteCode(t *testing.T) {
	in, conn := hostileDB(t)
	st, err := ReadSyncState(ctx(t), conn, "hc", nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	noLeak(t, in, st)
	if st == nil || len(st.Tables) != 3 {
		t.Fatalf("state = %+v", st)
	}
	byName := map[string]TableState{}
	for _, ts := range st.Tables {
		byName[ts.Name] = ts
	}
	acc := byName["account"]
	if acc.Err != "" || acc.Rows != 2 || acc.Count("FAILED").N != 1 || len(acc.Failed) != 1 || acc.Failed[0].SFID != "001" || acc.Failed[0].Err.Raw != "" {
		t.Errorf("account = %+v", acc)
	}
	if strings.Join(acc.Unreadable, " ") != "_hc_err" {
		t.Errorf("account does not say _hc_err cannot be read safely: %+v", acc.Unreadable)
	}
	if c := byName["contact"]; !strings.Contains(c.Err, "cannot be read safely") || !strings.Contains(c.Err, "_hc_lastop is of type hc.op") || c.Rows != 0 {
		t.Errorf("contact = %+v", c)
	}
	if l := byName["lead"]; !strings.Contains(l.Err, "row-level security") {
		t.Errorf("lead = %+v", l)
	}
	if len(st.TriggerLog) != 1 || st.TriggerLog[0].Table != "account" || st.TriggerLog[0].Action != "" || st.TriggerLog[0].Message != "" {
		t.Errorf("trigger log = %+v (%s)", st.TriggerLog, st.TriggerLogErr)
	}
	if u := strings.Join(st.TriggerLogUnreadable, " "); u != "action sf_message" {
		t.Errorf("trigger log does not say which columns cannot be read safely: %v", st.TriggerLogUnreadable)
	}
}

// An operator on the owner's search_path (a schema named after the owner,
// which the default search_path "$user", public reaches) is a closer match
// for the intruder's type than the built-in one: a filter on such a column
// would run it. The read filters on no such column, and sets its own
// search_path whatever the connection's.
func TestSyncStateIgnoresTheSessionSearchPath(t *testing.T) {
	in, conn := hostileDB(t)
	owner := pgtest.MustQueryString(t, conn.Config().ConnString(), "SELECT current_user::text")
	in.HijackSearchPath(t, owner)
	s := pgx.Identifier{owner}.Sanitize()
	in.MustExec(t, `
CREATE TYPE hc.state AS ENUM ('FAILED', 'SUCCESS');
CREATE FUNCTION `+s+`.state_eq(hc.state, hc.state) RETURNS boolean LANGUAGE sql AS $$ SELECT trap.leak('=') IS NOT NULL $$;
CREATE OPERATOR `+s+`.= (leftarg = hc.state, rightarg = hc.state, function = `+s+`.state_eq);
ALTER TABLE hc._trigger_log ALTER COLUMN state TYPE hc.state USING state::hc.state;`)
	st, err := ReadSyncState(ctx(t), conn, "hc", nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	noLeak(t, in, st)
	if st == nil || !strings.Contains(st.TriggerLogErr, "cannot be read safely") || !strings.Contains(st.TriggerLogErr, "state") {
		t.Fatalf("trigger log with a state of the intruder's type: %+v", st)
	}
	if len(st.Tables) != 3 {
		t.Fatalf("mapped tables = %+v", st.Tables)
	}
}

// The full message of a row reads nothing the sync state would not: a
// column of the intruder's type, or a table behind row-level security, is
// refused without running any of its code.
func TestReadMessageRunsNoRemoteCode(t *testing.T) {
	in, conn := hostileDB(t)
	for _, c := range []struct{ table, want string }{
		{"account", "cannot be read safely"},
		{TableTriggerLog, "cannot be read safely"},
		{"lead", "row-level security"},
	} {
		m, err := ReadMessage(ctx(t), conn, "hc", nil, c.table, "1", Options{})
		if err == nil || !strings.Contains(errs.MessageOf(err), c.want) {
			t.Errorf("message of %s = %+v, %v; want an error saying %q", c.table, m, err, c.want)
		}
		noLeak(t, in, []any{m, errs.MessageOf(err)})
	}
}
