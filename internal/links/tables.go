package links

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// ForeignTable is one row of \det with its columns.
type ForeignTable struct {
	Schema, Name, Server      string
	RemoteSchema, RemoteTable string
	// RedisType and KeyPrefix are a Redis link's table options.
	RedisType, KeyPrefix string
	Columns              []Column
	// ColumnCount is how many columns the table has: more than Columns
	// when a page lists only the first ones.
	ColumnCount int
}

// Columns a page of foreign tables lists: each table's first
// PageColumnsPerTable, or more when the page holds fewer tables, sharing
// PageColumns.
const (
	PageColumnsPerTable = 40
	PageColumns         = 2000
)

// Column of a foreign table.
type Column struct {
	Name, Type string
	NotNull    bool
}

// TablePage is one page of a link's foreign tables.
type TablePage struct {
	Tables  []ForeignTable
	Filter  string // the name filter applied ("" for none)
	Offset  int
	Limit   int
	Matches int // tables matching Filter, over all pages
}

// MaxTableFilter bounds the name filter of a table page.
const MaxTableFilter = 200

// LinkPage is what a link page reads of the local database, over one
// connection: the link with its comparison with its remote's config var
// (Link.Stale), and one page of its foreign tables (the \det LINK.*
// equivalent, with every column and type): the tables whose name contains
// filter (case-insensitive), limit of them from offset, ordered by name.
// Its cost does not grow with the size of the link.
func (s *Service) LinkPage(ctx context.Context, localVar, name, filter string, offset, limit int) (*Link, *TablePage, error) {
	if len(filter) > MaxTableFilter {
		return nil, nil, errs.E(errs.Invalid, "The name filter is longer than %d characters.", MaxTableFilter).OnField("q")
	}
	if offset < 0 || limit < 1 || limit > 500 {
		return nil, nil, errs.E(errs.Invalid, "That page of tables does not exist.")
	}
	var link *Link
	var page *TablePage
	err := s.withLink(ctx, localVar, name, func(ctx context.Context, conn *pgxpool.Conn, local *fleet.Database, l *Link) error {
		p, err := s.readTablePage(ctx, conn, local, l, filter, offset, limit)
		if err != nil {
			return err
		}
		st, err := readOptions(ctx, conn, *l)
		if err != nil {
			return readError(local, err)
		}
		l.Stale = s.compare(st)
		link, page = l, p
		return nil
	})
	if err == nil && link.Stale.Differs() && !link.Stale.RemoteGone && link.Stale.RemoteMisconfigured == "" {
		if remote, ok := s.Fleet.Get(link.RemoteConfigVar); ok {
			proof, known := s.freshProof(ctx, remote)
			s.judgeNow(ctx, link, proof, known, true)
		}
	}
	return link, page, err
}

// readTablePage reads one page of l's foreign tables.
func (s *Service) readTablePage(ctx context.Context, conn *pgxpool.Conn, local *fleet.Database, l *Link, filter string, offset, limit int) (*TablePage, error) {
	name := l.Name
	p := &TablePage{Filter: filter, Offset: offset, Limit: limit, Matches: l.TableCount}
	if filter != "" {
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
				WHERE c.relnamespace = to_regnamespace($1) AND strpos(lower(c.relname), lower($2)) > 0`,
			fleet.Ident(l.Name), filter).Scan(&p.Matches); err != nil {
			return nil, readError(local, fmt.Errorf("links: count tables of %s: %w", name, err))
		}
	}
	rows, err := conn.Query(ctx, sqlForeignTablesPage, l.Name, filter, limit, offset, PageColumnsPerTable, PageColumns)
	if err == nil {
		p.Tables, err = scanForeignTables(rows)
	}
	if err != nil {
		return nil, readError(local, fmt.Errorf("links: foreign tables of %s: %w", name, err))
	}
	return p, nil
}

// scanForeignTables folds rows of (table..., column...) into tables.
func scanForeignTables(rows pgx.Rows) ([]ForeignTable, error) {
	defer rows.Close()
	var out []ForeignTable
	for rows.Next() {
		var ft ForeignTable
		var col Column
		if err := rows.Scan(&ft.Schema, &ft.Name, &ft.Server, &ft.RemoteSchema, &ft.RemoteTable, &ft.RedisType, &ft.KeyPrefix, &col.Name, &col.Type, &col.NotNull, &ft.ColumnCount); err != nil {
			return nil, err
		}
		if n := len(out); n == 0 || out[n-1].Name != ft.Name {
			out = append(out, ft)
		}
		if col.Name != "" {
			last := &out[len(out)-1]
			last.Columns = append(last.Columns, col)
		}
	}
	return out, rows.Err()
}
