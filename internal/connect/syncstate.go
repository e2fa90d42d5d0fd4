package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Ops are the values of _hc_lastop, in the order the page shows them; ""
// stands for NULL (unchanged since the initial load).
var Ops = []string{"PENDING", "INSERTED", "UPDATED", "SYNCED", "FAILED", ""}

// Options bound a sync-state read.
type Options struct {
	// StatementTimeout is set with SET LOCAL on every read.
	StatementTimeout time.Duration
	// ExactUpTo: tables with at most this many rows are counted exactly.
	ExactUpTo int64
	// IndexCountLimit caps each per-op count made through an index on
	// _hc_lastop; beyond it the planner's statistics give an estimate
	// (or, without statistics, the page says "more than").
	IndexCountLimit int64
	// SampleRows is about how many rows a TABLESAMPLE reads when a large
	// table has no index on _hc_lastop.
	SampleRows int64
	// RecentRows is how many of the latest rows (by id) are searched for
	// FAILED ones when there is no index on _hc_lastop.
	RecentRows int64
	MaxTables  int // mapped tables read; the rest are counted
	FailedRows int // latest FAILED rows shown per table
	LogRows    int // latest FAILED _trigger_log entries shown
}

// DefaultOptions are the bounds the link page uses.
var DefaultOptions = Options{
	StatementTimeout: 1500 * time.Millisecond,
	ExactUpTo:        10_000,
	IndexCountLimit:  10_000,
	SampleRows:       10_000,
	RecentRows:       50_000,
	MaxTables:        25,
	FailedRows:       5,
	LogRows:          20,
}

// SyncState is what a Connect schema says about its sync with Salesforce.
type SyncState struct {
	Schema     string
	Tables     []TableState
	MoreTables int // mapped tables not read (over MaxTables)
	// TriggerLog holds the latest _trigger_log entries in state FAILED.
	TriggerLog    []LogEntry
	TriggerLogErr string
}

// TableState is one mapped table's sync state.
type TableState struct {
	Name string
	Rows int64
	// RowsEstimated: Rows is pg_class.reltuples; RowsAtLeast: Rows is a
	// lower bound (the table was never analysed).
	RowsEstimated, RowsAtLeast bool
	Counts                     []OpCount
	// CountsHow says how the counts were made: "exact", "index" (exact up
	// to IndexCountLimit each) or "sample" (scaled from a TABLESAMPLE).
	CountsHow string
	Failed    []FailedRow
	// FailedScope, when not "", says the FAILED rows were looked for only
	// among the latest rows.
	FailedScope   string
	SystemColumns []string // Connect's system columns the table has
	Err           string   // what could not be read
}

// OpCount is how many rows have one _hc_lastop.
type OpCount struct {
	Op      string // "" is NULL
	N       int64
	AtLeast bool // N is a lower bound
	// Estimated: N is the planner's statistics (frequency × reltuples).
	Estimated bool
}

// lastopFreqs reads the planner's statistics of _hc_lastop: the
// frequency of its most common values, "" for NULL.
func lastopFreqs(ctx context.Context, tx pgx.Tx, schema, table string) (map[string]float64, error) {
	out := map[string]float64{}
	var vals []string
	var freqs []float64
	var nullFrac *float64
	err := tx.QueryRow(ctx, `SELECT most_common_vals::text::text[], most_common_freqs::float8[], null_frac::float8
		FROM pg_stats WHERE schemaname = $1 AND tablename = $2 AND attname = '_hc_lastop'`, schema, table).Scan(&vals, &freqs, &nullFrac)
	if errors.Is(err, pgx.ErrNoRows) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for i, v := range vals {
		if i < len(freqs) {
			out[v] = freqs[i]
		}
	}
	if nullFrac != nil {
		out[""] = *nullFrac
	}
	return out, nil
}

// FailedRow is a row whose last sync to Salesforce failed.
type FailedRow struct {
	ID, SFID string
	Err      HCErr
}

// HCErr is a parsed _hc_err value. When the JSON is malformed, Malformed is
// set and Raw holds the text as stored.
type HCErr struct {
	Op, Src, Msg string
	Raw          string
	Malformed    bool
}

// ParseHCErr reads an _hc_err value: JSON with op, src and msg.
func ParseHCErr(raw string) HCErr {
	e := HCErr{Raw: raw}
	var v struct {
		Op  any `json:"op"`
		Src any `json:"src"`
		Msg any `json:"msg"`
	}
	if strings.TrimSpace(raw) == "" {
		return e
	}
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		e.Malformed = true
		return e
	}
	e.Op, e.Src, e.Msg = jsonText(v.Op), jsonText(v.Src), jsonText(v.Msg)
	return e
}

func jsonText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// LogEntry is a _trigger_log row.
type LogEntry struct {
	ID, Table, Record, Action, Message string
}

// ReadSyncState reads the sync state of Connect schema `schema` over conn
// (a connection pglinks opened itself). only, when not nil, restricts it
// to those tables (a link's LIMIT TO list). It returns nil, nil when the
// schema is not a Connect schema. Every statement runs in a read-only
// transaction with SET LOCAL statement_timeout; a table that cannot be read
// in time gets an Err and the others are still read.
func ReadSyncState(ctx context.Context, conn *pgx.Conn, schema string, only []string, o Options) (*SyncState, error) {
	o = o.withDefaults()
	var found []Schema
	err := readOnly(ctx, conn, o, func(tx pgx.Tx) error {
		var err error
		found, err = Detect(ctx, tx, schema)
		return err
	})
	if err != nil {
		return nil, err
	}
	sch := Find(found, schema)
	if sch == nil {
		return nil, nil
	}
	st := &SyncState{Schema: schema}
	mapped := sch.Mapped
	if only != nil {
		mapped = nil
		for _, t := range sch.Mapped {
			for _, w := range only {
				if w == t {
					mapped = append(mapped, t)
					break
				}
			}
		}
	}
	if len(mapped) > o.MaxTables {
		st.MoreTables = len(mapped) - o.MaxTables
		mapped = mapped[:o.MaxTables]
	}
	infos := map[string]tableInfo{}
	err = readOnly(ctx, conn, o, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sqlTableInfo, schema, mapped, SystemColumns)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ti tableInfo
			if err := rows.Scan(&ti.name, &ti.reltuples, &ti.pages, &ti.lastopIndex, &ti.hasID, &ti.sysCols); err != nil {
				return err
			}
			infos[ti.name] = ti
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("connect: tables: %w", err)
	}
	for _, t := range mapped {
		ti, ok := infos[t]
		ts := TableState{Name: t}
		if !ok {
			ts.Err = "the table is gone"
		} else if err := readOnly(ctx, conn, o, func(tx pgx.Tx) error { return readTable(ctx, tx, schema, ti, o, &ts) }); err != nil {
			ts.Err = readErr(err)
		}
		st.Tables = append(st.Tables, ts)
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
	}
	err = readOnly(ctx, conn, o, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT id::text, coalesce(table_name::text, ''), coalesce(record_id::text, ''),
			coalesce(action::text, ''), coalesce(sf_message::text, '')
			FROM %s WHERE state = 'FAILED' ORDER BY id DESC LIMIT %d`, pgx.Identifier{schema, TableTriggerLog}.Sanitize(), o.LogRows))
		if err != nil {
			return err
		}
		st.TriggerLog, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (LogEntry, error) {
			var e LogEntry
			err := r.Scan(&e.ID, &e.Table, &e.Record, &e.Action, &e.Message)
			return e, err
		})
		return err
	})
	if err != nil {
		st.TriggerLogErr = readErr(err)
	}
	return st, nil
}

func (o Options) withDefaults() Options {
	d := DefaultOptions
	if o.StatementTimeout <= 0 {
		o.StatementTimeout = d.StatementTimeout
	}
	if o.ExactUpTo <= 0 {
		o.ExactUpTo = d.ExactUpTo
	}
	if o.IndexCountLimit <= 0 {
		o.IndexCountLimit = d.IndexCountLimit
	}
	if o.SampleRows <= 0 {
		o.SampleRows = d.SampleRows
	}
	if o.RecentRows <= 0 {
		o.RecentRows = d.RecentRows
	}
	if o.MaxTables <= 0 {
		o.MaxTables = d.MaxTables
	}
	if o.FailedRows <= 0 {
		o.FailedRows = d.FailedRows
	}
	if o.LogRows <= 0 {
		o.LogRows = d.LogRows
	}
	return o
}

// readOnly runs f in a read-only transaction with a statement timeout.
func readOnly(ctx context.Context, conn *pgx.Conn, o Options, f func(pgx.Tx) error) error {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = tx.Rollback(rctx)
	}()
	ms := strconv.FormatInt(o.StatementTimeout.Milliseconds(), 10)
	if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = "+ms); err != nil {
		return err
	}
	return f(tx)
}

func readErr(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "not read: no answer in time"
	case strings.Contains(err.Error(), "statement timeout"):
		return "not read: the query took longer than its time limit"
	}
	return "not read: " + err.Error()
}

type tableInfo struct {
	name        string
	reltuples   float64 // -1: never analysed
	pages       int64   // the table's size in pages (relpages, or read when never analysed)
	lastopIndex bool    // a valid, non-partial index leads with _hc_lastop
	hasID       bool
	sysCols     []string
}

const sqlTableInfo = `
SELECT c.relname::text, c.reltuples::float8, c.relpages::int8,
  EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
          WHERE i.indrelid = c.oid AND i.indisvalid AND i.indpred IS NULL AND a.attname = '_hc_lastop'),
  EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'id' AND NOT a.attisdropped),
  array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        AND a.attname = ANY ($3::text[]) ORDER BY a.attnum)
FROM pg_class c
WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND c.relname = ANY ($2::text[])`

func readTable(ctx context.Context, tx pgx.Tx, schema string, ti tableInfo, o Options, ts *TableState) error {
	q := pgx.Identifier{schema, ti.name}.Sanitize()
	ts.SystemColumns = ti.sysCols
	// Rows: exact when small, else the planner's estimate.
	small := ti.reltuples < float64(2*o.ExactUpTo)
	if small {
		var n int64
		if err := tx.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM %s LIMIT %d) s", q, o.ExactUpTo+1)).Scan(&n); err != nil {
			return err
		}
		if n <= o.ExactUpTo {
			ts.Rows = n
		} else {
			small = false
			ts.Rows, ts.RowsAtLeast = max(n-1, int64(ti.reltuples)), ti.reltuples < 0
			ts.RowsEstimated = !ts.RowsAtLeast
		}
	} else {
		ts.Rows, ts.RowsEstimated = int64(ti.reltuples), true
	}
	order := ""
	if ti.hasID {
		order = " ORDER BY id DESC"
	}
	failedFrom := q
	switch {
	case small:
		ts.CountsHow = "exact"
		rows, err := tx.Query(ctx, fmt.Sprintf("SELECT coalesce(_hc_lastop::text, ''), count(*) FROM %s GROUP BY 1", q))
		if err != nil {
			return err
		}
		if ts.Counts, err = collectCounts(rows); err != nil {
			return err
		}
	case ti.lastopIndex:
		ts.CountsHow = "index"
		// Counts over the cap come from the planner's statistics.
		freqs, err := lastopFreqs(ctx, tx, schema, ti.name)
		if err != nil {
			return err
		}
		for _, op := range Ops {
			cond, args := "_hc_lastop = $1", []any{op}
			if op == "" {
				cond, args = "_hc_lastop IS NULL", nil
			}
			var n int64
			if err := tx.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM %s WHERE %s LIMIT %d) s", q, cond, o.IndexCountLimit+1), args...).Scan(&n); err != nil {
				return err
			}
			c := OpCount{Op: op, N: n}
			if n > o.IndexCountLimit {
				c.N, c.AtLeast = o.IndexCountLimit, true
				if f, ok := freqs[op]; ok && ti.reltuples > 0 && int64(f*ti.reltuples) > o.IndexCountLimit {
					c.N, c.AtLeast, c.Estimated = int64(f*ti.reltuples), false, true
				}
			}
			ts.Counts = append(ts.Counts, c)
		}
	default:
		ts.CountsHow = "sample"
		total := max(ti.reltuples, 1)
		pct := min(100, max(0.01, 100*float64(o.SampleRows)/total))
		if ti.reltuples < 0 {
			// Never analysed: size the sample by pages, assuming about
			// 50 rows a page, and scale the counts by the fraction read.
			if err := tx.QueryRow(ctx, "SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int8", q).Scan(&ti.pages); err != nil {
				return err
			}
			pct = min(100, max(0.01, 100*float64(o.SampleRows)/(50*float64(max(ti.pages, 1)))))
		}
		rows, err := tx.Query(ctx, fmt.Sprintf("SELECT coalesce(_hc_lastop::text, ''), count(*) FROM %s TABLESAMPLE SYSTEM (%s) GROUP BY 1", q, strconv.FormatFloat(pct, 'f', 4, 64)))
		if err != nil {
			return err
		}
		counts, err := collectCounts(rows)
		if err != nil {
			return err
		}
		var sampled int64
		for _, c := range counts {
			sampled += c.N
		}
		scale := 100 / pct
		if ti.reltuples >= 0 && sampled > 0 {
			scale = total / float64(sampled)
		}
		var sum int64
		for i := range counts {
			counts[i].N = int64(float64(counts[i].N) * scale)
			sum += counts[i].N
		}
		if ti.reltuples < 0 && sum > ts.Rows {
			ts.Rows, ts.RowsAtLeast, ts.RowsEstimated = sum, false, true
		}
		ts.Counts = counts
		recent := ""
		if ti.hasID {
			recent = " ORDER BY id DESC"
		}
		failedFrom = fmt.Sprintf("(SELECT * FROM %s%s LIMIT %d) recent", q, recent, o.RecentRows)
		ts.FailedScope = fmt.Sprintf("among the latest %d rows", o.RecentRows)
		if !ti.hasID {
			ts.FailedScope = fmt.Sprintf("among %d rows", o.RecentRows)
		}
	}
	ts.Counts = ordered(ts.Counts)
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT %s, coalesce(sfid::text, ''), coalesce(_hc_err::text, '') FROM %s WHERE _hc_lastop = 'FAILED'%s LIMIT %d`,
		idExpr(ti.hasID), failedFrom, order, o.FailedRows))
	if err != nil {
		return err
	}
	ts.Failed, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (FailedRow, error) {
		var f FailedRow
		var raw string
		err := r.Scan(&f.ID, &f.SFID, &raw)
		f.Err = ParseHCErr(raw)
		return f, err
	})
	return err
}

func idExpr(hasID bool) string {
	if hasID {
		return "id::text"
	}
	return "''"
}

func collectCounts(rows pgx.Rows) ([]OpCount, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (OpCount, error) {
		var c OpCount
		err := r.Scan(&c.Op, &c.N)
		return c, err
	})
}

// ordered puts the known ops first in Ops order (zero when absent), then
// any other value the table holds.
func ordered(cs []OpCount) []OpCount {
	out := make([]OpCount, 0, len(Ops)+len(cs))
	seen := map[string]bool{}
	for _, op := range Ops {
		c := OpCount{Op: op}
		for _, x := range cs {
			if x.Op == op {
				c = x
			}
		}
		seen[op] = true
		out = append(out, c)
	}
	for _, x := range cs {
		if !seen[x.Op] {
			out = append(out, x)
		}
	}
	return out
}

// Count is the count of op in ts, or nil when it was not counted.
func (ts TableState) Count(op string) *OpCount {
	for i := range ts.Counts {
		if ts.Counts[i].Op == op {
			return &ts.Counts[i]
		}
	}
	return nil
}
