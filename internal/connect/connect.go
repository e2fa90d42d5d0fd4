// Package connect knows what Heroku Connect keeps in a Postgres schema:
// one table per mapped Salesforce object with system columns (sfid,
// _hc_lastop, _hc_err, ...) and the system tables _hcmeta, _trigger_log
// and _trigger_log_archive. It recognises such schemas from the catalog and
// reads their sync state with bounded queries. It talks pgx only: callers
// hand it a connection.
package connect

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// System tables Heroku Connect creates in its schema. Users must not write
// them, and a link leaves them out by default.
const (
	TableMeta       = "_hcmeta"
	TableTriggerLog = "_trigger_log"
	TableArchive    = "_trigger_log_archive"
)

// SystemTables are the tables of a Connect schema that are not mapped
// Salesforce objects.
var SystemTables = []string{TableMeta, TableTriggerLog, TableArchive}

// IsSystemTable reports whether t is one of Connect's system tables.
func IsSystemTable(t string) bool { return slices.Contains(SystemTables, t) }

// SystemColumns are the columns Connect adds to every mapped table; they
// are Connect's to write.
var SystemColumns = []string{"id", "sfid", "systemmodstamp", "isdeleted", "_hc_lastop", "_hc_err"}

// IsSystemColumn reports whether c is one of Connect's system columns.
func IsSystemColumn(c string) bool { return slices.Contains(SystemColumns, c) }

// Schema is a Heroku Connect schema found in a database.
type Schema struct {
	Name   string
	Mapped []string // the mapped tables, by name
}

// Columns a schema must have for it to count as Connect's (the names alone
// are not enough: a table merely called _hcmeta is not Connect's).
var (
	metaColumns       = []string{"hcver", "org_id"}
	triggerLogColumns = []string{"id", "table_name", "record_id", "action", "state", "sf_message"}
	mappedColumns     = []string{"sfid", "_hc_lastop", "_hc_err"}
)

// maxMapped bounds the mapped tables listed per schema, MaxSchemas the
// schemas listed per database (in name order): a database full of
// lookalikes costs a bounded read and a bounded inventory card.
const (
	maxMapped  = 2000
	MaxSchemas = 20
)

// sqlDetect lists Connect schemas ($1 NULL: all; else only that one) with
// their mapped tables. It reads only the catalog.
const sqlDetect = `
WITH cand AS (
  -- Schemas holding a table named _hcmeta (found through pg_class's name
  -- index): only their tables' columns are read.
  SELECT DISTINCT c.relnamespace AS nsp FROM pg_class c
  WHERE c.relname = '_hcmeta' AND c.relkind IN ('r', 'p')
    AND ($1::text IS NULL OR c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1))
), cols AS (
  SELECT c.oid, c.relnamespace, c.relname, array_agg(a.attname::text) AS names
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  WHERE c.relkind IN ('r', 'p') AND c.relnamespace IN (SELECT nsp FROM cand)
  GROUP BY c.oid, c.relnamespace, c.relname
), hc AS (
  SELECT n.oid, n.nspname FROM pg_namespace n
  WHERE EXISTS (SELECT 1 FROM cols WHERE cols.relnamespace = n.oid AND cols.relname = '_hcmeta' AND cols.names @> $2::text[])
    AND EXISTS (SELECT 1 FROM cols WHERE cols.relnamespace = n.oid AND cols.relname = '_trigger_log' AND cols.names @> $3::text[])
)
SELECT hc.nspname::text,
       coalesce((SELECT array_agg(relname::text ORDER BY relname) FROM (
          SELECT cols.relname FROM cols WHERE cols.relnamespace = hc.oid
            AND cols.relname <> ALL ($5::text[]) AND cols.names @> $4::text[]
          ORDER BY cols.relname LIMIT $6) m), '{}')
FROM hc ORDER BY 1 LIMIT $7`

// Querier is a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Detect lists the Connect schemas of the database q is connected to: one
// catalog query. schema, when not "", restricts it to that schema.
func Detect(ctx context.Context, q Querier, schema string) ([]Schema, error) {
	var only *string
	if schema != "" {
		only = &schema
	}
	rows, err := q.Query(ctx, sqlDetect, only, metaColumns, triggerLogColumns, mappedColumns, SystemTables, maxMapped, MaxSchemas)
	if err != nil {
		return nil, fmt.Errorf("connect: detect: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Schema, error) {
		var s Schema
		err := r.Scan(&s.Name, &s.Mapped)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("connect: detect: %w", err)
	}
	return out, nil
}

// Find returns the schema named name among ss, or nil.
func Find(ss []Schema, name string) *Schema {
	for i := range ss {
		if ss[i].Name == name {
			return &ss[i]
		}
	}
	return nil
}
