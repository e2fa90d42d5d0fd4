package links

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// RemoteTable is a relation IMPORT FOREIGN SCHEMA can bring over.
type RemoteTable struct {
	Name string
	Kind string // table, view, materialized view, foreign table, partitioned table
}

// RemoteCatalog is what the create form offers for a remote: its schemas,
// and the importable relations of the chosen one.
type RemoteCatalog struct {
	Schemas []string
	Schema  string // the schema Tables belong to; "" when it does not exist
	Tables  []RemoteTable
}

// maxRemoteTables bounds what the create form lists.
const maxRemoteTables = 5000

// ReadRemoteCatalog reads the remote's non-system schemas and the tables
// of schema ("" means public), over pglinks' own bounded connection.
func (s *Service) ReadRemoteCatalog(ctx context.Context, remoteVar, schema string) (*RemoteCatalog, error) {
	remote, err := s.database(remoteVar, "remote")
	if err != nil {
		return nil, err
	}
	if schema == "" {
		schema = "public"
	}
	ctx, cancel := fleet.Bound(ctx, s.Fleet.Deadlines.Read)
	defer cancel()
	conn, err := s.Fleet.Acquire(ctx, remote, fleet.ClassUser)
	if err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "Remote %s", errs.MessageOf(err)).OnField("remote")
	}
	defer conn.Release()
	cat := &RemoteCatalog{}
	if err := collectRows(ctx, conn.Conn(), `SELECT nspname::text FROM pg_namespace
		WHERE nspname NOT IN ('information_schema', 'pg_catalog', 'pg_toast')
		  AND nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%'
		ORDER BY 1`, nil, func(r pgx.Rows) error {
		var n string
		err := r.Scan(&n)
		cat.Schemas = append(cat.Schemas, n)
		return err
	}); err != nil {
		return nil, readError(remote, fmt.Errorf("links: remote schemas: %w", err))
	}
	if !slices.Contains(cat.Schemas, schema) {
		return cat, nil
	}
	cat.Schema = schema
	if cat.Tables, err = remoteTables(ctx, conn.Conn(), schema); err != nil {
		return nil, readError(remote, err)
	}
	return cat, nil
}

func remoteTables(ctx context.Context, conn *pgx.Conn, schema string) ([]RemoteTable, error) {
	var out []RemoteTable
	err := collectRows(ctx, conn, `SELECT c.relname::text, c.relkind::text FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'f', 'p') AND NOT c.relispartition
		ORDER BY 1 LIMIT $2`, []any{schema, maxRemoteTables}, func(r pgx.Rows) error {
		var t RemoteTable
		var kind string
		err := r.Scan(&t.Name, &kind)
		t.Kind = relKind(kind)
		out = append(out, t)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("links: remote tables: %w", err)
	}
	return out, nil
}

func relKind(k string) string {
	switch k {
	case "v":
		return "view"
	case "m":
		return "materialized view"
	case "f":
		return "foreign table"
	case "p":
		return "partitioned table"
	}
	return "table"
}

// checkChosenTables refuses a LIMIT TO list naming anything the remote's
// schema does not hold, or naming a table twice.
func checkChosenTables(remote *fleet.Database, schema string, chosen []string, have []RemoteTable) error {
	names := make(map[string]bool, len(have))
	for _, t := range have {
		names[t.Name] = true
	}
	seen := map[string]bool{}
	var unknown []string
	for _, c := range chosen {
		if seen[c] {
			return errs.E(errs.Invalid, "The table %q was chosen twice; choose each table once. Nothing was created.", c).OnField("tables")
		}
		seen[c] = true
		if !names[c] {
			unknown = append(unknown, fmt.Sprintf("%q", c))
		}
	}
	if len(unknown) > 0 {
		return errs.E(errs.Invalid, "%s has no table %s in schema %q to import. Reload the list of tables and choose again; nothing was created.", remote.ConfigVar, joinMax(unknown, 5), schema).OnField("tables")
	}
	return nil
}

// joinMax lists at most n of ls, and how many more: a list whose length
// a remote decides (its tables, its enum labels) stays a sentence.
func joinMax(ls []string, n int) string {
	if len(ls) > n {
		return fmt.Sprintf("%s and %d more", strings.Join(ls[:n], ", "), len(ls)-n)
	}
	return strings.Join(ls, ", ")
}
