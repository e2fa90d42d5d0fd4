package app

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/views"
)

// linkConns reads the connections local sessions hold through l, on its
// remote, for the link page; a failure to read them is said in the
// section, never fails the page.
func (a *App) linkConns(c echo.Context, l *links.Link) *links.RemoteConnections {
	rc, err := a.cfg.Links.LinkConnections(c.Request().Context(), l.LocalConfigVar, l.Name)
	if err != nil {
		msg := errs.MessageOf(err)
		if msg == "" {
			msg = "pglinks could not read them."
		}
		return &links.RemoteConnections{Link: l, Unread: "Not read: " + msg, KeepSupported: true}
	}
	return rc
}

// confirmEndConnections shows what ending a link's connections on its
// remote runs, and how many it ends.
func (a *App) confirmEndConnections(c echo.Context) error {
	local, err := a.cfg.Fleet.Lookup(c.Param("db"))
	if err != nil {
		return err
	}
	rc, err := a.cfg.Links.LinkConnections(c.Request().Context(), local.ConfigVar, c.Param("name"))
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.EndConnectionsView(views.EndConnectionsPage{
		Page: a.page(c, "End connections of "+rc.Link.Name, "databases"), Local: local, Conns: rc,
	}))
}

// endConnections ends a link's connections on its remote and records it.
func (a *App) endConnections(c echo.Context) error {
	localVar, name := c.Param("db"), c.Param("name")
	until, err := time.Parse(time.RFC3339Nano, c.FormValue("until"))
	if err != nil {
		return errs.E(errs.Invalid, "This form does not say which connections its confirmation showed: open the confirmation again. Nothing was ended.")
	}
	_, _, msg, err := a.endLinkConnections(c, localVar, name, until)
	if err != nil {
		return err
	}
	a.flash(c, flashOK, msg)
	return redirect(c, views.LinkPath(localVar, name))
}

// endLinkConnections ends a link's connections on its remote and audits
// it (or its refusal), for the page and the API alike: it returns how
// many were ended, the statement that ran and what to tell the user.
func (a *App) endLinkConnections(c echo.Context, localVar, name string, until time.Time) (int, string, string, error) {
	target := localVar + "/" + name
	n, stmt, err := a.cfg.Links.EndLinkConnections(c.Request().Context(), localVar, name, until)
	if err != nil {
		a.auditRefusal(c, auth.ActionLinkConnectionsEnd, auth.ActionLinkConnectionsEndRefused, target, err)
		return 0, "", "", err
	}
	a.audit(c, auth.ActionLinkConnectionsEnd, target, auth.OutcomeOK, fmt.Sprintf("ended %d connection(s) that local sessions held through the link, on its remote", n), stmt+";")
	return n, stmt, fmt.Sprintf("Ended %d connection(s) through link %s on its remote: each session connects afresh at its next statement through the link.", n, name), nil
}
