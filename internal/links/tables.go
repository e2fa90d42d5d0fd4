package links

import (
	"context"
	"fmt"
)

// ForeignTable is one row of \det with its columns.
type ForeignTable struct {
	Schema, Name, Server      string
	RemoteSchema, RemoteTable string
	Columns                   []Column
}

// Column of a foreign table.
type Column struct {
	Name, Type string
	NotNull    bool
}

// ForeignTables is the \det LINK.* equivalent: every foreign table in the
// link's schema (whatever the search_path), with columns and types.
func (s *Service) ForeignTables(ctx context.Context, localVar, name string) (*Link, []ForeignTable, error) {
	l, err := s.GetLink(ctx, localVar, name)
	if err != nil {
		return nil, nil, err
	}
	local, _ := s.database(localVar, "local")
	conn, err := s.acquire(ctx, local)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Release()
	rows, err := conn.Query(ctx, sqlForeignTables, l.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("links: foreign tables of %s: %w", name, err)
	}
	defer rows.Close()
	var out []ForeignTable
	for rows.Next() {
		var ft ForeignTable
		var col Column
		if err := rows.Scan(&ft.Schema, &ft.Name, &ft.Server, &ft.RemoteSchema, &ft.RemoteTable, &col.Name, &col.Type, &col.NotNull); err != nil {
			return nil, nil, fmt.Errorf("links: foreign tables of %s: %w", name, err)
		}
		if n := len(out); n == 0 || out[n-1].Name != ft.Name {
			out = append(out, ft)
		}
		if col.Name != "" {
			last := &out[len(out)-1]
			last.Columns = append(last.Columns, col)
		}
	}
	return l, out, rows.Err()
}
