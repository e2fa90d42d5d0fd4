package links

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// planNode is one node of EXPLAIN (FORMAT JSON), with the fields a query
// check reads. Numbers are float64 as PostgreSQL prints them.
type planNode struct {
	NodeType     string      `json:"Node Type"`
	Strategy     string      `json:"Strategy"`
	JoinType     string      `json:"Join Type"`
	RelationName string      `json:"Relation Name"`
	Schema       string      `json:"Schema"`
	Alias        string      `json:"Alias"`
	Relations    string      `json:"Relations"`
	RemoteSQL    string      `json:"Remote SQL"`
	Filter       string      `json:"Filter"`
	JoinFilter   string      `json:"Join Filter"`
	HashCond     string      `json:"Hash Cond"`
	MergeCond    string      `json:"Merge Cond"`
	SortKey      []string    `json:"Sort Key"`
	GroupKey     []string    `json:"Group Key"`
	Output       []string    `json:"Output"`
	PlanRows     float64     `json:"Plan Rows"`
	TotalCost    float64     `json:"Total Cost"`
	ActualRows   *float64    `json:"Actual Rows"`
	ActualLoops  float64     `json:"Actual Loops"`
	ActualTime   float64     `json:"Actual Total Time"`
	RemovedByF   float64     `json:"Rows Removed by Filter"`
	Plans        []*planNode `json:"Plans"`
}

type explainOutput struct {
	Plan          *planNode `json:"Plan"`
	PlanningTime  float64   `json:"Planning Time"`
	ExecutionTime float64   `json:"Execution Time"`
}

func parsePlan(raw []byte) (*explainOutput, error) {
	var out []explainOutput
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("links: read plan: %w", err)
	}
	if len(out) != 1 || out[0].Plan == nil {
		return nil, fmt.Errorf("links: read plan: %d plans", len(out))
	}
	return &out[0], nil
}

// PlanLine is one node of the plan as the result page lists it.
type PlanLine struct {
	Depth    int
	Node     string // "Foreign Scan on crm.deals d", "Hash Join", ...
	EstRows  float64
	Actual   bool
	Rows     float64 // actual rows, all loops together
	Loops    float64
	TimeMs   float64 // actual total time of one loop
	IsRemote bool    // a foreign scan
}

// maxPlanLines bounds the plan lines a check keeps.
const maxPlanLines = 200

func planLines(n *planNode, depth int, out *[]PlanLine) {
	if len(*out) >= maxPlanLines {
		return
	}
	l := PlanLine{Depth: depth, Node: nodeLabel(n), EstRows: n.PlanRows, IsRemote: n.NodeType == "Foreign Scan"}
	if n.ActualRows != nil {
		l.Actual, l.Loops, l.TimeMs = true, n.ActualLoops, n.ActualTime
		l.Rows = *n.ActualRows * max(n.ActualLoops, 1)
	}
	*out = append(*out, l)
	for _, c := range n.Plans {
		planLines(c, depth+1, out)
	}
}

func nodeLabel(n *planNode) string {
	s := n.NodeType
	if n.Strategy != "" && n.Strategy != "Plain" && strings.HasSuffix(n.NodeType, "Aggregate") && n.NodeType == "Aggregate" {
		s = n.Strategy + " " + s
	}
	if n.JoinType != "" && n.JoinType != "Inner" {
		s += " (" + n.JoinType + ")"
	}
	switch {
	case n.RelationName != "":
		s += " on " + qualified(n.Schema, n.RelationName)
		if n.Alias != "" && n.Alias != n.RelationName {
			s += " " + n.Alias
		}
	case n.Relations != "":
		s += ": " + n.Relations
	}
	return s
}

func qualified(schema, name string) string {
	if schema == "" {
		return name
	}
	return schema + "." + name
}

// passThrough are nodes that only move rows on: a local operation above
// them still works on the foreign scan's rows.
func passThrough(t string) bool {
	switch t {
	case "Hash", "Materialize", "Memoize", "Result", "Subquery Scan", "Gather", "Gather Merge":
		return true
	}
	return false
}

// scanBelow is the foreign scan under n through pass-through nodes, or nil.
func scanBelow(n *planNode) *planNode {
	for n != nil {
		if n.NodeType == "Foreign Scan" {
			return n
		}
		if !passThrough(n.NodeType) || len(n.Plans) != 1 {
			return nil
		}
		n = n.Plans[0]
	}
	return nil
}

// scansUnder lists every foreign scan in n's subtree.
func scansUnder(n *planNode, out *[]*planNode) {
	if n.NodeType == "Foreign Scan" {
		*out = append(*out, n)
	}
	for _, c := range n.Plans {
		scansUnder(c, out)
	}
}

// isJoin reports whether a node joins its two inputs.
func isJoin(t string) bool {
	return t == "Hash Join" || t == "Merge Join" || t == "Nested Loop"
}

// joinSide is the foreign scan directly under one side of a join, through
// pass-through nodes and a Sort (a merge join sorts its inputs).
func joinSide(n *planNode) *planNode {
	for n != nil {
		if n.NodeType == "Foreign Scan" {
			return n
		}
		if (!passThrough(n.NodeType) && n.NodeType != "Sort" && n.NodeType != "Incremental Sort") || len(n.Plans) != 1 {
			return nil
		}
		n = n.Plans[0]
	}
	return nil
}

// pushedParts says what a foreign scan's remote query does on the remote
// besides reading, from its Remote SQL as parsed by PostgreSQL's parser
// (a constant that happens to hold " WHERE " fools nothing).
func pushedParts(n *planNode) []string {
	var out []string
	if strings.HasPrefix(n.Relations, "Aggregate on ") {
		out = append(out, "aggregate")
	}
	tree, err := pg.Parse(n.RemoteSQL)
	if err != nil || len(tree.Stmts) != 1 || tree.Stmts[0].Stmt.GetSelectStmt() == nil {
		return out
	}
	sel := tree.Stmts[0].Stmt.GetSelectStmt()
	join, joinQuals := false, false
	for _, f := range sel.FromClause {
		walkProto(f.ProtoReflect(), func(m protoreflect.Message) bool {
			if j, ok := m.Interface().(*pg.JoinExpr); ok {
				join = true
				joinQuals = joinQuals || j.Quals != nil
			}
			return true
		})
	}
	if join {
		out = append(out, "join")
	}
	if sel.WhereClause != nil || joinQuals {
		out = append(out, "conditions")
	}
	if len(sel.GroupClause) > 0 && !slices.Contains(out, "aggregate") {
		out = append([]string{"aggregate"}, out...)
	}
	if len(sel.SortClause) > 0 {
		out = append(out, "sort")
	}
	if sel.LimitCount != nil {
		out = append(out, "limit")
	}
	return out
}
