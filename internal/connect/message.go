package connect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// Message is one stored message read in full, up to MessageBytes: the
// _hc_err of a mapped table's row, or the sf_message of a _trigger_log
// entry.
type Message struct {
	Table, ID, Column string
	Text              string
	Size              int64 // the whole value's size in bytes
	Cut               bool  // Text is its first MessageBytes (or fewer, at a character boundary)
}

// MessageColumn is the column ReadMessage reads in table: sf_message in
// _trigger_log, _hc_err in a mapped table.
func MessageColumn(table string) string {
	if table == TableTriggerLog {
		return "sf_message"
	}
	return "_hc_err"
}

// ReadMessage reads the message of row id (by its id column) of table in
// Connect schema `schema`, under the rules of every read here (saferead.go).
// table is _trigger_log or a mapped table; only, when not nil, restricts
// the mapped tables to a link's LIMIT TO list. A row, table or schema that
// is not there is errs.NotFound.
func ReadMessage(ctx context.Context, conn *pgx.Conn, schema string, only []string, table, id string, o Options) (*Message, error) {
	o = o.withDefaults()
	m := &Message{Table: table, ID: id, Column: MessageColumn(table)}
	notFound := errs.E(errs.NotFound, "There is no row with id %q in %s.%s to read a message from.", fleet.Clip(id, ShortChars), schema, fleet.Clip(table, NameChars))
	err := readOnly(ctx, conn, o, func(tx pgx.Tx) error {
		found, err := Detect(ctx, tx, schema)
		if err != nil {
			return err
		}
		sch := Find(found, schema)
		if sch == nil {
			return errs.E(errs.NotFound, "%s is not a Heroku Connect schema (any more).", schema)
		}
		if table != TableTriggerLog && (!slices.Contains(sch.Mapped, table) || only != nil && !slices.Contains(only, table)) {
			return errs.E(errs.NotFound, "%s is not a mapped table of Heroku Connect schema %s that this link imports.", fleet.Clip(table, NameChars), schema)
		}
		infos, err := readRelInfo(ctx, tx, schema, []string{table}, []string{"id", m.Column})
		if err != nil {
			return err
		}
		ri, ok := infos[table]
		if !ok {
			return notFound
		}
		if err := ri.checkReadable("id"); err != nil {
			return errs.E(errs.Conflict, "%s.%s %s.", schema, table, readErr(err))
		}
		if bad := ri.unreadable(m.Column); len(bad) > 0 {
			return errs.E(errs.Conflict, "%s.%s: the column %s %s: it is not of a type built into PostgreSQL.", schema, table, bad[0], errUnsafe)
		}
		if !ri.has(m.Column) {
			return notFound
		}
		// id = $1 compares with the id column's own (built-in) type: an id
		// that is not one is no row.
		err = tx.QueryRow(ctx, fmt.Sprintf("SELECT %s, %s FROM ONLY %s WHERE id = $1 LIMIT 1",
			ri.textOf(m.Column, MessageBytes), ri.sizeOf(m.Column), pgx.Identifier{schema, table}.Sanitize()), id).Scan(&m.Text, &m.Size)
		if errors.Is(err, pgx.ErrNoRows) || pgCode(err) == "22P02" || pgCode(err) == "22003" {
			return notFound
		}
		return err
	})
	if err != nil {
		if errs.KindOf(err) != errs.Internal {
			return nil, err
		}
		return nil, errs.Wrap(errs.Unavailable, err, "The message could not be read: %s", readErr(err))
	}
	m.Text, m.Cut = cutBytes(m.Text, MessageBytes)
	return m, nil
}

// cutBytes cuts s to at most n bytes at a character boundary.
func cutBytes(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}
