package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/views"
)

// checkLink probes a link now ("Check now"). Viewers may ask too: the
// probe only reads (its one catalog change is rolled back), runs as
// pglinks' own role and is bounded in time; for viewers a link probed less
// than a few seconds ago is not probed again (they get that result), so
// clicks cannot be turned into load on a remote. Admins always probe.
func (a *App) checkLink(c echo.Context) error {
	localVar, name := c.Param("db"), c.Param("name")
	h, err := a.cfg.Health.Check(c.Request().Context(), localVar, name, session(c).User.IsAdmin())
	if err != nil {
		return err
	}
	switch h.State {
	case links.HealthHealthy:
		a.flash(c, flashOK, fmt.Sprintf("Link %s is healthy (%d ms).", name, h.RTT.Milliseconds()))
	default:
		a.flash(c, flashErr, fmt.Sprintf("Link %s is broken: %s", name, h.Reason))
	}
	return redirect(c, views.LinkPath(localVar, name))
}

// confirmRepair shows the repair's SQL to confirm, or, for a link that
// matches its remote (a typed or old URL) or cannot be repaired, a page
// saying so that leads back to the link.
func (a *App) confirmRepair(c echo.Context) error {
	local, err := a.cfg.Fleet.Lookup(c.Param("db"))
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	plan, err := a.cfg.Links.PlanRepair(ctx, local.ConfigVar, c.Param("name"))
	if err == nil {
		return Render(c, http.StatusOK, views.RepairView(views.RepairPage{Page: a.page(c, "Repair "+plan.Link.Name, "databases"), Link: plan.Link, Plan: plan, Local: local}))
	}
	if !errs.Is(err, errs.Conflict) {
		return err
	}
	l, lerr := a.cfg.Links.GetLink(ctx, local.ConfigVar, c.Param("name"))
	if lerr != nil {
		return err
	}
	status := http.StatusOK // a link that matches its remote: nothing to do
	if errors.Is(err, links.ErrEnvRefused) {
		// This process's config var would break the link: a conflict,
		// said in its words, with nothing offered.
		status = http.StatusConflict
	}
	return Render(c, status, views.RepairView(views.RepairPage{Page: a.page(c, "Repair "+l.Name, "databases"), Link: l, Local: local, Refusal: errs.MessageOf(err)}))
}

func (a *App) repairLink(c echo.Context) error {
	localVar, name := c.Param("db"), c.Param("name")
	target := localVar + "/" + name
	ctx, cancel := context.WithTimeout(c.Request().Context(), a.cfg.Fleet.Deadlines.Repair)
	defer cancel()
	res, err := a.cfg.Links.RepairLink(ctx, links.RepairRequest{LocalVar: localVar, Name: name, Fingerprint: c.FormValue("fingerprint"), Actor: session(c).User.Email})
	if err != nil {
		a.auditRefusal(c, auth.ActionLinkRepair, auth.ActionLinkRepairRefused, target, err)
		if errors.Is(err, links.ErrEnvRefused) {
			// This process's config var would break the link: answered
			// as a conflict, in its words, with nothing offered.
			return err
		}
		if errs.Is(err, errs.Conflict) {
			// Nothing (left) to repair, or it cannot be: say so on the link page.
			a.flash(c, flashErr, errs.MessageOf(err))
			return redirect(c, views.LinkPath(localVar, name))
		}
		return err
	}
	a.cfg.Health.Put(localVar, name, res.Health)
	a.audit(c, auth.ActionLinkRepair, target, auth.OutcomeOK, repairedDetail(res), sqlText(res.DDL))
	if res.Health.State == links.HealthHealthy {
		a.flash(c, flashOK, fmt.Sprintf("Link %s repaired: %s. It is healthy: a fresh probe took %d ms.", name, res.Link.Stale.Summary(), res.Health.RTT.Milliseconds()))
	} else {
		a.flash(c, flashErr, fmt.Sprintf("Link %s repaired: %s. It is still broken: %s", name, res.Link.Stale.Summary(), res.Health.Reason))
	}
	return redirect(c, views.LinkPath(localVar, name))
}

// repairedDetail is a repair's audit detail.
func repairedDetail(res *links.RepairResult) string {
	detail := fmt.Sprintf("link to %s: %s; after repair: %s", res.Link.RemoteConfigVar, res.Link.Stale.Summary(), res.Health.State)
	if res.Health.State != links.HealthHealthy {
		detail += " (" + res.Health.Reason + ")"
	}
	return detail
}

// connInfo shows how outside clients connect to a database; it holds no
// secret, so viewers see it too.
func (a *App) connInfo(c echo.Context) error {
	ci, err := a.cfg.Fleet.ConnInfo(c.Param("db"))
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.ConnInfoView(views.ConnInfoPage{Page: a.page(c, "Connection info: "+ci.ResourceName, "databases"), Info: ci}))
}
