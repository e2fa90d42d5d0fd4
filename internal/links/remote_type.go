package links

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/pglinks/pglinks/internal/fleet"
)

// A refresh writes a remote column's type, as the remote's format_type
// says it, into the DDL it runs locally (ALTER FOREIGN TABLE ... ADD
// COLUMN c <type>), as IMPORT FOREIGN SCHEMA does. That text is the
// remote's: whoever answers for the remote (its superuser, or anything on
// the network path) chooses it. So it is used only when PostgreSQL's own
// parser reads it as one type name and nothing else, and every statement
// pglinks builds runs alone (execOne).

// checkRemoteType refuses a remote type name that is not exactly one type
// name: "text; DROP ...", "int DEFAULT ...", "text COLLATE ...".
func checkRemoteType(typ string) error {
	bad := fmt.Errorf("the remote gave its type as %q, which is not a type name", fleet.Clip(typ, 80))
	tree, err := pg.Parse("SELECT NULL::" + typ)
	if err != nil || len(tree.Stmts) != 1 {
		return bad
	}
	sel := tree.Stmts[0].Stmt.GetSelectStmt()
	if sel == nil || len(sel.TargetList) != 1 || sel.Op != pg.SetOperation_SETOP_NONE ||
		len(sel.FromClause) > 0 || sel.WhereClause != nil || len(sel.GroupClause) > 0 || sel.HavingClause != nil ||
		len(sel.WindowClause) > 0 || len(sel.ValuesLists) > 0 || len(sel.SortClause) > 0 || sel.LimitCount != nil ||
		sel.LimitOffset != nil || len(sel.LockingClause) > 0 || sel.WithClause != nil || len(sel.DistinctClause) > 0 || sel.IntoClause != nil {
		return bad
	}
	rt := sel.TargetList[0].GetResTarget()
	if rt == nil || rt.Name != "" || len(rt.Indirection) > 0 {
		return bad
	}
	tc := rt.Val.GetTypeCast()
	if tc == nil || tc.TypeName == nil || tc.Arg.GetAConst() == nil || !tc.Arg.GetAConst().Isnull {
		return bad
	}
	return nil
}

// execOne runs sql, one statement pglinks built, by the extended
// protocol, where PostgreSQL refuses a string of more than one statement:
// whatever reached the text, it cannot add a statement of its own.
// (pgx's Exec sends a statement without arguments by the simple protocol,
// which runs every statement in the string.)
func execOne(ctx context.Context, tx pgx.Tx, sql string) error {
	return tx.Conn().PgConn().ExecParams(ctx, sql, nil, nil, nil, nil).Read().Err
}
