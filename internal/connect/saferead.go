package connect

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pglinks/pglinks/internal/fleet"
)

// The tables a Connect schema holds belong to whoever made them, and
// anything that can create a schema can make a lookalike. Reading them
// must run none of their owner's code as pglinks' role: no cast, operator
// or function of a type the owner made, no row-level security policy, no
// child table. So every read here
//
//   - runs in a read-only transaction with search_path pg_catalog, pg_temp
//     and row_security off (a table whose policies would apply is refused
//     by PostgreSQL instead of having them run);
//   - reads a column only when its type is built into PostgreSQL (by oid,
//     below FirstNormalObjectId, in pg_catalog), converting it with the
//     built-in cast to text; other columns are named as unreadable;
//   - reads ordinary tables only, with ONLY;
//   - cuts every value in SQL (left), so no value is fetched whole.

// Bounds on values read from a Connect schema, in characters but for
// MessageBytes.
const (
	// MessageChars is how much of an _hc_err or sf_message the link page
	// shows; ReadMessage gives up to MessageBytes.
	MessageChars = 250
	// ShortChars bounds ids, sfids, record ids, actions and _hc_lastop
	// values.
	ShortChars = 32
	// NameChars bounds _trigger_log.table_name (varchar(128) in Connect).
	NameChars = 128
	// MessageBytes bounds the one message ReadMessage returns.
	MessageBytes = 64 << 10
)

// firstNormalObjectID is PostgreSQL's FirstNormalObjectId: objects below
// it were made by initdb, so their code is PostgreSQL's.
const firstNormalObjectID = 16384

// errUnsafe marks what cannot be read without running someone else's code.
var errUnsafe = errors.New("cannot be read safely")

// readOnly runs f in a read-only transaction with a statement timeout, the
// catalog-only search_path and row-level security off.
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
	if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = "+ms+"; SET LOCAL search_path = "+fleet.SearchPath+"; SET LOCAL row_security = off"); err != nil {
		return err
	}
	return f(tx)
}

// column is one column of a relation as the catalog describes it.
type column struct {
	typ     string // format_type, for people to read
	builtin bool   // of a type built into PostgreSQL
}

// relInfo is what the catalog says about a relation pglinks reads.
type relInfo struct {
	name        string
	kind        string  // pg_class.relkind
	reltuples   float64 // -1: never analysed
	pages       int64   // relpages, or read when never analysed
	lastopIndex bool    // a valid, non-partial index leads with _hc_lastop
	cols        map[string]column
}

// sqlRelInfo describes relations $2 of schema $1 and their columns named
// in $3 (those that exist), with whether each column's type is built in.
var sqlRelInfo = `
SELECT c.relname::text, c.relkind::text, c.reltuples::float8, c.relpages::int8,
  EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
          WHERE i.indrelid = c.oid AND i.indisvalid AND i.indpred IS NULL AND a.attname = '_hc_lastop'),
  coalesce(array_agg(a.attname::text ORDER BY a.attnum) FILTER (WHERE a.attnum IS NOT NULL), '{}'),
  coalesce(array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum) FILTER (WHERE a.attnum IS NOT NULL), '{}'),
  coalesce(array_agg(t.oid < ` + strconv.Itoa(firstNormalObjectID) + ` AND t.typnamespace = 'pg_catalog'::regnamespace ORDER BY a.attnum) FILTER (WHERE a.attnum IS NOT NULL), '{}')
FROM pg_class c
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = ANY ($3::text[])
LEFT JOIN pg_type t ON t.oid = a.atttypid
WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND c.relname = ANY ($2::text[])
GROUP BY c.oid, c.relname, c.relkind, c.reltuples, c.relpages` // all of them: catalogs have no primary key before 14

// readRelInfo describes tables of schema and their columns named cols.
func readRelInfo(ctx context.Context, tx pgx.Tx, schema string, tables, cols []string) (map[string]relInfo, error) {
	rows, err := tx.Query(ctx, sqlRelInfo, schema, tables, cols)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]relInfo{}
	for rows.Next() {
		var ri relInfo
		var names, types []string
		var builtin []bool
		if err := rows.Scan(&ri.name, &ri.kind, &ri.reltuples, &ri.pages, &ri.lastopIndex, &names, &types, &builtin); err != nil {
			return nil, err
		}
		ri.cols = map[string]column{}
		for i, n := range names {
			ri.cols[n] = column{typ: types[i], builtin: builtin[i]}
		}
		out[ri.name] = ri
	}
	return out, rows.Err()
}

// has reports whether the relation has column c.
func (ri relInfo) has(c string) bool { _, ok := ri.cols[c]; return ok }

// readable reports whether column c exists and is of a built-in type.
func (ri relInfo) readable(c string) bool { return ri.cols[c].builtin }

// unreadable lists the columns among cs that exist but cannot be read
// safely.
func (ri relInfo) unreadable(cs ...string) []string {
	var out []string
	for _, c := range cs {
		if col, ok := ri.cols[c]; ok && !col.builtin {
			out = append(out, c)
		}
	}
	return out
}

// present lists the columns among cs the relation has, in cs's order.
func (ri relInfo) present(cs []string) []string {
	var out []string
	for _, c := range cs {
		if ri.has(c) {
			out = append(out, c)
		}
	}
	return out
}

// checkReadable refuses a relation pglinks cannot read without running
// its owner's code: one that is not an ordinary table, or whose columns
// needed (to filter or order by) are not of built-in types.
func (ri relInfo) checkReadable(needed ...string) error {
	if ri.kind != "r" {
		return fmt.Errorf("%w: it is a %s, not an ordinary table", errUnsafe, relKindName(ri.kind))
	}
	for _, c := range needed {
		if col, ok := ri.cols[c]; ok && !col.builtin {
			return fmt.Errorf("%w: its column %s is of type %s, which is not built into PostgreSQL, so comparing it could run code its owner wrote",
				errUnsafe, c, col.typ)
		}
	}
	return nil
}

func relKindName(k string) string {
	switch k {
	case "p":
		return "partitioned table"
	case "v":
		return "view"
	case "m":
		return "materialized view"
	case "f":
		return "foreign table"
	}
	return "relation of kind " + strconv.Quote(k)
}

// textOf is a SQL expression reading column c as text cut to n characters
// (one more, so clip can tell a cut value), or ” when it cannot be read
// safely.
func (ri relInfo) textOf(c string, n int) string {
	if !ri.readable(c) {
		return "''"
	}
	return fmt.Sprintf("left(coalesce(%s::text, ''), %d)", pgx.Identifier{c}.Sanitize(), n+1)
}

// sizeOf is a SQL expression for the size in bytes of column c as text
// (read from the value's header: it is not detoasted), or 0.
func (ri relInfo) sizeOf(c string) string {
	if !ri.readable(c) {
		return "0::int8"
	}
	return fmt.Sprintf("coalesce(octet_length(%s::text), 0)::int8", pgx.Identifier{c}.Sanitize())
}

// readErr says in words why something was not read.
func readErr(err error) string {
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, errUnsafe):
		return fleet.Clip(err.Error(), 300)
	case errors.Is(err, context.DeadlineExceeded):
		return "not read: no answer in time"
	case errors.As(err, &pgErr) && pgErr.Code == "42501" && strings.Contains(pgErr.Message, "row-level security"):
		return errUnsafe.Error() + ": the table has row-level security, and its policies are code its owner wrote"
	case strings.Contains(err.Error(), "statement timeout"):
		return "not read: the query took longer than its time limit"
	}
	return fleet.Clip("not read: "+err.Error(), 300)
}

// pgCode is err's SQLSTATE, or "".
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
