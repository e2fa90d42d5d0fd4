package app

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/views"
)

// pageDrift reads a link's drift for its page; a failure is shown in the
// Drift section, never as an error page. A large link shows its last
// comparison unless now is set (see links.PageDrift).
func (a *App) pageDrift(c echo.Context, l *links.Link, now bool) *links.Drift {
	d, err := a.cfg.Links.PageDrift(c.Request().Context(), l, now)
	if err != nil {
		if errs.KindOf(err) == errs.Internal {
			a.log.Error("link drift", "local", l.LocalConfigVar, "link", l.Name, "err", err)
		}
		return &links.Drift{Error: errs.MessageOf(err)}
	}
	return d
}

func (a *App) refreshPage(c echo.Context, formErrs views.FormErrors) (views.RefreshPage, error) {
	local, err := a.cfg.Fleet.Lookup(c.Param("db"))
	if err != nil {
		return views.RefreshPage{}, err
	}
	plan, err := a.cfg.Links.PlanRefresh(c.Request().Context(), local.ConfigVar, c.Param("name"))
	if err != nil {
		return views.RefreshPage{}, err
	}
	return views.RefreshPage{Page: a.page(c, "Refresh "+plan.Link.Name, "databases"), Plan: plan, Local: local, Errors: formErrs}, nil
}

func (a *App) confirmRefresh(c echo.Context) error {
	p, err := a.refreshPage(c, nil)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.RefreshView(p))
}

func (a *App) refreshLink(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return errs.E(errs.Invalid, "The form could not be read.")
	}
	localVar, name := c.Param("db"), c.Param("name")
	target := localVar + "/" + name
	res, err := a.cfg.Links.RefreshLink(c.Request().Context(), links.RefreshRequest{
		LocalVar: localVar, Name: name, Fingerprint: field(form, "fingerprint"), Actor: session(c).User.Email,
	})
	if err != nil {
		a.auditRefusal(c, auth.ActionLinkRefresh, auth.ActionLinkRefreshRefused, target, err)
		kind := errs.KindOf(err)
		if kind == errs.Internal || kind == errs.NotFound || kind == errs.Forbidden {
			return err
		}
		// Show the plan again, re-read, with the message.
		p, perr := a.refreshPage(c, views.FormErrors{"": errs.MessageOf(err)})
		if perr != nil {
			return perr
		}
		return Render(c, statusOf(kind), views.RefreshView(p))
	}
	a.audit(c, auth.ActionLinkRefresh, target, auth.OutcomeOK, refreshedDetail(res), sqlText(res.DDL))
	a.flash(c, flashOK, "Link "+name+" refreshed: "+res.Summary.String()+".")
	return redirect(c, views.LinkPath(localVar, name))
}

// refreshedDetail is a refresh's audit detail.
func refreshedDetail(res *links.RefreshResult) string {
	detail := res.Summary.String()
	if n := len(res.Plan.Dependents); n > 0 {
		var ds []string
		for _, d := range res.Plan.Dependents {
			ds = append(ds, d.Description)
		}
		detail += "; also dropped " + strings.Join(ds, ", ")
	}
	return detail
}
