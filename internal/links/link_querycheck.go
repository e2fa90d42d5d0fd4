package links

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// A query check shows, for a SELECT over a link, what postgres_fdw sends
// to the remote and what it keeps local, and why. It runs EXPLAIN
// (VERBOSE, COSTS, FORMAT JSON) as pglinks' role in the local database,
// in a READ ONLY transaction with statement_timeout = fleet.Deadlines.QueryCheck.
// EXPLAIN only plans: nothing is executed, except what the planner itself
// folds (immutable functions, and stable ones for its estimates); the
// read-only transaction stops any of those that would write. The
// statement runs as written, with the role's own search_path (not the
// catalog-only one of pglinks' connections).
//
// EXPLAIN ANALYZE executes the query, on a connection of its own that is
// closed afterwards (so nothing a function leaves in the session, such as
// an advisory lock or a setting, outlives it), read-only and bounded the
// same way, and only when the statement calls no volatile function beyond
// a few harmless ones (see analyzeAllowed).

var (
	sqlCheckColumns   = stmt("check_columns")
	sqlCheckType      = stmt("check_type")
	sqlCheckFunctions = stmt("check_functions")
	sqlCheckOperators = stmt("check_operators")
)

// QueryCheckRequest asks to check one statement over a link.
type QueryCheckRequest struct {
	LocalVar, Name string
	SQL            string
	// Analyze runs EXPLAIN ANALYZE: the query is executed.
	Analyze bool
	Actor   string
}

// QueryCheck is the result of a check, as shown and as saved.
type QueryCheck struct {
	ID        int64
	LocalVar  string
	Link      string
	Statement string
	Analyze   bool
	Actor     string
	At        time.Time
	// Scans are the plan's foreign scans, this link's first.
	Scans []ScanCheck
	// Local are joins, sorts, aggregates and limits done locally on this
	// link's rows.
	Local       []LocalStep
	Plan        []PlanLine
	PlanTrimmed bool // the plan had more than maxPlanLines nodes
	PlanningMs  float64
	ExecutionMs float64
	UsesLink    bool // some foreign scan reads this link
	RemoteEst   bool // use_remote_estimate was on for the link's server
	Extensions  []string
	ServerMajor int
	planJSON    []byte
}

// PlanJSON is the EXPLAIN output the check was made from.
func (c *QueryCheck) PlanJSON() []byte { return c.planJSON }

// ScanCheck is one foreign scan of the plan.
type ScanCheck struct {
	Mine      bool   // reads this link
	Relations string // "crm.deals d", or postgres_fdw's "(crm.deals d) INNER JOIN (crm.accounts a)"
	RemoteSQL string
	// Pushed names what the remote does besides reading: conditions,
	// join, aggregate, sort, limit.
	Pushed    []string
	KeptLocal []KeptCondition
	// EstRows is the planner's estimate of the rows the scan returns
	// (after the conditions kept local); EstFetched the remote's own
	// estimate of the rows its Remote SQL returns, that is, of what
	// crosses the network (-1: unknown, FetchedNote says why).
	EstRows     float64
	EstFetched  float64
	FetchedNote string
	// With EXPLAIN ANALYZE: rows returned and fetched over the network,
	// all loops together, and the time of one loop.
	Actual        bool
	ActualRows    float64
	ActualFetched float64
	Loops         float64
	TimeMs        float64
}

// KeptCondition is a condition of a foreign scan checked locally.
type KeptCondition struct {
	Expr    string
	Reasons []Reason
}

// LocalStep is a join, sort, aggregate or limit done locally on rows a
// foreign scan of this link brought over.
type LocalStep struct {
	What    string // join, sort, aggregate, limit
	Node    string // the plan node
	Detail  string // its condition or keys
	Reasons []Reason
}

// CheckQuery checks a SELECT over a link; see the top of this file.
func (s *Service) CheckQuery(ctx context.Context, req QueryCheckRequest) (*QueryCheck, error) {
	sql, err := ParseCheckStatement(req.SQL)
	if err != nil {
		return nil, err
	}
	local, err := s.database(req.LocalVar, "local")
	if err != nil {
		return nil, err
	}
	if err := ValidateName(req.Name); err != nil {
		return nil, errs.E(errs.NotFound, "There is no link named %q in %s.", req.Name, req.LocalVar)
	}
	// Planning, the catalog look-ups and the remote's estimates, each
	// statement bounded by Deadlines.QueryCheck.
	ctx, cancel := fleet.Bound(ctx, 4*s.Fleet.Deadlines.QueryCheck)
	defer cancel()
	conn, err := s.Fleet.Acquire(ctx, local, fleet.ClassUser)
	if err != nil {
		return nil, err
	}
	if req.Analyze {
		// The session ends with the check: whatever the query left in it
		// (a session advisory lock, a setting) goes with it.
		defer func() {
			c := conn.Hijack()
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
			defer ccancel()
			c.Close(cctx)
		}()
	} else {
		defer conn.Release()
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fleet.ConnectError(local, err)
	}
	defer s.Fleet.Rollback(ctx, tx)
	if err := fleet.SetTxTimeouts(ctx, tx, s.Fleet.Deadlines.QueryCheck); err != nil {
		return nil, readError(local, err)
	}
	recs, err := s.records(ctx, local.ConfigVar)
	if err != nil {
		return nil, err
	}
	ls, _, err := readLinks(ctx, tx, local, &req.Name, recs)
	if err != nil {
		return nil, readError(local, err)
	}
	if len(ls) == 0 {
		return nil, errs.E(errs.NotFound, "There is no link named %q in %s.", req.Name, req.LocalVar)
	}
	l := &ls[0]
	opts, err := serverOptions(ctx, tx, l.ServerName)
	if err != nil {
		return nil, readError(local, err)
	}
	if req.Analyze {
		if err := analyzeAllowed(ctx, tx, sql); err != nil {
			return nil, err
		}
	}
	res := &QueryCheck{LocalVar: local.ConfigVar, Link: l.Name, Statement: sql, Analyze: req.Analyze, Actor: req.Actor, At: time.Now().UTC(),
		RemoteEst: opts["use_remote_estimate"] == "true", Extensions: splitList(opts["extensions"])}
	var vnum string
	if err := tx.QueryRow(ctx, "SHOW server_version_num").Scan(&vnum); err != nil {
		return nil, readError(local, err)
	}
	n, _ := strconv.Atoi(vnum)
	res.ServerMajor = n / 10000

	const explain = "EXPLAIN (VERBOSE, COSTS, SUMMARY, FORMAT JSON) "
	const explainAnalyze = "EXPLAIN (ANALYZE, VERBOSE, COSTS, FORMAT JSON) "
	// A remote that stops answering would hold the statement past its
	// timeout while postgres_fdw waits for it: cut the link's remote
	// connections then (see guardRemote).
	var stop func()
	remote, ok := s.Fleet.Get(l.RemoteConfigVar)
	if ok && remote.ConfigErr == nil {
		stop = s.guardCheck(ctx, remote, l.meta.appName())
	}
	// The statement is the admin's own, read as they would run it in
	// psql: with the role's own search_path (its database or role
	// setting, else PostgreSQL's default), not the catalog-only one
	// pglinks' connections start with. The reasons below look up the
	// names the plan prints the same way (which of the functions named
	// "similarity" this one is, by visibility); their SQL names every
	// catalog object with pg_catalog, which is searched first anyway.
	// The statement is planned first, ANALYZE or not, and refused if its
	// plan reads the user mappings (see readsUserMappings) before anything
	// of it runs.
	var raw []byte
	var secret error
	if _, err = tx.Exec(ctx, "SELECT pg_catalog.set_config('search_path', "+sqlRoleSearchPath+", true)"); err == nil {
		err = tx.QueryRow(ctx, explain+sql).Scan(&raw)
	}
	if err == nil {
		if secret = readsUserMappings(raw); secret == nil && req.Analyze {
			err = tx.QueryRow(ctx, explainAnalyze+sql).Scan(&raw)
		}
	}
	if stop != nil {
		stop()
	}
	if secret != nil {
		return nil, secret
	}
	if err != nil {
		err = s.Fleet.HidePasswords(err)
		if stop != nil {
			// The remote failing (with use_remote_estimate, or under
			// ANALYZE) is said as such.
			if e := fdwError(local, remote, err); e != err {
				return nil, e
			}
		}
		return nil, checkError(local, err, req.Analyze, s.Fleet.Deadlines.QueryCheck)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("links: query check: empty plan")
	}
	res.planJSON = raw
	out, err := parsePlan(raw)
	if err != nil {
		return nil, err
	}
	res.PlanningMs, res.ExecutionMs = out.PlanningTime, out.ExecutionTime
	planLines(out.Plan, 0, &res.Plan)
	res.PlanTrimmed = len(res.Plan) >= maxPlanLines

	var qi string
	if err := tx.QueryRow(ctx, "SELECT pg_catalog.quote_ident($1)", l.Name).Scan(&qi); err != nil {
		return nil, readError(local, err)
	}
	w := &whyCtx{tx: tx, rels: map[string]relRef{}, exts: res.Extensions}
	w.readExt = func(ctx context.Context) (map[string]string, error) {
		return s.remoteExtensions(ctx, l.RemoteConfigVar)
	}
	collectRels(out.Plan, w.rels)
	a := &planReader{w: w, link: l, quoted: qi, res: res, scanIdx: map[*planNode]int{}}
	if err := a.read(ctx, out.Plan); err != nil {
		return nil, readError(local, err)
	}
	if !res.UsesLink {
		return nil, errs.E(errs.Invalid, "The statement reads no foreign table of link %s: name its tables as %s.<table>.", l.Name, qi).OnField("sql")
	}
	if !req.Analyze {
		s.remoteEstimates(ctx, l.RemoteConfigVar, res)
	}
	slices.SortStableFunc(res.Scans, func(a, b ScanCheck) int {
		if a.Mine == b.Mine {
			return 0
		}
		if a.Mine {
			return -1
		}
		return 1
	})
	return res, nil
}

// readsUserMappings refuses a plan that reads pg_catalog.pg_user_mapping,
// whichever way the statement names it (pg_user_mappings,
// information_schema.user_mapping_options, a view over them): pglinks'
// role may read its own user mappings, whose options hold the links'
// remote passwords, and a statement run under ANALYZE could carry one out
// in an error message or in what it makes PostgreSQL say.
func readsUserMappings(raw []byte) error {
	out, err := parsePlan(raw)
	if err != nil {
		return err
	}
	var walk func(n *planNode) bool
	walk = func(n *planNode) bool {
		if n.Schema == "pg_catalog" && n.RelationName == "pg_user_mapping" {
			return true
		}
		return slices.ContainsFunc(n.Plans, walk)
	}
	if walk(out.Plan) {
		return errs.E(errs.Invalid, "The statement reads user mappings (pg_catalog.pg_user_mapping, behind pg_user_mappings and information_schema.user_mapping_options), whose options hold the links' passwords: a query check does not read them.").OnField("sql")
	}
	return nil
}

// guardCheck cuts the link's remote connections when a checked statement
// runs a second past Deadlines.QueryCheck, or its request ends, as
// guardRemote does for changes.
func (s *Service) guardCheck(ctx context.Context, remote *fleet.Database, appName string) (stop func()) {
	var once sync.Once
	abandon := func() { once.Do(func() { s.abandonRemote(remote, appName) }) }
	timer := time.AfterFunc(s.Fleet.Deadlines.QueryCheck+time.Second, abandon)
	stopCtx := context.AfterFunc(ctx, abandon)
	return func() {
		timer.Stop()
		stopCtx()
	}
}

// checkError words a failed EXPLAIN: the statement's own fault says so
// with PostgreSQL's message; nothing was changed either way.
func checkError(local *fleet.Database, err error, analyze bool, timeout time.Duration) error {
	switch code := fleet.PgCode(err); {
	case code == "57014": // statement_timeout or a cancel request
		what := "planned"
		if analyze {
			what = "run"
		}
		return errs.Wrap(errs.Invalid, err, "The statement could not be %s within %s (statement_timeout), so PostgreSQL cancelled it. Nothing was changed.", what, timeout).OnField("sql")
	case code == "25006":
		return errs.Wrap(errs.Invalid, err, "The statement tried to write, and the read-only transaction stopped it (%s). Nothing was changed.", pgMessage(err)).OnField("sql")
	case code != "" && !strings.HasPrefix(code, "08") && !strings.HasPrefix(code, "57P"):
		return errs.Wrap(errs.Invalid, err, "PostgreSQL refused the statement: %s.", pgMessage(err)).OnField("sql")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errs.Wrap(errs.Unavailable, err, "%s (%s) did not answer in time. Nothing was changed.", local.ConfigVar, local.ResourceName)
	}
	return readError(local, err)
}

func serverOptions(ctx context.Context, q rowQuerier, server string) (map[string]string, error) {
	var opts []string
	err := q.QueryRow(ctx, "SELECT coalesce(srvoptions, '{}') FROM pg_catalog.pg_foreign_server WHERE srvname = $1", server).Scan(&opts)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "The foreign server %q of the link is gone.", server)
	}
	if err != nil {
		return nil, fmt.Errorf("links: server options of %s: %w", server, err)
	}
	return optionMap(opts), nil
}

// splitList reads postgres_fdw's comma-separated extensions option.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// collectRels maps every alias of the plan to its relation.
func collectRels(n *planNode, out map[string]relRef) {
	if n.RelationName != "" && n.Alias != "" {
		out[n.Alias] = relRef{schema: n.Schema, name: n.RelationName}
	}
	for _, c := range n.Plans {
		collectRels(c, out)
	}
}

// planReader walks a plan once, filling res.
type planReader struct {
	w       *whyCtx
	link    *Link
	quoted  string // the link's schema as EXPLAIN writes it
	res     *QueryCheck
	scanIdx map[*planNode]int
}

func (a *planReader) mine(n *planNode) bool {
	if n.Schema != "" {
		return n.Schema == a.link.Name
	}
	// A join or an aggregate sent whole: "(crm.deals d) INNER JOIN
	// (crm.accounts a)", "Aggregate on ((crm.deals d) INNER JOIN ...)".
	return strings.Contains(n.Relations, "("+a.quoted+".")
}

func (a *planReader) read(ctx context.Context, root *planNode) error {
	var scans []*planNode
	scansUnder(root, &scans)
	for _, n := range scans {
		sc := ScanCheck{Mine: a.mine(n), RemoteSQL: n.RemoteSQL, Pushed: pushedParts(n), EstRows: n.PlanRows, EstFetched: -1}
		if n.RelationName != "" {
			sc.Relations = qualified(n.Schema, n.RelationName)
			if n.Alias != "" && n.Alias != n.RelationName {
				sc.Relations += " " + n.Alias
			}
		} else {
			sc.Relations = n.Relations
		}
		if n.ActualRows != nil {
			loops := max(n.ActualLoops, 1)
			sc.Actual, sc.Loops, sc.TimeMs = true, n.ActualLoops, n.ActualTime
			sc.ActualRows = *n.ActualRows * loops
			sc.ActualFetched = (*n.ActualRows + n.RemovedByF) * loops
		}
		if sc.Mine {
			a.res.UsesLink = true
			for _, cond := range splitAnd(n.Filter) {
				rs, err := a.w.whyLocal(ctx, cond)
				if err != nil {
					return err
				}
				sc.KeptLocal = append(sc.KeptLocal, KeptCondition{Expr: cond, Reasons: rs})
			}
		}
		a.scanIdx[n] = len(a.res.Scans)
		a.res.Scans = append(a.res.Scans, sc)
	}
	return a.localSteps(ctx, root)
}

// scan returns the check of a foreign scan node.
func (a *planReader) scan(n *planNode) *ScanCheck {
	if i, ok := a.scanIdx[n]; ok {
		return &a.res.Scans[i]
	}
	return nil
}

// localSteps finds joins, sorts, aggregates and limits done locally on
// this link's rows, and why each was not sent.
func (a *planReader) localSteps(ctx context.Context, n *planNode) error {
	switch {
	case isJoin(n.NodeType) && len(n.Plans) == 2:
		l, r := joinSide(n.Plans[0]), joinSide(n.Plans[1])
		if l != nil && r != nil && (a.mine(l) || a.mine(r)) {
			step := LocalStep{What: "join", Node: nodeLabel(n), Detail: firstOf(n.HashCond, n.MergeCond, n.JoinFilter)}
			switch {
			case a.mine(l) != a.mine(r):
				step.Reasons = []Reason{{Code: ReasonOtherLink, Object: "join",
					Why: "The two tables are reached through different foreign servers (links). postgres_fdw sends a join only when both tables are on the same server and user mapping, so both sides come over whole (after their own conditions) and are joined here.",
					Fix: "Join tables of one link where you can; otherwise make each side as small as possible with conditions that are sent (see each scan above)."}}
			default:
				rs, err := a.joinReasons(ctx, n, l, r)
				if err != nil {
					return err
				}
				step.Reasons = rs
			}
			a.res.Local = append(a.res.Local, step)
		}
	case n.NodeType == "Sort" || n.NodeType == "Incremental Sort":
		if sc := a.mineBelow(n); sc != nil {
			rs, err := a.keyReasons(ctx, n.SortKey, sc)
			if err != nil {
				return err
			}
			a.res.Local = append(a.res.Local, LocalStep{What: "sort", Node: nodeLabel(n), Detail: strings.Join(n.SortKey, ", "), Reasons: rs})
		}
	case n.NodeType == "Aggregate" || n.NodeType == "Group":
		if sc := a.mineBelow(n); sc != nil {
			keys := append(slices.Clone(n.GroupKey), n.Output...)
			rs, err := a.keyReasons(ctx, keys, sc)
			if err != nil {
				return err
			}
			a.res.Local = append(a.res.Local, LocalStep{What: "aggregate", Node: nodeLabel(n), Detail: strings.Join(n.GroupKey, ", "), Reasons: rs})
		}
	case n.NodeType == "Limit":
		if sc, sorted := a.mineBelowLimit(n); sc != nil && !slices.Contains(sc.Pushed, "limit") {
			var rs []Reason
			switch {
			case len(sc.KeptLocal) > 0:
				rs = []Reason{localCondsReason("limit")}
			case sorted:
				rs = []Reason{{Code: ReasonLocalConds, Object: "limit", Why: "The rows are sorted locally (see the sort), so the limit can only be applied after them.", Fix: "Make the sort go to the remote first."}}
			default:
				rs = []Reason{a.estimateReason("limit")}
			}
			a.res.Local = append(a.res.Local, LocalStep{What: "limit", Node: nodeLabel(n), Reasons: rs})
		}
	}
	for _, c := range n.Plans {
		if err := a.localSteps(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// mineBelow is the check of this link's foreign scan right under n.
func (a *planReader) mineBelow(n *planNode) *ScanCheck {
	if len(n.Plans) != 1 {
		return nil
	}
	if fs := scanBelow(n.Plans[0]); fs != nil && a.mine(fs) {
		return a.scan(fs)
	}
	return nil
}

func (a *planReader) mineBelowLimit(n *planNode) (*ScanCheck, bool) {
	sorted := false
	for len(n.Plans) == 1 {
		n = n.Plans[0]
		switch {
		case n.NodeType == "Foreign Scan":
			if a.mine(n) {
				return a.scan(n), sorted
			}
			return nil, false
		case n.NodeType == "Sort" || n.NodeType == "Incremental Sort":
			sorted = true
		case !passThrough(n.NodeType):
			return nil, false
		}
	}
	return nil, false
}

func localCondsReason(what string) Reason {
	scan := "The scan below has"
	if what == "join" {
		scan = "A joined scan has"
	}
	return Reason{Code: ReasonLocalConds, Object: what,
		Why: scan + " conditions checked locally (listed with it), and postgres_fdw sends a " + what + " only when every condition of its tables is sent too.",
		Fix: "Fix the conditions kept local first; the " + what + " can then go with them."}
}

// estimateReason is for work postgres_fdw could send but the planner
// found cheaper here: its figures for foreign tables are guesses unless
// use_remote_estimate is on or the tables were analyzed.
func (a *planReader) estimateReason(what string) Reason {
	r := Reason{Code: ReasonEstimate, Object: what}
	if a.res.RemoteEst {
		r.Why = "postgres_fdw could send this " + what + ", but with the remote's own estimates (use_remote_estimate is on) the planner found doing it here cheaper."
		r.Fix = "Usually right; if the query is slow, compare with EXPLAIN ANALYZE."
		return r
	}
	r.Why = "postgres_fdw could send this " + what + ", but the planner estimated doing it here cheaper. With use_remote_estimate off it plans with guesses for the foreign tables (rows and costs from local statistics, or none when they were never analyzed)."
	r.Fix = "Turn on use_remote_estimate for the link (the remote estimates each foreign query while planning), or analyze its foreign tables, then check again."
	r.Option = &OptionChange{Key: "use_remote_estimate", Value: "true"}
	return r
}

func (a *planReader) joinReasons(ctx context.Context, n, l, r *planNode) ([]Reason, error) {
	if len(a.scan(l).KeptLocal) > 0 || len(a.scan(r).KeptLocal) > 0 {
		return []Reason{localCondsReason("join")}, nil
	}
	if (n.JoinType == "Semi" || n.JoinType == "Anti") && a.res.ServerMajor < 17 {
		return []Reason{{Code: ReasonUnknown, Object: strings.ToLower(n.JoinType) + "-join",
			Why: fmt.Sprintf("postgres_fdw on PostgreSQL %d sends inner, left, right and full joins only; this is a %s-join (EXISTS, IN (SELECT ...)). PostgreSQL 17 sends semi-joins too.", a.res.ServerMajor, strings.ToLower(n.JoinType)),
			Fix: "Write it as an inner join where the result is the same (for example when the inner side is unique)."}}, nil
	}
	var out []Reason
	for _, cond := range splitAnd(firstOf(n.HashCond, n.MergeCond, n.JoinFilter)) {
		rs, err := a.w.whyLocal(ctx, cond)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if r.Code != ReasonUnknown {
				out = append(out, r)
			}
		}
	}
	if len(out) == 0 {
		out = append(out, a.estimateReason("join"))
	}
	return out, nil
}

// keyReasons explains a local sort or aggregate over one scan from its
// keys; when they hold nothing that cannot be sent, the scan's local
// conditions or the estimates are why.
func (a *planReader) keyReasons(ctx context.Context, keys []string, sc *ScanCheck) ([]Reason, error) {
	what := "sort"
	if len(keys) > 0 && slices.Contains(sc.Pushed, "aggregate") {
		return nil, nil
	}
	var out []Reason
	for _, k := range keys {
		k = strings.TrimSuffix(strings.TrimSuffix(k, " DESC"), " ASC")
		rs, err := a.w.whyLocal(ctx, k)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if r.Code != ReasonUnknown && !slices.ContainsFunc(out, func(o Reason) bool { return o.Code == r.Code && o.Object == r.Object }) {
				out = append(out, r)
			}
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	if len(sc.KeptLocal) > 0 {
		return []Reason{localCondsReason(what)}, nil
	}
	return []Reason{a.estimateReason(what)}, nil
}

// splitAnd splits a condition at its top-level ANDs, each part written
// back by PostgreSQL's deparser; a text the parser does not take is kept
// whole.
func splitAnd(expr string) []string {
	if expr == "" {
		return nil
	}
	tree, err := pg.Parse("SELECT " + expr)
	if err != nil || len(tree.Stmts) != 1 {
		return []string{expr}
	}
	sel := tree.Stmts[0].Stmt.GetSelectStmt()
	if sel == nil || len(sel.TargetList) != 1 {
		return []string{expr}
	}
	val := sel.TargetList[0].GetResTarget().GetVal()
	b := val.GetBoolExpr()
	if b == nil || b.Boolop != pg.BoolExprType_AND_EXPR {
		return []string{expr}
	}
	var out []string
	for _, arg := range b.Args {
		s, err := deparseExpr(arg)
		if err != nil {
			return []string{expr}
		}
		out = append(out, s)
	}
	return out
}

func deparseExpr(n *pg.Node) (string, error) {
	sel := &pg.SelectStmt{TargetList: []*pg.Node{pg.MakeResTargetNodeWithVal(n, 0)}}
	tree := &pg.ParseResult{Stmts: []*pg.RawStmt{{Stmt: &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: sel}}}}}
	s, err := pg.Deparse(tree)
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(s, "SELECT "), nil
}

// remoteExtensions reads the extensions installed in a fleet database.
func (s *Service) remoteExtensions(ctx context.Context, configVar string) (map[string]string, error) {
	d, err := s.database(configVar, "")
	if err != nil {
		return nil, err
	}
	ctx, cancel := fleet.Bound(ctx, s.Fleet.Deadlines.QueryCheck)
	defer cancel()
	conn, err := s.Fleet.Acquire(ctx, d, fleet.ClassUser)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	rows, err := conn.Query(ctx, "SELECT extname, extversion FROM pg_catalog.pg_extension")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for rows.Next() {
		var n, v string
		if err := rows.Scan(&n, &v); err != nil {
			return nil, err
		}
		out[n] = v
	}
	return out, rows.Err()
}

// remoteEstimates asks the remote to plan each Remote SQL of this link's
// scans (EXPLAIN only, read-only, search_path pg_catalog as postgres_fdw
// sets it): its estimate of the rows each returns is what crosses the
// network.
func (s *Service) remoteEstimates(ctx context.Context, remoteVar string, res *QueryCheck) {
	note := func(msg string) {
		for i := range res.Scans {
			if res.Scans[i].Mine && res.Scans[i].FetchedNote == "" {
				res.Scans[i].FetchedNote = msg
			}
		}
	}
	d, err := s.database(remoteVar, "")
	if err != nil {
		note("the remote is not in the fleet any more")
		return
	}
	ctx, cancel := fleet.Bound(ctx, s.Fleet.Deadlines.QueryCheck)
	defer cancel()
	conn, err := s.Fleet.Acquire(ctx, d, fleet.ClassUser)
	if err != nil {
		note("the remote did not answer pglinks: " + errs.MessageOf(err))
		return
	}
	defer conn.Release()
	for i := range res.Scans {
		sc := &res.Scans[i]
		if !sc.Mine || sc.RemoteSQL == "" {
			continue
		}
		if strings.Contains(sc.RemoteSQL, "$1") {
			sc.FetchedNote = "depends on values known only while the query runs (parameters); EXPLAIN ANALYZE shows the rows fetched"
			continue
		}
		rows, err := s.remoteEstimate(ctx, conn, sc.RemoteSQL, s.Fleet.Deadlines.QueryCheck/2)
		if err != nil {
			sc.FetchedNote = "the remote could not estimate it: " + firstOf(pgMessage(err), err.Error())
			continue
		}
		sc.EstFetched = rows
	}
}

func (s *Service) remoteEstimate(ctx context.Context, conn *pgxpool.Conn, sql string, timeout time.Duration) (float64, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return 0, err
	}
	defer s.Fleet.Rollback(ctx, tx)
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d; SET LOCAL search_path = pg_catalog", timeout.Milliseconds())); err != nil {
		return 0, err
	}
	var raw []byte
	if err := tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+sql).Scan(&raw); err != nil {
		return 0, err
	}
	out, err := parsePlan(raw)
	if err != nil {
		return 0, err
	}
	return out.Plan.PlanRows, nil
}

// analyzeSafeVolatile are volatile functions EXPLAIN ANALYZE may run:
// they touch nothing outside the query (pg_sleep is bounded by the
// timeout).
var analyzeSafeVolatile = []string{"random", "random_normal", "clock_timestamp", "timeofday", "pg_sleep", "gen_random_uuid", "uuid_generate_v4", "setseed"}

// analyzeAllowed refuses EXPLAIN ANALYZE of a statement that calls a
// volatile function (by name, any of its forms) other than the harmless
// ones: such a function may act outside the read-only transaction (an
// advisory lock, a cancel, a notification).
func analyzeAllowed(ctx context.Context, tx pgx.Tx, sql string) error {
	tree, err := pg.Parse(sql)
	if err != nil {
		return errs.E(errs.Invalid, "PostgreSQL cannot parse the statement: %v.", err).OnField("sql")
	}
	var names []string
	walkProto(tree.ProtoReflect(), func(m protoreflect.Message) bool {
		if f, ok := m.Interface().(*pg.FuncCall); ok {
			_, name := splitName(f.Funcname)
			if name != "" && !slices.Contains(names, name) && !slices.Contains(analyzeSafeVolatile, name) {
				names = append(names, name)
			}
		}
		return true
	})
	if len(names) == 0 {
		return nil
	}
	var volatile []string
	err = collectRows(ctx, tx, "SELECT DISTINCT proname FROM pg_catalog.pg_proc WHERE proname = ANY($1) AND provolatile = 'v' ORDER BY 1", []any{names}, func(r pgx.Rows) error {
		var n string
		err := r.Scan(&n)
		volatile = append(volatile, n)
		return err
	})
	if err != nil {
		return fmt.Errorf("links: query check: volatile functions: %w", err)
	}
	if len(volatile) > 0 {
		return errs.E(errs.Invalid, "EXPLAIN ANALYZE runs the statement, and it calls %s, which PostgreSQL marks volatile: it may act outside the read-only transaction, so pglinks will not run it. Check the plan without ANALYZE.", joinMax(quoteAll(volatile, "()"), 5)).OnField("sql")
	}
	return nil
}

func quoteAll(ss []string, suffix string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s + suffix
	}
	return out
}

// MarshalFindings is the check's findings as saved (not the plan JSON).
func (c *QueryCheck) MarshalFindings() ([]byte, error) { return json.Marshal(c) }

// sqlRoleSearchPath is the search_path a session of the current role
// would start with in this database without pglinks' pinned one: the
// database-and-role setting, else the role's, else the database's, else
// PostgreSQL's default.
const sqlRoleSearchPath = `coalesce(
	(SELECT substr(c, length('search_path=') + 1)
	   FROM pg_catalog.pg_db_role_setting s, pg_catalog.unnest(s.setconfig) c
	  WHERE c LIKE 'search_path=%'
	    AND s.setrole IN (0, (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user))
	    AND s.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()))
	  ORDER BY s.setrole = 0, s.setdatabase = 0
	  LIMIT 1),
	'"$user", public')`
