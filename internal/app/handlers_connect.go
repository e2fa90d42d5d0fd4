package app

import (
	"context"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/connect"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/views"
)

// connectDefaults marks the remote's Heroku Connect schemas in the create
// form (from its last status read) and, when one is chosen, defaults the
// form to its mapped tables and a read-only link.
func (a *App) connectDefaults(fc fleetChoices, f *views.CreateForm) {
	f.Connect = fc.support[f.Remote].Connect
	if f.Catalog != nil && f.Catalog.Schema != "" {
		f.ApplyConnectDefaults()
	}
}

// linkConnect reads the sync state of a link's remote schema when the
// remote's last status read found it to be a Heroku Connect schema; nil
// otherwise. It reads the remote with pglinks' own connection, bounded.
func (a *App) linkConnect(c echo.Context, l *links.Link) *views.ConnectSection {
	if a.cfg.Links.ConnectSchema(l.RemoteConfigVar, l.RemoteSchema) == nil {
		return nil
	}
	sec := &views.ConnectSection{RemoteVar: l.RemoteConfigVar, Schema: l.RemoteSchema}
	st, err := connect.ReadFleetSyncState(c.Request().Context(), a.cfg.Fleet, l.RemoteConfigVar, l.RemoteSchema, l.Tables, connect.DefaultOptions)
	switch {
	case err != nil && st == nil:
		sec.Err = errs.MessageOf(err)
	case st == nil:
		sec.Err = "the schema is no longer a Heroku Connect schema on " + l.RemoteConfigVar + "."
	default:
		sec.State = st
	}
	return sec
}

// connectMessage shows one stored message (_hc_err of a mapped table's
// row, sf_message of a _trigger_log entry) of the Connect schema a link
// reads, whole up to connect.MessageBytes, for viewers as for admins.
func (a *App) connectMessage(c echo.Context) error {
	local, err := a.cfg.Fleet.Lookup(c.Param("db"))
	if err != nil {
		return err
	}
	table, id := c.QueryParam("table"), c.QueryParam("id")
	if table == "" || len(table) > fleet.MaxIdentLen || id == "" || len(id) > 4*connect.ShortChars ||
		!utf8.ValidString(table+id) || strings.ContainsRune(table+id, 0) {
		return errs.E(errs.NotFound, "There is no such message: the address names no table and row.")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), a.cfg.Fleet.Deadlines.ConnectSync)
	defer cancel()
	l, err := a.cfg.Links.GetLink(ctx, local.ConfigVar, c.Param("name"))
	if err != nil {
		return err
	}
	// ReadMessage finds out afresh whether the schema is Connect's.
	m, err := connect.ReadFleetMessage(ctx, a.cfg.Fleet, l.RemoteConfigVar, l.RemoteSchema, l.Tables, table, id, connect.DefaultOptions)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.ConnectMessageView(views.ConnectMessagePage{
		Page: a.page(c, "Message: "+l.Name, "databases"), Local: local, Link: l, Schema: l.RemoteSchema, Message: m}))
}
