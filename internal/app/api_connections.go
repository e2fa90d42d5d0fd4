package app

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/links"
)

// The link page's "Connections through this link" through the API: any
// role lists the connections local sessions hold through a link, read on
// its remote; admins see what ending them runs (the page's confirmation)
// and end them. Ending needs the link's name typed (confirm), as a
// destroy does: it cuts statements running through the link now.

type apiRemoteConnJSON struct {
	PID         int32      `json:"pid"`
	Role        string     `json:"role"`
	Client      string     `json:"client"` // the local server's address, as the remote sees it
	Since       *time.Time `json:"since"`  // the connection's start
	State       string     `json:"state"`  // "" when pglinks' role may not see it
	StateChange *time.Time `json:"state_change"`
	// LastStatement is cut to 120 characters (LastStatementCut).
	LastStatement    string `json:"last_statement"`
	LastStatementCut bool   `json:"last_statement_cut"`
}

type apiConnectionsJSON struct {
	Link    apiLinkJSON `json:"link"`
	AppName string      `json:"app_name"`
	// KeepConnections is the server option as set ("" when unset);
	// KeepConnectionsOn says whether sessions keep their connections
	// between transactions (always below PostgreSQL 14: KeepSupported).
	KeepConnections   string              `json:"keep_connections"`
	KeepConnectionsOn bool                `json:"keep_connections_on"`
	KeepSupported     bool                `json:"keep_supported"`
	Unread            string              `json:"unread"` // why the remote could not be read
	Connections       []apiRemoteConnJSON `json:"connections"`
	More              bool                `json:"more"`
	Role              string              `json:"role"`    // pglinks' role on the remote
	Endable           int                 `json:"endable"` // those of Role, which pglinks may end
	AsOf              *time.Time          `json:"as_of"`
}

func connectionsJSON(rc *links.RemoteConnections, h links.LinkHealth) apiConnectionsJSON {
	out := apiConnectionsJSON{
		Link: linkJSON(rc.Link, h), AppName: rc.AppName, KeepConnections: rc.KeepConnections, KeepConnectionsOn: rc.KeepConnectionsOn(),
		KeepSupported: rc.KeepSupported, Unread: rc.Unread, Connections: []apiRemoteConnJSON{}, More: rc.More,
		Role: rc.Role, Endable: rc.Endable, AsOf: timePtr(rc.AsOf),
	}
	for _, c := range rc.Conns {
		out.Connections = append(out.Connections, apiRemoteConnJSON{
			PID: c.PID, Role: c.Role, Client: c.Client, Since: timePtr(c.BackendStart), State: c.State, StateChange: c.StateChange,
			LastStatement: c.Query, LastStatementCut: c.QueryCut,
		})
	}
	return out
}

func (a *App) apiConnections(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	rc, err := a.cfg.Links.LinkConnections(c.Request().Context(), local.ConfigVar, c.Param("name"))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, connectionsJSON(rc, a.cfg.Health.Get(local.ConfigVar, rc.Link.Name)))
}

type apiEndConnectionsPlanJSON struct {
	Link    apiLinkJSON `json:"link"`
	Remote  string      `json:"remote"`
	Role    string      `json:"role"`
	Endable int         `json:"endable"` // how many the statement would end now
	Unread  string      `json:"unread"`
	SQL     string      `json:"sql"` // run on the remote
	// Until is the remote's clock when the connections were read: send it
	// back to end only those started by then.
	Until *time.Time `json:"until"`
}

// apiPlanEndConnections is the page's confirmation: the statement and
// how many connections it would end.
func (a *App) apiPlanEndConnections(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	rc, err := a.cfg.Links.LinkConnections(c.Request().Context(), local.ConfigVar, c.Param("name"))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, apiEndConnectionsPlanJSON{
		Link: linkJSON(rc.Link, links.LinkHealth{}), Remote: rc.Link.RemoteConfigVar, Role: rc.Role, Endable: rc.Endable,
		Unread: rc.Unread, SQL: links.EndConnectionsSQL(rc.AppName, rc.Until), Until: timePtr(rc.Until),
	})
}

type apiEndConnectionsRequest struct {
	Confirm *string `json:"confirm"`
	// Until, from the plan, ends only connections started by then; without
	// it, every connection through the link is ended.
	Until *time.Time `json:"until"`
}

type apiEndedConnectionsJSON struct {
	Ended   int    `json:"ended"`
	SQL     string `json:"sql"`
	Message string `json:"message"`
}

// apiEndConnections ends the link's connections on its remote when
// confirm is the link's name; a missing or wrong confirmation ends
// nothing and is audited as refused.
func (a *App) apiEndConnections(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	var in apiEndConnectionsRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	name := c.Param("name")
	var refusal *errs.Error
	switch {
	case in.Confirm == nil:
		refusal = errs.E(errs.Invalid, "Confirm ending the connections: send confirm with the link's name (GET .../connections/end shows what runs). Nothing was ended.").OnField("confirm")
	case *in.Confirm != name:
		refusal = errs.E(errs.Invalid, "The name you typed does not match %q. Nothing was ended.", name).OnField("confirm")
	}
	if refusal != nil {
		a.auditRefusal(c, auth.ActionLinkConnectionsEnd, auth.ActionLinkConnectionsEndRefused, local.ConfigVar+"/"+name, refusal)
		return refusal
	}
	var until time.Time
	if in.Until != nil {
		until = *in.Until
	}
	n, stmt, msg, err := a.endLinkConnections(c, local.ConfigVar, name, until)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, apiEndedConnectionsJSON{Ended: n, SQL: stmt, Message: msg})
}
