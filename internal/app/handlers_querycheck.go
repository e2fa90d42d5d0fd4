package app

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/views"
)

// Query checks, link options and "Analyze foreign tables": everyone sees
// saved checks and the Performance section; admins run checks, change
// options and analyze, each audited.

// queryRoutes adds the routes of this file: u for every signed-in user,
// adm for admins.
func (a *App) queryRoutes(u, adm *echo.Group) {
	u.GET("/databases/:db/links/:name/query", a.queryCheckForm)
	u.GET("/databases/:db/links/:name/query/:id", a.showQueryCheck)
	adm.POST("/databases/:db/links/:name/query", a.runQueryCheck)
	adm.GET("/databases/:db/links/:name/query/:id/analyze", a.confirmAnalyzeQuery)
	adm.POST("/databases/:db/links/:name/query/:id/analyze", a.runAnalyzeQuery)
	adm.GET("/databases/:db/links/:name/options", a.previewOption)
	adm.POST("/databases/:db/links/:name/options", a.changeOption)
	adm.GET("/databases/:db/links/:name/analyze", a.confirmAnalyzeTables)
	adm.POST("/databases/:db/links/:name/analyze", a.analyzeTables)
}

func (a *App) checks() *links.QueryChecks { return links.NewQueryChecks(a.cfg.Auth.Pool()) }

// linkQuerySections fills the link page's Performance and Query check
// sections; a failure shows in its section, never as an error page.
func (a *App) linkQuerySections(c echo.Context, p *views.LinkPage) {
	ctx := c.Request().Context()
	perf, err := a.cfg.Links.LinkPerformance(ctx, p.Link)
	if err != nil {
		a.logUnexpected("link performance", p.Link, err)
		p.PerfError = orInternal(err)
	}
	p.Perf = perf
	p.Checks, err = a.checks().Recent(ctx, p.Local.ConfigVar, p.Link.Name, views.ChecksOnLinkPage)
	if err != nil {
		a.logUnexpected("saved query checks", p.Link, err)
		p.ChecksError = orInternal(err)
	}
}

func (a *App) logUnexpected(what string, l *links.Link, err error) {
	if errs.KindOf(err) == errs.Internal {
		a.log.Error(what, "local", l.LocalConfigVar, "link", l.Name, "err", err)
	}
}

func orInternal(err error) string {
	if m := errs.MessageOf(err); m != "" {
		return m
	}
	return "internal error (see the server log)"
}

func (a *App) localOf(c echo.Context) (*fleet.Database, error) {
	return a.cfg.Fleet.Lookup(c.Param("db"))
}

func (a *App) queryCheckPage(c echo.Context, sql string, formErrs views.FormErrors) (views.QueryCheckPage, error) {
	local, err := a.localOf(c)
	if err != nil {
		return views.QueryCheckPage{}, err
	}
	l, err := a.cfg.Links.GetLink(c.Request().Context(), local.ConfigVar, c.Param("name"))
	if err != nil {
		return views.QueryCheckPage{}, err
	}
	checks, err := a.checks().Recent(c.Request().Context(), local.ConfigVar, l.Name, 50)
	if err != nil {
		return views.QueryCheckPage{}, err
	}
	return views.QueryCheckPage{Page: a.page(c, "Query check: "+l.Name, "databases"), Local: local, Link: l, SQL: sql, Checks: checks, Errors: formErrs}, nil
}

func (a *App) queryCheckForm(c echo.Context) error {
	p, err := a.queryCheckPage(c, "", nil)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.QueryCheckFormView(p))
}

// checkFormSQL reads the statement as typed: field() would cut it.
func checkFormSQL(c echo.Context) (string, error) {
	form, err := c.FormParams()
	if err != nil {
		return "", errs.E(errs.Invalid, "The form could not be read.")
	}
	return strings.ToValidUTF8(form.Get("sql"), "\uFFFD"), nil
}

func (a *App) runQueryCheck(c echo.Context) error {
	sql, err := checkFormSQL(c)
	if err != nil {
		return err
	}
	localVar, name := c.Param("db"), c.Param("name")
	check, err := a.check(c, localVar, name, sql, false)
	if err != nil {
		kind := errs.KindOf(err)
		if kind == errs.Internal || kind == errs.NotFound || kind == errs.Forbidden {
			return err
		}
		p, perr := a.queryCheckPage(c, sql, views.FormErrors{"sql": errs.MessageOf(err)})
		if perr != nil {
			return perr
		}
		return Render(c, statusOf(kind), views.QueryCheckFormView(p))
	}
	return redirect(c, views.SavedCheckPath(localVar, name, check.ID))
}

// check runs a check, saves it and audits it, refused or not.
func (a *App) check(c echo.Context, localVar, name, sql string, analyze bool) (*links.QueryCheck, error) {
	target := localVar + "/" + name
	what := "plan"
	if analyze {
		what = "EXPLAIN ANALYZE"
	}
	res, err := a.cfg.Links.CheckQuery(c.Request().Context(), links.QueryCheckRequest{LocalVar: localVar, Name: name, SQL: sql, Analyze: analyze, Actor: actor(c)})
	if err != nil {
		if errs.KindOf(err) == errs.Internal {
			a.audit(c, auth.ActionQueryCheck, target, auth.OutcomeFailed, what+": internal error", cutStatement(sql))
		} else {
			a.audit(c, auth.ActionQueryCheckRefused, target, outcomeOf(err), what+": "+errs.MessageOf(err), cutStatement(sql))
		}
		return nil, err
	}
	if err := a.checks().Save(c.Request().Context(), res); err != nil {
		return nil, err
	}
	detail := fmt.Sprintf("%s, check #%d: %s, %s kept local", what, res.ID, views.Plural(len(res.Scans), "foreign scan", "foreign scans"), views.Plural(res.KeptLocalCount(), "thing", "things"))
	a.audit(c, auth.ActionQueryCheck, target, auth.OutcomeOK, detail, res.Statement)
	return res, nil
}

// cutStatement bounds a refused statement kept in the audit trail.
func cutStatement(sql string) string {
	if len(sql) > links.MaxCheckStatement {
		return sql[:links.MaxCheckStatement] + "…"
	}
	return sql
}

func (a *App) savedCheck(c echo.Context) (*fleet.Database, *links.QueryCheck, error) {
	local, err := a.localOf(c)
	if err != nil {
		return nil, nil, err
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return nil, nil, errs.E(errs.NotFound, "There is no saved query check %q.", c.Param("id"))
	}
	check, err := a.checks().Get(c.Request().Context(), local.ConfigVar, c.Param("name"), id)
	return local, check, err
}

func (a *App) showQueryCheck(c echo.Context) error {
	local, check, err := a.savedCheck(c)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.QueryCheckView(views.SavedCheckPage{Page: a.page(c, "Query check #"+c.Param("id"), "databases"), Local: local, Check: check}))
}

func (a *App) confirmAnalyzeQuery(c echo.Context) error {
	local, check, err := a.savedCheck(c)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.QueryCheckView(views.SavedCheckPage{Page: a.page(c, "EXPLAIN ANALYZE #"+c.Param("id"), "databases"), Local: local, Check: check, Confirm: true}))
}

// runAnalyzeQuery runs EXPLAIN ANALYZE of a saved check's statement, once
// the admin confirmed on the page that says it executes.
func (a *App) runAnalyzeQuery(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return errs.E(errs.Invalid, "The form could not be read.")
	}
	local, saved, err := a.savedCheck(c)
	if err != nil {
		return err
	}
	page := func(status int, msg string) error {
		return Render(c, status, views.QueryCheckView(views.SavedCheckPage{Page: a.page(c, "EXPLAIN ANALYZE #"+c.Param("id"), "databases"), Local: local, Check: saved, Confirm: true, Errors: views.FormErrors{"": msg}}))
	}
	if field(form, "confirm") != "run" {
		return page(http.StatusUnprocessableEntity, "Confirm that the statement may run.")
	}
	res, err := a.check(c, local.ConfigVar, saved.Link, saved.Statement, true)
	if err != nil {
		kind := errs.KindOf(err)
		if kind == errs.Internal || kind == errs.NotFound || kind == errs.Forbidden {
			return err
		}
		return page(statusOf(kind), errs.MessageOf(err))
	}
	return redirect(c, views.SavedCheckPath(local.ConfigVar, saved.Link, res.ID))
}

// optionOf reads an option change from a form, a query or the API's
// JSON (as url.Values), the same way: key and value trimmed, the table's
// name taken as it is.
func optionOf(v url.Values) links.OptionChange {
	return links.OptionChange{Table: nameField(field(v, "table")), Key: field(v, "key"), Value: field(v, "value")}
}

func (a *App) previewOption(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	plan, err := a.cfg.Links.PlanOption(c.Request().Context(), local.ConfigVar, c.Param("name"), optionOf(c.QueryParams()))
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.OptionView(views.OptionPage{Page: a.page(c, "Change "+plan.Change.Key, "databases"), Local: local, Plan: plan}))
}

func (a *App) changeOption(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return errs.E(errs.Invalid, "The form could not be read.")
	}
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	name := c.Param("name")
	target := local.ConfigVar + "/" + name
	res, err := a.cfg.Links.ChangeOption(c.Request().Context(), links.OptionRequest{LocalVar: local.ConfigVar, Name: name, Change: optionOf(form), Actor: actor(c)})
	if err != nil {
		a.auditRefusal(c, auth.ActionLinkOption, auth.ActionLinkOptionRefused, target, err)
		return err
	}
	detail := optionDetail(res)
	a.audit(c, auth.ActionLinkOption, target, auth.OutcomeOK, detail, res.SQL+";")
	a.flash(c, flashOK, "Link "+name+": "+detail+".")
	return redirect(c, views.LinkPath(local.ConfigVar, name)+"#performance")
}

// optionDetail says what an option change did, for the audit and the user.
func optionDetail(res *links.OptionPlan) string {
	detail := res.Change.Key + " of " + views.OptionTarget(res.Change)
	if res.Change.Value == "" {
		detail += " reset to its default"
	} else {
		detail += " set to " + res.Change.Value
	}
	if res.IsSet {
		detail += " (was " + res.Current + ")"
	}
	return detail
}

func (a *App) confirmAnalyzeTables(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	l, err := a.cfg.Links.GetLink(c.Request().Context(), local.ConfigVar, c.Param("name"))
	if err != nil {
		return err
	}
	perf, err := a.cfg.Links.LinkPerformance(c.Request().Context(), l)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.AnalyzeView(views.AnalyzePage{Page: a.page(c, "Analyze "+l.Name, "databases"), Local: local, Link: l, Perf: perf}))
}

func (a *App) analyzeTables(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	name := c.Param("name")
	res, msg, err := a.analyzeLink(c, local.ConfigVar, name)
	if err != nil {
		return err
	}
	kind := flashOK
	if len(res.Failed) > 0 || res.Remaining > 0 {
		kind = flashErr
	}
	a.flash(c, kind, msg)
	return redirect(c, views.LinkPath(local.ConfigVar, name)+"#performance")
}

// maxFailuresSaid is how many failed tables an analyze's message names.
const maxFailuresSaid = 3

// analyzeLink analyzes a link's foreign tables and audits the run (as
// failed when a table failed), saying in words how it went.
func (a *App) analyzeLink(c echo.Context, localVar, name string) (*links.AnalyzeResult, string, error) {
	target := localVar + "/" + name
	res, err := a.cfg.Links.AnalyzeLink(c.Request().Context(), links.AnalyzeRequest{LocalVar: localVar, Name: name, Actor: actor(c)})
	if err != nil {
		a.audit(c, auth.ActionLinkAnalyze, target, outcomeOf(err), orInternal(err), "")
		return nil, "", err
	}
	msg := fmt.Sprintf("Analyzed %d of %s of %s in %.1f s.", len(res.Analyzed), views.Plural(res.Total, "foreign table", "foreign tables"), name, res.Elapsed.Seconds())
	for i, f := range res.Failed {
		if i == maxFailuresSaid {
			msg += fmt.Sprintf(" %d more failed (the link's Performance section lists them).", len(res.Failed)-i)
			break
		}
		msg += fmt.Sprintf(" %s failed: %s.", f.Table, f.Reason)
	}
	if res.Remaining > 0 {
		msg += fmt.Sprintf(" %d not reached within %s: analyze again to continue with them.", res.Remaining, a.cfg.Fleet.Deadlines.AnalyzeAll)
	}
	outcome := auth.OutcomeOK
	if len(res.Failed) > 0 {
		outcome = auth.OutcomeFailed
	}
	a.audit(c, auth.ActionLinkAnalyze, target, outcome, msg, sqlText(res.DDL))
	return res, msg, nil
}
