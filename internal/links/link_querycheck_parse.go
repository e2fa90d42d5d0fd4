package links

import (
	"strings"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/pglinks/pglinks/internal/errs"
)

// A query check plans (and, when confirmed, runs) a statement an admin
// pasted, so what it may be is decided by PostgreSQL's own parser
// (libpg_query), never by looking at the text: exactly one SELECT that
// writes nothing, creates nothing and locks no rows.

// MaxCheckStatement bounds the statement a query check accepts, in bytes.
const MaxCheckStatement = 20_000

// ParseCheckStatement checks that sql is a single read-only SELECT and
// returns it trimmed of surrounding space and a final semicolon. Anything
// else is refused with a message naming what was found.
func ParseCheckStatement(sql string) (string, error) {
	sql = strings.TrimSpace(sql)
	sql = strings.TrimSpace(strings.TrimSuffix(sql, ";"))
	switch {
	case sql == "":
		return "", errs.E(errs.Invalid, "Paste a SELECT statement to check.").OnField("sql")
	case len(sql) > MaxCheckStatement:
		return "", errs.E(errs.Invalid, "The statement is %d bytes long; a query check takes at most %d.", len(sql), MaxCheckStatement).OnField("sql")
	case !utf8.ValidString(sql) || strings.IndexByte(sql, 0) >= 0:
		return "", errs.E(errs.Invalid, "The statement is not valid UTF-8 text.").OnField("sql")
	}
	tree, err := pg.Parse(sql)
	if err != nil {
		return "", errs.E(errs.Invalid, "PostgreSQL cannot parse the statement: %v.", err).OnField("sql")
	}
	if n := len(tree.Stmts); n != 1 {
		return "", errs.E(errs.Invalid, "The input holds %d statements; a query check takes exactly one SELECT.", n).OnField("sql")
	}
	top := tree.Stmts[0].Stmt
	if ex := top.GetExplainStmt(); ex != nil {
		return "", errs.E(errs.Invalid, "Paste the SELECT without EXPLAIN: pglinks adds EXPLAIN itself.").OnField("sql")
	}
	if top.GetSelectStmt() == nil {
		return "", errs.E(errs.Invalid, "A query check takes only a SELECT; this is %s.", statementKind(top)).OnField("sql")
	}
	if why := writesOrLocks(top.ProtoReflect()); why != "" {
		return "", errs.E(errs.Invalid, "A query check takes only a read-only SELECT; this one %s.", why).OnField("sql")
	}
	return sql, nil
}

// statementKind names a parsed statement for a refusal: "an INSERT",
// "a CREATE TABLE", ...
func statementKind(n *pg.Node) string {
	switch {
	case n.GetInsertStmt() != nil:
		return "an INSERT"
	case n.GetUpdateStmt() != nil:
		return "an UPDATE"
	case n.GetDeleteStmt() != nil:
		return "a DELETE"
	case n.GetMergeStmt() != nil:
		return "a MERGE"
	case n.GetCreateTableAsStmt() != nil:
		return "a CREATE TABLE AS"
	case n.GetCopyStmt() != nil:
		return "a COPY"
	case n.GetVariableSetStmt() != nil:
		return "a SET"
	case n.GetTransactionStmt() != nil:
		return "a transaction command"
	case n.GetCallStmt() != nil:
		return "a CALL"
	case n.GetDoStmt() != nil:
		return "a DO block"
	}
	name := string(n.ProtoReflect().WhichOneof(n.ProtoReflect().Descriptor().Oneofs().ByName("node")).Name())
	return "a " + strings.ToUpper(strings.ReplaceAll(strings.TrimSuffix(name, "_stmt"), "_", " ")) + " statement"
}

// writesOrLocks walks the whole tree (CTEs and subqueries too) and says
// what in it writes or locks, or "" when nothing does.
func writesOrLocks(m protoreflect.Message) string {
	var why string
	walkProto(m, func(m protoreflect.Message) bool {
		switch n := m.Interface().(type) {
		case *pg.InsertStmt, *pg.UpdateStmt, *pg.DeleteStmt, *pg.MergeStmt:
			why = "changes data (a data-modifying WITH)"
		case *pg.SelectStmt:
			if n.IntoClause != nil {
				why = "creates a table (SELECT INTO)"
			} else if len(n.LockingClause) > 0 {
				why = "locks rows (FOR UPDATE / FOR SHARE), which takes locks on the remote too"
			}
		}
		return why == ""
	})
	return why
}

// walkProto calls fn on m and every message below it, depth first, until
// fn returns false.
func walkProto(m protoreflect.Message, fn func(protoreflect.Message) bool) bool {
	if !fn(m) {
		return false
	}
	ok := true
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && ok; i++ {
				ok = walkProto(l.Get(i).Message(), fn)
			}
		case fd.IsMap():
		default:
			ok = walkProto(v.Message(), fn)
		}
		return ok
	})
	return ok
}
