package app

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/views"
)

// importChoice is what the import form sent: the ticked tables (read as
// sent, so a refusal shows them again) and the name filter.
func importChoice(form url.Values) (tables []string, q string) {
	for i, t := range form["table"] {
		if i >= maxChosenTables {
			break
		}
		tables = append(tables, nameField(t))
	}
	return tables, field(form, "q")
}

// importPage is the import page for the link in the URL: the tables it
// may take on, read fresh, with plan when there is one.
func (a *App) importPage(c echo.Context, chosen []string, q string, plan *links.ImportPlan, formErrs views.FormErrors) (views.ImportPage, error) {
	local, err := a.cfg.Fleet.Lookup(c.Param("db"))
	if err != nil {
		return views.ImportPage{}, err
	}
	p := views.ImportPage{Local: local, Query: q, Chosen: chosen, Plan: plan, Errors: formErrs}
	var d *links.Drift
	if plan != nil {
		p.Link, d = plan.Link, plan.Drift
	} else {
		l, err := a.cfg.Links.GetLink(c.Request().Context(), local.ConfigVar, c.Param("name"))
		if err != nil {
			return views.ImportPage{}, err
		}
		p.Link = l
		if l.IsRedis() {
			return views.ImportPage{}, links.DoesNotApply(l, "Importing tables")
		}
		if l.Tables != nil {
			if d, err = a.cfg.Links.LinkDrift(c.Request().Context(), local.ConfigVar, l.Name); err != nil {
				d = &links.Drift{Error: errs.MessageOf(err)}
			}
		}
	}
	switch {
	case p.Link.Tables == nil: // nothing to choose: the page says so
	case d.Error != "":
		p.Unreadable = d.Error
	default:
		p.Importable = links.Importable(p.Link, d)
	}
	p.Page = a.page(c, "Import tables into "+p.Link.Name, "databases")
	return p, nil
}

// importForm is the chooser and, with op=plan, the confirmation of the
// SQL that imports the chosen tables.
func (a *App) importForm(c echo.Context) error {
	chosen, q := importChoice(c.QueryParams())
	var plan *links.ImportPlan
	var formErrs views.FormErrors
	status := http.StatusOK
	if c.QueryParam("op") == "plan" {
		var err error
		plan, err = a.cfg.Links.PlanImport(c.Request().Context(), c.Param("db"), c.Param("name"), chosen)
		if err != nil {
			kind := errs.KindOf(err)
			if kind == errs.Internal || kind == errs.NotFound || kind == errs.Forbidden {
				return err
			}
			formErrs, status = importErrors(err), statusOf(kind)
		}
	}
	p, err := a.importPage(c, chosen, q, plan, formErrs)
	if err != nil {
		return err
	}
	return Render(c, status, views.ImportView(p))
}

// importTables applies the confirmed import.
func (a *App) importTables(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return errs.E(errs.Invalid, "The form could not be read.")
	}
	chosen, _ := importChoice(form)
	localVar, name := c.Param("db"), c.Param("name")
	target := localVar + "/" + name
	res, err := a.cfg.Links.ImportTables(c.Request().Context(), links.ImportRequest{
		LocalVar: localVar, Name: name, Tables: chosen, Fingerprint: field(form, "fingerprint"), Actor: session(c).User.Email,
	})
	if err != nil {
		a.auditRefusal(c, auth.ActionLinkImportTables, auth.ActionLinkImportRefused, target, err)
		kind := errs.KindOf(err)
		if kind == errs.Internal || kind == errs.NotFound || kind == errs.Forbidden {
			return err
		}
		// Show the choice again with the message, and the new plan when
		// there is one.
		plan, _ := a.cfg.Links.PlanImport(c.Request().Context(), localVar, name, chosen)
		p, perr := a.importPage(c, chosen, "", plan, importErrors(err))
		if perr != nil {
			return perr
		}
		return Render(c, statusOf(kind), views.ImportView(p))
	}
	a.audit(c, auth.ActionLinkImportTables, target, auth.OutcomeOK, importedDetail(res), sqlText(res.DDL))
	n := len(res.Plan.Tables)
	msg := "Link " + name + " imports 1 more table: " + res.Plan.Tables[0] + "."
	if n > 1 {
		msg = fmt.Sprintf("Link %s imports %d more tables.", name, n)
	}
	a.flash(c, flashOK, msg)
	return redirect(c, views.LinkPath(localVar, name))
}

// importedDetail is an import's audit detail.
func importedDetail(res *links.ImportResult) string {
	detail := "imported " + quotedList(res.Plan.Tables)
	if len(res.Plan.CopiedTypes) > 0 {
		detail += "; copied " + strings.Join(res.Plan.CopiedTypes, ", ")
	}
	return detail
}

// importErrors puts a refusal next to the table list when it is about the
// choice, above the page otherwise.
func importErrors(err error) views.FormErrors {
	if errs.KindOf(err) == errs.Invalid || errs.FieldOf(err) == "tables" {
		return views.FormErrors{"tables": errs.MessageOf(err)}
	}
	return views.FormErrors{"": errs.MessageOf(err)}
}

func quotedList(ls []string) string {
	q := make([]string, len(ls))
	for i, s := range ls {
		q[i] = `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return strings.Join(q, ", ")
}
