package links

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/pglinks/pglinks/internal/fleet"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Why postgres_fdw keeps a condition local. Its rule (contrib/postgres_fdw,
// deparse.c and shippable.c): an expression goes to the remote only when
// every function, operator and type in it is built in (oid below 10000) or
// belongs to an extension listed in the server's extensions option, every
// function in it is immutable, every collation in it comes from a column
// of the foreign table, and it holds only node kinds postgres_fdw can
// write back as SQL (no subqueries, no system columns but ctid). The
// condition texts come from EXPLAIN VERBOSE; pglinks parses them with
// PostgreSQL's parser and looks each name up in the local catalog.

// Reason codes.
const (
	ReasonExtension    = "extension"     // from an extension not in the server's extensions option
	ReasonUserFunction = "user_function" // a function or operator made in this database
	ReasonMutable      = "mutable"       // a stable or volatile function
	ReasonType         = "type"          // a type that is not built in
	ReasonCollation    = "collation"     // a collation not taken from the foreign table's columns
	ReasonSubquery     = "subquery"      // a subquery in the condition
	ReasonSystemColumn = "system_column" // tableoid, xmin, ...
	ReasonEstimate     = "estimate"      // could be sent; the planner estimated local to be cheaper
	ReasonLocalConds   = "local_conditions"
	ReasonOtherLink    = "other_link" // a join across two links
	ReasonUnknown      = "unknown"
)

// Reason is why one thing stays local, and how to change that.
type Reason struct {
	Code   string
	Object string // what it is about: "similarity()", "t.stage", "COLLATE \"C\""
	Why    string
	Fix    string
	// Option is set when the fix is a link option an admin can apply from
	// the link's Performance section.
	Option *OptionChange `json:",omitempty"`
}

// relRef is a relation of the plan, by the alias its conditions use.
type relRef struct{ schema, name string }

// whyCtx is what explaining one check's local conditions needs.
type whyCtx struct {
	tx      pgx.Tx
	rels    map[string]relRef
	exts    []string          // the server's extensions option
	remote  map[string]string // extensions on the remote: name -> version; nil when unknown
	local   map[string]string // extensions here
	cols    map[string]map[string]colType
	checked bool // remote and local extensions read
	readExt func(ctx context.Context) (map[string]string, error)
}

type colType struct {
	oid     uint32
	name    string
	ext     string
	typtype string
}

// exprParts is what one condition names, as PostgreSQL's parser read it.
type exprParts struct {
	funcs     []funcRef
	ops       []opRef
	casts     []string
	columns   [][2]string // alias, column
	collates  []string
	valueFns  []string // CURRENT_DATE, ...
	subquery  bool
	sysColumn string
}

type funcRef struct {
	schema, name string
	nargs        int
}

type opRef struct {
	schema, name string
	left, right  *pg.Node
}

var systemColumns = []string{"tableoid", "xmin", "xmax", "cmin", "cmax"}

func readExprParts(expr string) (*exprParts, error) {
	tree, err := pg.Parse("SELECT " + expr)
	if err != nil {
		return nil, err
	}
	p := &exprParts{}
	walkProto(tree.ProtoReflect(), func(m protoreflect.Message) bool {
		switch n := m.Interface().(type) {
		case *pg.FuncCall:
			schema, name := splitName(n.Funcname)
			p.funcs = append(p.funcs, funcRef{schema: schema, name: name, nargs: len(n.Args)})
		case *pg.A_Expr:
			if schema, name := splitName(n.Name); name != "" {
				p.ops = append(p.ops, opRef{schema: schema, name: name, left: n.Lexpr, right: n.Rexpr})
			}
		case *pg.TypeCast:
			p.casts = append(p.casts, typeNameText(n.TypeName))
		case *pg.CollateClause:
			_, name := splitName(n.Collname)
			p.collates = append(p.collates, name)
		case *pg.SubLink:
			p.subquery = true
		case *pg.SQLValueFunction:
			p.valueFns = append(p.valueFns, strings.TrimPrefix(n.Op.String(), "SVFOP_"))
		case *pg.ColumnRef:
			var parts []string
			for _, f := range n.Fields {
				if s := f.GetString_(); s != nil {
					parts = append(parts, s.Sval)
				}
			}
			if len(parts) == 2 {
				p.columns = append(p.columns, [2]string{parts[0], parts[1]})
				if slices.Contains(systemColumns, parts[1]) {
					p.sysColumn = parts[0] + "." + parts[1]
				}
			}
		}
		return true
	})
	return p, nil
}

func splitName(ns []*pg.Node) (schema, name string) {
	var parts []string
	for _, n := range ns {
		if s := n.GetString_(); s != nil {
			parts = append(parts, s.Sval)
		}
	}
	switch len(parts) {
	case 0:
		return "", ""
	case 1:
		return "", parts[0]
	}
	return parts[len(parts)-2], parts[len(parts)-1]
}

func typeNameText(t *pg.TypeName) string {
	if t == nil {
		return ""
	}
	var parts []string
	for _, n := range t.Names {
		if s := n.GetString_(); s != nil {
			parts = append(parts, fleet.Ident(s.Sval))
		}
	}
	s := strings.Join(parts, ".")
	if len(t.ArrayBounds) > 0 {
		s += "[]"
	}
	return s
}

// whyLocal explains why the condition expr stays local: every reason
// found, or one ReasonUnknown.
func (w *whyCtx) whyLocal(ctx context.Context, expr string) ([]Reason, error) {
	if strings.Contains(expr, "SubPlan ") {
		return []Reason{subqueryReason()}, nil
	}
	parts, err := readExprParts(expr)
	if err != nil {
		return []Reason{unknownReason()}, nil
	}
	var out []Reason
	add := func(r Reason) {
		for _, o := range out {
			if o.Code == r.Code && o.Object == r.Object {
				return
			}
		}
		out = append(out, r)
	}
	for _, c := range parts.collates {
		add(Reason{Code: ReasonCollation, Object: `COLLATE "` + c + `"`,
			Why: "postgres_fdw sends a comparison only when its collation comes from the foreign table's own columns; an explicit COLLATE may not mean the same on the remote.",
			Fix: "Drop the COLLATE clause, or give the foreign table's column that collation (ALTER FOREIGN TABLE ... ALTER COLUMN ... TYPE ... COLLATE ...) when the remote column has it."})
	}
	if parts.subquery {
		add(subqueryReason())
	}
	if parts.sysColumn != "" {
		add(Reason{Code: ReasonSystemColumn, Object: parts.sysColumn,
			Why: "System columns other than ctid mean something else on the remote, so postgres_fdw never sends them.",
			Fix: "Filter on ordinary columns."})
	}
	for _, v := range parts.valueFns {
		add(mutableReason(strings.ReplaceAll(v, "_", " "), "stable"))
	}
	// One reason per type: a column and a constant of the same enum are
	// the same problem.
	types := map[uint32]bool{}
	for _, c := range parts.columns {
		t, ok, err := w.column(ctx, c[0], c[1])
		if err != nil {
			return nil, err
		}
		if ok && t.oid >= firstNonBuiltinOID && !types[t.oid] {
			types[t.oid] = true
			if r, bad := w.typeReason(ctx, c[0]+"."+c[1]+" ("+t.name+")", t.ext, t.typtype); bad {
				add(r)
			}
		}
	}
	for _, c := range parts.casts {
		t, ok, err := w.typeByName(ctx, c)
		if err != nil {
			return nil, err
		}
		if ok && t.oid >= firstNonBuiltinOID && !types[t.oid] {
			types[t.oid] = true
			if r, bad := w.typeReason(ctx, "::"+t.name, t.ext, t.typtype); bad {
				add(r)
			}
		}
	}
	for _, f := range parts.funcs {
		rs, err := w.funcReasons(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			add(r)
		}
	}
	for _, o := range parts.ops {
		rs, err := w.opReasons(ctx, o)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			add(r)
		}
	}
	if len(out) == 0 {
		out = append(out, unknownReason())
	}
	return out, nil
}

// firstNonBuiltinOID is postgres_fdw's line between built-in objects and
// the rest (FirstGenbkiObjectId): information_schema's and every user's or
// extension's objects are above it.
const firstNonBuiltinOID = 10000

func subqueryReason() Reason {
	return Reason{Code: ReasonSubquery, Object: "subquery",
		Why: "A condition holding a subquery (IN (SELECT ...), EXISTS, a scalar subquery over a table) is checked locally, row by row, after the rows came over.",
		Fix: "Write it as a join: a join of two tables of the same link can be sent as one remote query."}
}

func unknownReason() Reason {
	return Reason{Code: ReasonUnknown, Object: "expression",
		Why: "postgres_fdw cannot write this expression as SQL for the remote (a construct it does not send), or it uses something pglinks could not look up.",
		Fix: "Simplify the condition to plain comparisons of columns with constants, then check again."}
}

func mutableReason(object, volatility string) Reason {
	return Reason{Code: ReasonMutable, Object: object,
		Why: object + " is " + volatility + ": its result may differ from one call, session or server to the next, and postgres_fdw sends only immutable functions (the remote could compute another value).",
		Fix: "Compute the value once before the scan with a scalar subquery, e.g. created_at > (SELECT now() - interval '1 day'): PostgreSQL evaluates it first and postgres_fdw sends the result as a parameter. Or pass a constant from the application."}
}

// typeReason explains a type that is not built in; bad is false when its
// extension is already listed (then the type is not the reason).
func (w *whyCtx) typeReason(ctx context.Context, object, ext, typtype string) (Reason, bool) {
	if ext != "" {
		if slices.Contains(w.exts, ext) {
			return Reason{}, false
		}
		return w.extensionReason(ctx, object, ext), true
	}
	kind := "a type made in this database"
	switch typtype {
	case "e":
		kind = "an enum type made in this database"
	case "d":
		kind = "a domain made in this database"
	case "c":
		kind = "a composite type made in this database"
	}
	return Reason{Code: ReasonType, Object: object,
		Why: object + " is of " + kind + ", not built in: postgres_fdw sends only expressions whose types are built in or come from an extension listed in the server's extensions option, since the remote's type of that name could sort or compare differently.",
		Fix: "No link option changes this. Filter on a built-in type instead: on the remote, a view that exposes the column as text (SELECT ..., col::text AS col FROM ...), imported through the link."}, true
}

// extensionReason says to list ext in the server's extensions option,
// with whether the remote has it.
func (w *whyCtx) extensionReason(ctx context.Context, object, ext string) Reason {
	w.readExtensions(ctx)
	r := Reason{Code: ReasonExtension, Object: object,
		Why: object + " comes from the extension " + ext + ", which the link's server does not list in its extensions option, so postgres_fdw does not assume the remote has it."}
	next := strings.Join(append(slices.Clone(w.exts), ext), ",")
	remoteVer, onRemote := w.remote[ext]
	switch {
	case w.remote == nil:
		r.Fix = "If " + ext + " is installed on the remote too, add it to the link's extensions option."
		r.Option = &OptionChange{Key: "extensions", Value: next}
	case !onRemote:
		r.Fix = "Install " + ext + " on the remote first (CREATE EXTENSION " + fleet.Ident(ext) + " there), then add it to the link's extensions option."
	default:
		r.Fix = fmt.Sprintf("Add %s to the link's extensions option: the remote has it (version %s; here %s).", ext, remoteVer, w.local[ext])
		r.Option = &OptionChange{Key: "extensions", Value: next}
	}
	return r
}

// readExtensions reads, once, the extensions of both sides (the remote's
// through pglinks' own connection to it; unknown when it cannot be read).
func (w *whyCtx) readExtensions(ctx context.Context) {
	if w.checked {
		return
	}
	w.checked = true
	if w.readExt != nil {
		if m, err := w.readExt(ctx); err == nil {
			w.remote = m
		}
	}
	w.local = map[string]string{}
	rows, err := w.tx.Query(ctx, "SELECT extname, extversion FROM pg_catalog.pg_extension")
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		var n, v string
		if rows.Scan(&n, &v) == nil {
			w.local[n] = v
		}
	}
}

// column looks up a column of a relation of the plan by alias.
func (w *whyCtx) column(ctx context.Context, alias, col string) (colType, bool, error) {
	rel, ok := w.rels[alias]
	if !ok {
		return colType{}, false, nil
	}
	if w.cols == nil {
		w.cols = map[string]map[string]colType{}
	}
	cols, ok := w.cols[alias]
	if !ok {
		cols = map[string]colType{}
		rows, err := w.tx.Query(ctx, sqlCheckColumns, fleet.Ident(rel.schema, rel.name))
		if err != nil {
			return colType{}, false, fmt.Errorf("links: query check: columns of %s: %w", fleet.Ident(rel.schema, rel.name), err)
		}
		for rows.Next() {
			var name string
			var t colType
			if err := rows.Scan(&name, &t.oid, &t.name, &t.ext, &t.typtype); err != nil {
				rows.Close()
				return colType{}, false, err
			}
			cols[name] = t
		}
		if err := rows.Err(); err != nil {
			return colType{}, false, err
		}
		w.cols[alias] = cols
	}
	t, ok := cols[col]
	return t, ok, nil
}

func (w *whyCtx) typeByName(ctx context.Context, name string) (colType, bool, error) {
	var t colType
	var oid *uint32
	err := w.tx.QueryRow(ctx, sqlCheckType, name).Scan(&oid, &t.name, &t.ext, &t.typtype)
	if err != nil {
		return t, false, fmt.Errorf("links: query check: type %s: %w", name, err)
	}
	if oid == nil {
		return t, false, nil
	}
	t.oid = *oid
	return t, true, nil
}

// candidate is one function or operator a name may mean.
type candidate struct {
	oid        uint32
	schema     string
	ext        string
	volatility string // i, s, v
	visible    bool
	nargs      int
	left       uint32
	right      uint32
	fn         string // an operator's function
}

func (w *whyCtx) funcReasons(ctx context.Context, f funcRef) ([]Reason, error) {
	rows, err := w.tx.Query(ctx, sqlCheckFunctions, f.name)
	if err != nil {
		return nil, fmt.Errorf("links: query check: function %s: %w", f.name, err)
	}
	cands, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (c candidate, err error) {
		err = r.Scan(&c.oid, &c.schema, &c.ext, &c.volatility, &c.visible, &c.nargs)
		return c, err
	})
	if err != nil {
		return nil, err
	}
	cands = slices.DeleteFunc(cands, func(c candidate) bool {
		return (f.schema != "" && c.schema != f.schema) || (f.schema == "" && !c.visible)
	})
	if same := slices.DeleteFunc(slices.Clone(cands), func(c candidate) bool { return c.nargs != f.nargs }); len(same) > 0 {
		cands = same
	}
	return w.classify(ctx, f.name+"()", "function", cands), nil
}

func (w *whyCtx) opReasons(ctx context.Context, o opRef) ([]Reason, error) {
	rows, err := w.tx.Query(ctx, sqlCheckOperators, o.name)
	if err != nil {
		return nil, fmt.Errorf("links: query check: operator %s: %w", o.name, err)
	}
	cands, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (c candidate, err error) {
		err = r.Scan(&c.oid, &c.schema, &c.ext, &c.volatility, &c.visible, &c.left, &c.right, &c.fn)
		return c, err
	})
	if err != nil {
		return nil, err
	}
	cands = slices.DeleteFunc(cands, func(c candidate) bool {
		return (o.schema != "" && c.schema != o.schema) || (o.schema == "" && !c.visible)
	})
	// The operand types, where the text says them (a column, a cast),
	// pick the operator among those of the same name.
	lt, err := w.operandType(ctx, o.left)
	if err != nil {
		return nil, err
	}
	rt, err := w.operandType(ctx, o.right)
	if err != nil {
		return nil, err
	}
	if typed := slices.DeleteFunc(slices.Clone(cands), func(c candidate) bool {
		return (lt != 0 && c.left != lt) || (rt != 0 && c.right != rt)
	}); len(typed) > 0 {
		cands = typed
	}
	return w.classify(ctx, "operator "+o.name, "operator", cands), nil
}

// operandType is the type of a column or a cast, or 0 when the text does
// not say.
func (w *whyCtx) operandType(ctx context.Context, n *pg.Node) (uint32, error) {
	if n == nil {
		return 0, nil
	}
	if c := n.GetColumnRef(); c != nil && len(c.Fields) == 2 {
		a, b := c.Fields[0].GetString_(), c.Fields[1].GetString_()
		if a == nil || b == nil {
			return 0, nil
		}
		t, ok, err := w.column(ctx, a.Sval, b.Sval)
		if !ok || err != nil {
			return 0, err
		}
		return t.oid, nil
	}
	if c := n.GetTypeCast(); c != nil {
		t, ok, err := w.typeByName(ctx, typeNameText(c.TypeName))
		if !ok || err != nil {
			return 0, err
		}
		return t.oid, nil
	}
	return 0, nil
}

// classify turns the candidates of one name into reasons: the name is a
// problem when every candidate has the problem, so an overloaded name
// pglinks cannot pin down is never blamed for what only some forms do.
func (w *whyCtx) classify(ctx context.Context, object, kind string, cands []candidate) []Reason {
	if len(cands) == 0 {
		return nil
	}
	var out []Reason
	all := func(f func(candidate) bool) bool {
		for _, c := range cands {
			if !f(c) {
				return false
			}
		}
		return true
	}
	if all(func(c candidate) bool { return c.oid >= firstNonBuiltinOID }) {
		ext := cands[0].ext
		if all(func(c candidate) bool { return c.ext == ext }) {
			switch {
			case ext == "":
				out = append(out, Reason{Code: ReasonUserFunction, Object: object,
					Why: object + " is a " + kind + " made in this database (not built in, not part of an extension): postgres_fdw never sends it, since the remote's " + kind + " of that name, if any, could do something else.",
					Fix: "Express the condition with built-in functions, or apply the " + kind + " on the remote in a view imported through the link."})
			case !slices.Contains(w.exts, ext):
				out = append(out, w.extensionReason(ctx, object, ext))
			}
		}
	}
	if all(func(c candidate) bool { return c.volatility != "i" }) {
		vol := "stable"
		if all(func(c candidate) bool { return c.volatility == "v" }) {
			vol = "volatile"
		}
		r := mutableReason(object, vol)
		if kind == "operator" && cands[0].fn != "" {
			r.Why = object + " calls " + cands[0].fn + "(), which is " + vol + ": its result may depend on settings or time, and postgres_fdw sends only immutable functions and operators."
			r.Fix = "Write the condition with an immutable function instead, where there is one, or compute the value once with a scalar subquery."
		}
		out = append(out, r)
	}
	return out
}
