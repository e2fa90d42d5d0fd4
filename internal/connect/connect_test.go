package connect

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/pgtest"
)

var cluster *pgtest.Cluster

func TestMain(m *testing.M) {
	var err error
	if cluster, err = pgtest.Start(context.Background(), pgtest.Options{ForTests: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	cluster.Stop()
	os.Exit(code)
}

var seq atomic.Int64

// connectDB is a fresh database holding testdata/salesforce.sql, and a
// connection to it.
func connectDB(t testing.TB) (*pgtest.Database, *pgx.Conn) {
	t.Helper()
	d, err := cluster.CreateDatabase(context.Background(), fmt.Sprintf("hc_%d", seq.Add(1)), pgtest.DBOptions{NoFDW: true})
	if err != nil {
		t.Fatal(err)
	}
	sql, err := os.ReadFile("testdata/salesforce.sql")
	if err != nil {
		t.Fatal(err)
	}
	pgtest.MustExec(t, d.URL, string(sql))
	conn, err := pgx.Connect(context.Background(), d.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return d, conn
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestDetectRecognisesConnectSchema(t *testing.T) {
	d, conn := connectDB(t)
	// Lookalikes: right names, wrong columns; and only one system table.
	pgtest.MustExec(t, d.URL, `
CREATE SCHEMA fake;
CREATE TABLE fake._hcmeta (id serial, note text);
CREATE TABLE fake._trigger_log (id serial, table_name text, record_id int, action text, state text, sf_message text);
CREATE TABLE fake.account (id serial, sfid varchar(18), _hc_lastop varchar(32), _hc_err varchar(1024));
CREATE SCHEMA half;
CREATE TABLE half._hcmeta (id serial, hcver int, org_id text, details text);
CREATE TABLE half.account (id serial, sfid varchar(18), _hc_lastop varchar(32), _hc_err varchar(1024));
CREATE SCHEMA logonly;
CREATE TABLE logonly._hcmeta (id serial, hcver int, org_id text);
CREATE TABLE logonly._trigger_log (id serial, table_name text);`)
	got, err := Detect(ctx(t), conn, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "salesforce" {
		t.Fatalf("Connect schemas = %+v, want only salesforce", got)
	}
	if want := []string{"account", "contact", "opportunity"}; !slices.Equal(got[0].Mapped, want) {
		t.Fatalf("mapped = %v, want %v (no system tables, no table without the system columns)", got[0].Mapped, want)
	}
	for _, s := range []string{"fake", "half", "logonly", "public"} {
		one, err := Detect(ctx(t), conn, s)
		if err != nil {
			t.Fatal(err)
		}
		if len(one) != 0 {
			t.Errorf("schema %s recognised as Connect's: %+v", s, one)
		}
	}
	one, err := Detect(ctx(t), conn, "salesforce")
	if err != nil || len(one) != 1 {
		t.Fatalf("Detect(salesforce) = %+v, %v", one, err)
	}
}

func TestSyncStateCountsAndFailures(t *testing.T) {
	_, conn := connectDB(t)
	st, err := ReadSyncState(ctx(t), conn, "salesforce", nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st == nil || len(st.Tables) != 3 {
		t.Fatalf("state = %+v", st)
	}
	acc := st.Tables[0]
	if acc.Name != "account" || acc.Err != "" || acc.Rows != 5 || acc.RowsEstimated || acc.CountsHow != "exact" {
		t.Fatalf("account = %+v", acc)
	}
	want := map[string]int64{"PENDING": 1, "INSERTED": 0, "UPDATED": 0, "SYNCED": 2, "FAILED": 1, "": 1}
	for op, n := range want {
		if c := acc.Count(op); c == nil || c.N != n || c.AtLeast {
			t.Errorf("account count %q = %+v, want %d", op, c, n)
		}
	}
	if len(acc.Failed) != 1 {
		t.Fatalf("account failed = %+v", acc.Failed)
	}
	e := acc.Failed[0].Err
	if e.Malformed || e.Op != "CREATE" || e.Src != "SFDC" || e.Msg != `REQUIRED_FIELD_MISSING: <b>Name</b> "quoted" & <script>alert(1)</script>` {
		t.Fatalf("parsed _hc_err = %+v", e)
	}
	if !slices.Contains(acc.SystemColumns, "sfid") || !slices.Contains(acc.SystemColumns, "_hc_err") || slices.Contains(acc.SystemColumns, "name") {
		t.Errorf("system columns = %v", acc.SystemColumns)
	}
	con := st.Tables[1]
	if len(con.Failed) != 1 || !con.Failed[0].Err.Malformed || con.Failed[0].Err.Raw != `{"op":"UPDATE","src":"SFDC",<i>not json` {
		t.Fatalf("malformed _hc_err = %+v", con.Failed)
	}
	if len(st.TriggerLog) != 2 || st.TriggerLog[0].Table != "contact" || st.TriggerLog[1].Message != `REQUIRED_FIELD_MISSING: <img src=x onerror=alert(1)> "Name"` || st.TriggerLog[1].Record != "5" {
		t.Fatalf("trigger log = %+v (%s)", st.TriggerLog, st.TriggerLogErr)
	}
	// A link importing only some tables sees only those.
	st, err = ReadSyncState(ctx(t), conn, "salesforce", []string{"contact", "notes"}, Options{})
	if err != nil || len(st.Tables) != 1 || st.Tables[0].Name != "contact" {
		t.Fatalf("restricted state = %+v, %v", st, err)
	}
	// Not a Connect schema: nothing.
	if st, err := ReadSyncState(ctx(t), conn, "public", nil, Options{}); err != nil || st != nil {
		t.Fatalf("public = %+v, %v", st, err)
	}
}

// A large table is not counted row by row: without an index on _hc_lastop
// the counts come from a sample and say so; with one, from the index.
func TestSyncStateLargeTableIsBounded(t *testing.T) {
	d, conn := connectDB(t)
	pgtest.MustExec(t, d.URL, `INSERT INTO salesforce.opportunity (name, _hc_lastop, _hc_err)
		SELECT 'o' || g, CASE WHEN g % 100 = 0 THEN 'FAILED' WHEN g % 10 = 0 THEN 'PENDING' ELSE 'SYNCED' END,
		       CASE WHEN g % 100 = 0 THEN '{"op":"UPDATE","src":"SFDC","msg":"row ' || g || '"}' END
		FROM generate_series(1, 20000) g; ANALYZE salesforce.opportunity`)
	o := Options{ExactUpTo: 500, SampleRows: 2000, IndexCountLimit: 1000, RecentRows: 5000}
	st, err := ReadSyncState(ctx(t), conn, "salesforce", []string{"opportunity"}, o)
	if err != nil {
		t.Fatal(err)
	}
	op := st.Tables[0]
	if op.Err != "" || !op.RowsEstimated || op.Rows < 15000 || op.Rows > 25000 || op.CountsHow != "sample" || op.FailedScope == "" {
		t.Fatalf("no index: %+v", op)
	}
	if synced := op.Count("SYNCED"); synced == nil || synced.N < 10000 {
		t.Errorf("sampled SYNCED = %+v", synced)
	}
	if len(op.Failed) == 0 || op.Failed[0].Err.Msg != "row 20000" {
		t.Errorf("latest failed = %+v", op.Failed)
	}
	// Never analysed: sampled by pages, still an estimate.
	pgtest.MustExec(t, d.URL, `ALTER TABLE salesforce.contact SET (autovacuum_enabled = false);
		INSERT INTO salesforce.contact (lastname, _hc_lastop) SELECT 'c' || g, 'SYNCED' FROM generate_series(1, 20000) g`)
	st, err = ReadSyncState(ctx(t), conn, "salesforce", []string{"contact"}, o)
	if err != nil {
		t.Fatal(err)
	}
	if c := st.Tables[0]; c.Err != "" || c.CountsHow != "sample" || !(c.RowsEstimated || c.RowsAtLeast) || c.Rows < 5000 || c.Count("SYNCED").N < 5000 {
		t.Fatalf("never analysed: %+v", c)
	}
	pgtest.MustExec(t, d.URL, `CREATE INDEX ON salesforce.opportunity (_hc_lastop)`)
	st, err = ReadSyncState(ctx(t), conn, "salesforce", []string{"opportunity"}, o)
	if err != nil {
		t.Fatal(err)
	}
	op = st.Tables[0]
	if op.CountsHow != "index" || op.FailedScope != "" {
		t.Fatalf("with index: %+v", op)
	}
	if c := op.Count("FAILED"); c == nil || c.N != 200 || c.AtLeast {
		t.Errorf("FAILED by index = %+v, want 200", c)
	}
	// Over the cap: the planner's estimate (about 17,800 SYNCED rows).
	if c := op.Count("SYNCED"); c == nil || c.N < 15000 || c.N > 20000 || !c.Estimated || c.AtLeast {
		t.Errorf("SYNCED by index = %+v, want an estimate near 17,800", c)
	}
	if c := op.Count("PENDING"); c == nil || c.N < 1500 || c.N > 2100 || !c.Estimated {
		t.Errorf("PENDING by index = %+v, want an estimate near 1,800", c)
	}
	if c := op.Count("INSERTED"); c == nil || c.N != 1 || c.AtLeast {
		t.Errorf("INSERTED by index = %+v, want 1", c)
	}
}

// A statement over its time limit fails its table only.
func TestSyncStateStatementTimeout(t *testing.T) {
	d, conn := connectDB(t)
	lock, err := pgx.Connect(ctx(t), d.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close(context.Background())
	tx, err := lock.Begin(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx(t), "LOCK TABLE salesforce.contact IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	st, err := ReadSyncState(ctx(t), conn, "salesforce", []string{"account", "contact"}, Options{StatementTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("read took %v", el)
	}
	if st.Tables[0].Err != "" || st.Tables[1].Err == "" {
		t.Fatalf("tables = %+v", st.Tables)
	}
}

func TestParseHCErr(t *testing.T) {
	for raw, want := range map[string]HCErr{
		`{"op":"UPDATE","src":"SFDC","msg":"x"}`: {Op: "UPDATE", Src: "SFDC", Msg: "x"},
		`{"op":1,"msg":null}`:                    {Op: "1"},
		`not json`:                               {Malformed: true},
		``:                                       {},
	} {
		got := ParseHCErr(raw)
		want.Raw = raw
		if got != want {
			t.Errorf("ParseHCErr(%q) = %+v, want %+v", raw, got, want)
		}
	}
}
