package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/fleet"
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
	// TriggerLog holds the latest _trigger_log entries in state FAILED;
	// TriggerLogFailed counts them all, up to FailedCountLimit
	// (TriggerLogFailedAtLeast: more), or is -1 when not counted.
	TriggerLog              []LogEntry
	TriggerLogFailed        int64
	TriggerLogFailedAtLeast bool
	TriggerLogErr           string
	// TriggerLogUnreadable are _trigger_log columns that cannot be read
	// safely: not shown.
	TriggerLogUnreadable []string
}

// FailedCountLimit bounds the count of FAILED _trigger_log entries.
const FailedCountLimit = 10_000

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
	// Unreadable are system columns that cannot be read safely: not
	// shown.
	Unreadable []string
	Err        string // what could not be read
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
	IDCut    bool // ID is the beginning of a longer id
	Err      HCErr
	// ErrSize is the size of _hc_err in bytes; Err.Cut says Err holds
	// only its first MessageChars characters.
	ErrSize int64
}

// HCErr is a parsed _hc_err value. When the JSON is malformed, Malformed is
// set and Raw holds the text as stored; when the value was cut (Cut), Raw
// holds its beginning and nothing is parsed.
type HCErr struct {
	Op, Src, Msg string
	Raw          string
	Malformed    bool
	Cut          bool
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

// LogEntry is a _trigger_log row, each value cut (ShortChars, NameChars,
// MessageChars); MessageSize is sf_message's size in bytes, MessageCut
// says Message holds only its beginning.
type LogEntry struct {
	ID, Table, Record, Action, Message string
	MessageSize                        int64
	MessageCut                         bool
	IDCut                              bool // ID is the beginning of a longer id
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
	var infos map[string]relInfo
	err = readOnly(ctx, conn, o, func(tx pgx.Tx) (err error) {
		infos, err = readRelInfo(ctx, tx, schema, append(slices.Clone(mapped), TableTriggerLog), append(slices.Clone(SystemColumns), triggerLogColumns...))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("connect: tables: %w", err)
	}
	for _, t := range mapped {
		ri, ok := infos[t]
		ts := TableState{Name: t}
		if !ok {
			ts.Err = "the table is gone"
		} else if err := readOnly(ctx, conn, o, func(tx pgx.Tx) error { return readTable(ctx, tx, schema, ri, o, &ts) }); err != nil {
			ts.Err = readErr(err)
		}
		st.Tables = append(st.Tables, ts)
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
	}
	readTriggerLog(ctx, conn, schema, infos[TableTriggerLog], o, st)
	return st, nil
}

// readTriggerLog reads the latest FAILED entries of _trigger_log, and
// counts them (up to FailedCountLimit) in a statement of its own, so a
// count that takes too long costs only the count.
func readTriggerLog(ctx context.Context, conn *pgx.Conn, schema string, ri relInfo, o Options, st *SyncState) {
	st.TriggerLogFailed = -1
	q := "ONLY " + pgx.Identifier{schema, TableTriggerLog}.Sanitize()
	if err := ri.checkReadable("state"); err != nil {
		st.TriggerLogErr = readErr(err)
		return
	}
	st.TriggerLogUnreadable = ri.unreadable("id", "table_name", "record_id", "action", "sf_message")
	order := ""
	if ri.readable("id") {
		order = " ORDER BY id DESC"
	}
	err := readOnly(ctx, conn, o, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT %s, %s, %s, %s, %s, %s FROM %s WHERE state = 'FAILED'%s LIMIT %d`,
			ri.textOf("id", ShortChars), ri.textOf("table_name", NameChars), ri.textOf("record_id", ShortChars),
			ri.textOf("action", ShortChars), ri.textOf("sf_message", MessageChars), ri.sizeOf("sf_message"), q, order, o.LogRows))
		if err != nil {
			return err
		}
		st.TriggerLog, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (LogEntry, error) {
			var e LogEntry
			err := r.Scan(&e.ID, &e.Table, &e.Record, &e.Action, &e.Message, &e.MessageSize)
			e.IDCut = utf8.RuneCountInString(e.ID) > ShortChars
			e.ID, e.Table, e.Record, e.Action = fleet.Clip(e.ID, ShortChars), fleet.Clip(e.Table, NameChars), fleet.Clip(e.Record, ShortChars), fleet.Clip(e.Action, ShortChars)
			e.MessageCut = utf8.RuneCountInString(e.Message) > MessageChars
			e.Message = fleet.Clip(e.Message, MessageChars)
			return e, err
		})
		return err
	})
	if err != nil {
		st.TriggerLogErr = readErr(err)
		return
	}
	if len(st.TriggerLog) < o.LogRows {
		st.TriggerLogFailed = int64(len(st.TriggerLog))
		return
	}
	_ = readOnly(ctx, conn, o, func(tx pgx.Tx) error {
		var n int64
		if err := tx.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM %s WHERE state = 'FAILED' LIMIT %d) s", q, FailedCountLimit+1)).Scan(&n); err != nil {
			return err
		}
		st.TriggerLogFailed, st.TriggerLogFailedAtLeast = min(n, FailedCountLimit), n > FailedCountLimit
		return nil
	})
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

// readTable reads one mapped table's row count, _hc_lastop counts and
// latest FAILED rows, reading only what can be read safely (saferead.go).
func readTable(ctx context.Context, tx pgx.Tx, schema string, ri relInfo, o Options, ts *TableState) error {
	ts.SystemColumns = ri.present(SystemColumns)
	if err := ri.checkReadable("_hc_lastop"); err != nil {
		return err
	}
	ts.Unreadable = ri.unreadable("id", "sfid", "_hc_err")
	hasID := ri.readable("id")
	q := "ONLY " + pgx.Identifier{schema, ri.name}.Sanitize()
	// Rows: exact when small, else the planner's estimate.
	small := ri.reltuples < float64(2*o.ExactUpTo)
	if small {
		var n int64
		if err := tx.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM %s LIMIT %d) s", q, o.ExactUpTo+1)).Scan(&n); err != nil {
			return err
		}
		if n <= o.ExactUpTo {
			ts.Rows = n
		} else {
			small = false
			ts.Rows, ts.RowsAtLeast = max(n-1, int64(ri.reltuples)), ri.reltuples < 0
			ts.RowsEstimated = !ts.RowsAtLeast
		}
	} else {
		ts.Rows, ts.RowsEstimated = int64(ri.reltuples), true
	}
	order := ""
	if hasID {
		order = " ORDER BY id DESC"
	}
	failedFrom := q
	switch {
	case small:
		ts.CountsHow = "exact"
		counts, err := countOps(ctx, tx, q)
		if err != nil {
			return err
		}
		ts.Counts = counts
	case ri.lastopIndex:
		ts.CountsHow = "index"
		// Counts over the cap come from the planner's statistics.
		freqs, err := lastopFreqs(ctx, tx, schema, ri.name)
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
				if f, ok := freqs[op]; ok && ri.reltuples > 0 && int64(f*ri.reltuples) > o.IndexCountLimit {
					c.N, c.AtLeast, c.Estimated = int64(f*ri.reltuples), false, true
				}
			}
			ts.Counts = append(ts.Counts, c)
		}
	default:
		ts.CountsHow = "sample"
		total := max(ri.reltuples, 1)
		pct := min(100, max(0.01, 100*float64(o.SampleRows)/total))
		pages := ri.pages
		if ri.reltuples < 0 {
			// Never analysed: size the sample by pages, assuming about
			// 50 rows a page, and scale the counts by the fraction read.
			if err := tx.QueryRow(ctx, "SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int8", pgx.Identifier{schema, ri.name}.Sanitize()).Scan(&pages); err != nil {
				return err
			}
			pct = min(100, max(0.01, 100*float64(o.SampleRows)/(50*float64(max(pages, 1)))))
		}
		counts, err := countOps(ctx, tx, fmt.Sprintf("%s TABLESAMPLE SYSTEM (%s)", q, strconv.FormatFloat(pct, 'f', 4, 64)))
		if err != nil {
			return err
		}
		var sampled int64
		for _, c := range counts {
			sampled += c.N
		}
		scale := 100 / pct
		if ri.reltuples >= 0 && sampled > 0 {
			scale = total / float64(sampled)
		}
		var sum int64
		for i := range counts {
			counts[i].N = int64(float64(counts[i].N) * scale)
			sum += counts[i].N
		}
		if ri.reltuples < 0 && sum > ts.Rows {
			ts.Rows, ts.RowsAtLeast, ts.RowsEstimated = sum, false, true
		}
		ts.Counts = counts
		// The latest rows only, with only the columns read below.
		cols := []string{"_hc_lastop"}
		for _, c := range []string{"id", "sfid", "_hc_err"} {
			if ri.readable(c) {
				cols = append(cols, c)
			}
		}
		failedFrom = fmt.Sprintf("(SELECT %s FROM %s%s LIMIT %d) recent", strings.Join(cols, ", "), q, order, o.RecentRows)
		ts.FailedScope = fmt.Sprintf("among the latest %d rows", o.RecentRows)
		if !hasID {
			ts.FailedScope = fmt.Sprintf("among %d rows", o.RecentRows)
		}
	}
	ts.Counts = ordered(ts.Counts)
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT %s, %s, %s, %s FROM %s WHERE _hc_lastop = 'FAILED'%s LIMIT %d`,
		ri.textOf("id", ShortChars), ri.textOf("sfid", ShortChars), ri.textOf("_hc_err", MessageChars), ri.sizeOf("_hc_err"),
		failedFrom, order, o.FailedRows))
	if err != nil {
		return err
	}
	ts.Failed, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (FailedRow, error) {
		var f FailedRow
		var raw string
		err := r.Scan(&f.ID, &f.SFID, &raw, &f.ErrSize)
		f.IDCut = utf8.RuneCountInString(f.ID) > ShortChars
		f.ID, f.SFID = fleet.Clip(f.ID, ShortChars), fleet.Clip(f.SFID, ShortChars)
		if utf8.RuneCountInString(raw) > MessageChars {
			f.Err = HCErr{Raw: fleet.Clip(raw, MessageChars), Cut: true}
		} else {
			f.Err = ParseHCErr(raw)
		}
		return f, err
	})
	return err
}

// maxOtherOps bounds the _hc_lastop values other than Ops that are
// counted and shown.
const maxOtherOps = 5

// countOps counts the rows of from (a table, maybe sampled) by _hc_lastop:
// the values of Ops first, then the commonest others, each value cut to
// ShortChars.
func countOps(ctx context.Context, tx pgx.Tx, from string) ([]OpCount, error) {
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT op, n FROM (
		SELECT left(coalesce(_hc_lastop::text, ''), %d) AS op, count(*) AS n FROM %s GROUP BY 1) s
		ORDER BY op = ANY ($1::text[]) DESC, n DESC, op LIMIT %d`, ShortChars+1, from, len(Ops)+maxOtherOps), Ops)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (OpCount, error) {
		var c OpCount
		err := r.Scan(&c.Op, &c.N)
		c.Op = fleet.Clip(c.Op, ShortChars)
		return c, err
	})
}

// ordered puts the known ops first in Ops order (zero when absent), then
// up to maxOtherOps other values the table holds, as they come.
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
		if !seen[x.Op] && len(out) < len(Ops)+maxOtherOps {
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
