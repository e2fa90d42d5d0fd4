package app

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/links"
)

// Query checks through the API, as on the link's Query check page: any
// role lists and reads a link's saved checks; admins run one (the plan,
// or EXPLAIN ANALYZE, which executes the statement), saved and audited by
// the page's own check().

// Saved checks listed at once: the page's form lists 50.
const (
	apiChecksPerPage    = 50
	apiMaxChecksPerPage = 100 // the checks a link keeps
)

type apiCheckSummaryJSON struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Actor     string    `json:"actor"`
	Statement string    `json:"statement"` // its first 200 characters
	Analyzed  bool      `json:"analyzed"`
	KeptLocal int       `json:"kept_local"`
}

type apiCheckListJSON struct {
	Link   apiLinkJSON           `json:"link"`
	Checks []apiCheckSummaryJSON `json:"checks"`
}

// apiOptionChangeJSON is a change of a link option: the server's when
// table is "", else a foreign table's; value "" resets it.
type apiOptionChangeJSON struct {
	Table string `json:"table"`
	Key   string `json:"key"`
	Value string `json:"value"`
}

func optionChangeJSON(ch *links.OptionChange) *apiOptionChangeJSON {
	if ch == nil {
		return nil
	}
	return &apiOptionChangeJSON{Table: ch.Table, Key: ch.Key, Value: ch.Value}
}

type apiReasonJSON struct {
	Code   string               `json:"code"`
	Object string               `json:"object"`
	Why    string               `json:"why"`
	Fix    string               `json:"fix"`
	Option *apiOptionChangeJSON `json:"option"` // the link option that fixes it, if one does
}

func reasonsJSON(rs []links.Reason) []apiReasonJSON {
	out := []apiReasonJSON{}
	for _, r := range rs {
		out = append(out, apiReasonJSON{Code: r.Code, Object: r.Object, Why: r.Why, Fix: r.Fix, Option: optionChangeJSON(r.Option)})
	}
	return out
}

type apiKeptConditionJSON struct {
	Expr    string          `json:"expr"`
	Reasons []apiReasonJSON `json:"reasons"`
}

type apiScanJSON struct {
	Mine      bool                   `json:"mine"`
	Relations string                 `json:"relations"`
	RemoteSQL string                 `json:"remote_sql"`
	Pushed    []string               `json:"pushed"`
	KeptLocal []apiKeptConditionJSON `json:"kept_local"`
	EstRows   float64                `json:"est_rows"`
	// EstFetched is the remote's estimate of the rows its query returns;
	// null when unknown (FetchedNote says why).
	EstFetched    *float64 `json:"est_fetched"`
	FetchedNote   string   `json:"fetched_note"`
	Actual        bool     `json:"actual"`
	ActualRows    float64  `json:"actual_rows"`
	ActualFetched float64  `json:"actual_fetched"`
	Loops         float64  `json:"loops"`
	TimeMs        float64  `json:"time_ms"`
}

type apiLocalStepJSON struct {
	What    string          `json:"what"`
	Node    string          `json:"node"`
	Detail  string          `json:"detail"`
	Reasons []apiReasonJSON `json:"reasons"`
}

type apiPlanLineJSON struct {
	Depth    int     `json:"depth"`
	Node     string  `json:"node"`
	EstRows  float64 `json:"est_rows"`
	Actual   bool    `json:"actual"`
	Rows     float64 `json:"rows"`
	Loops    float64 `json:"loops"`
	TimeMs   float64 `json:"time_ms"`
	IsRemote bool    `json:"is_remote"`
}

type apiQueryCheckJSON struct {
	ID          int64              `json:"id"`
	Local       string             `json:"local"`
	Link        string             `json:"link"`
	Statement   string             `json:"statement"`
	Analyze     bool               `json:"analyze"`
	Actor       string             `json:"actor"`
	At          time.Time          `json:"at"`
	UsesLink    bool               `json:"uses_link"`
	RemoteEst   bool               `json:"use_remote_estimate"`
	Extensions  []string           `json:"extensions"`
	ServerMajor int                `json:"server_major"`
	KeptLocal   int                `json:"kept_local"`
	Scans       []apiScanJSON      `json:"scans"`
	LocalSteps  []apiLocalStepJSON `json:"local_steps"`
	Plan        []apiPlanLineJSON  `json:"plan"`
	PlanTrimmed bool               `json:"plan_trimmed"`
	PlanningMs  float64            `json:"planning_ms"`
	ExecutionMs float64            `json:"execution_ms"`
}

func queryCheckJSON(q *links.QueryCheck) apiQueryCheckJSON {
	out := apiQueryCheckJSON{
		ID: q.ID, Local: q.LocalVar, Link: q.Link, Statement: q.Statement, Analyze: q.Analyze, Actor: q.Actor, At: q.At,
		UsesLink: q.UsesLink, RemoteEst: q.RemoteEst, Extensions: nonNil(q.Extensions), ServerMajor: q.ServerMajor,
		KeptLocal: q.KeptLocalCount(), Scans: []apiScanJSON{}, LocalSteps: []apiLocalStepJSON{}, Plan: []apiPlanLineJSON{},
		PlanTrimmed: q.PlanTrimmed, PlanningMs: q.PlanningMs, ExecutionMs: q.ExecutionMs,
	}
	for _, s := range q.Scans {
		sj := apiScanJSON{
			Mine: s.Mine, Relations: s.Relations, RemoteSQL: s.RemoteSQL, Pushed: nonNil(s.Pushed), KeptLocal: []apiKeptConditionJSON{},
			EstRows: s.EstRows, FetchedNote: s.FetchedNote,
			Actual: s.Actual, ActualRows: s.ActualRows, ActualFetched: s.ActualFetched, Loops: s.Loops, TimeMs: s.TimeMs,
		}
		if s.EstFetched >= 0 {
			f := s.EstFetched
			sj.EstFetched = &f
		}
		for _, k := range s.KeptLocal {
			sj.KeptLocal = append(sj.KeptLocal, apiKeptConditionJSON{Expr: k.Expr, Reasons: reasonsJSON(k.Reasons)})
		}
		out.Scans = append(out.Scans, sj)
	}
	for _, l := range q.Local {
		out.LocalSteps = append(out.LocalSteps, apiLocalStepJSON{What: l.What, Node: l.Node, Detail: l.Detail, Reasons: reasonsJSON(l.Reasons)})
	}
	for _, p := range q.Plan {
		out.Plan = append(out.Plan, apiPlanLineJSON{Depth: p.Depth, Node: p.Node, EstRows: p.EstRows, Actual: p.Actual, Rows: p.Rows, Loops: p.Loops, TimeMs: p.TimeMs, IsRemote: p.IsRemote})
	}
	return out
}

// apiQueryChecks lists a link's saved checks, newest first (limit).
func (a *App) apiQueryChecks(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	limit := apiChecksPerPage
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > apiMaxChecksPerPage {
			return errs.E(errs.Invalid, "limit %q is not a whole number from 1 to %d.", v, apiMaxChecksPerPage).OnField("limit")
		}
		limit = n
	}
	ctx := c.Request().Context()
	l, err := a.cfg.Links.GetLink(ctx, local.ConfigVar, c.Param("name"))
	if err != nil {
		return err
	}
	checks, err := a.checks().Recent(ctx, local.ConfigVar, l.Name, limit)
	if err != nil {
		return err
	}
	out := apiCheckListJSON{Link: linkJSON(l, a.cfg.Health.Get(local.ConfigVar, l.Name)), Checks: []apiCheckSummaryJSON{}}
	for _, ch := range checks {
		out.Checks = append(out.Checks, apiCheckSummaryJSON{ID: ch.ID, At: ch.At, Actor: ch.Actor, Statement: ch.Statement, Analyzed: ch.Analyzed, KeptLocal: ch.KeptLocal})
	}
	return writeJSON(c, http.StatusOK, out)
}

// apiQueryCheck is one saved check.
func (a *App) apiQueryCheck(c echo.Context) error {
	_, check, err := a.savedCheck(c)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, queryCheckJSON(check))
}

// apiQueryCheckRequest is a statement to check. analyze runs EXPLAIN
// ANALYZE: the statement is executed (read-only, bounded), which the page
// asks to confirm; here asking for it is the confirmation.
type apiQueryCheckRequest struct {
	SQL     string `json:"sql"`
	Analyze bool   `json:"analyze"`
}

// apiRunQueryCheck checks a statement over the link and saves the check,
// as the page's "Check": a refusal (not one read-only SELECT, a volatile
// function under analyze, a timeout) is 422 on the field sql, audited.
func (a *App) apiRunQueryCheck(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	var in apiQueryCheckRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	check, err := a.check(c, local.ConfigVar, c.Param("name"), in.SQL, in.Analyze)
	if err != nil {
		if errs.KindOf(err) == errs.Invalid && errs.FieldOf(err) == "" {
			return errs.Wrap(errs.Invalid, err, "%s", errs.MessageOf(err)).OnField("sql") // the page shows it under the statement
		}
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, apiLinkPath(local.ConfigVar, check.Link)+"/query/"+strconv.FormatInt(check.ID, 10))
	return writeJSON(c, http.StatusCreated, queryCheckJSON(check))
}
