package app

import (
	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/connect"
	"github.com/pglinks/pglinks/internal/errs"
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
