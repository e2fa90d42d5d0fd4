package app

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/views"
)

// Reads of the API: the inventory's cards, a database's links (the
// `pg:links` listing) and one link with its foreign tables. Viewers'
// tokens may call them, as viewers see these pages.

// Page sizes of the lists.
const (
	apiDatabasesPerPage    = 100
	apiMaxDatabasesPerPage = 500
	apiMaxTablesPerPage    = 500
)

// pageParams reads page and per_page (1-based; per_page from 1 to max).
func pageParams(c echo.Context, perPage, maxPerPage int) (page, per int, err error) {
	page, per = 1, perPage
	if v := c.QueryParam("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			return 0, 0, errs.E(errs.Invalid, "The page number %q is not a whole number from 1 up.", v).OnField("page")
		}
		page = n
	}
	if v := c.QueryParam("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPerPage {
			return 0, 0, errs.E(errs.Invalid, "per_page %q is not a whole number from 1 to %d.", v, maxPerPage).OnField("per_page")
		}
		per = n
	}
	return page, per, nil
}

type apiDatabasesJSON struct {
	Databases []apiDatabaseJSON `json:"databases"`
	apiPageJSON
}

// apiDatabases lists the fleet's cards, q filtering as the inventory's
// search does.
func (a *App) apiDatabases(c echo.Context) error {
	query := strings.TrimSpace(c.QueryParam("q"))
	if len(query) > 200 {
		return errs.E(errs.Invalid, "The search is longer than 200 characters.").OnField("q")
	}
	page, per, err := pageParams(c, apiDatabasesPerPage, apiMaxDatabasesPerPage)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), a.cfg.Fleet.Deadlines.FleetPage)
	defer cancel()
	all := a.cfg.Links.Inventory(ctx)
	matching := links.MatchInventory(all, query)
	from := min((page-1)*per, len(matching))
	dbs := matching[from:min(from+per, len(matching))]
	health, readBy := a.cfg.Health.Lookup(dbs), links.ReadBy(all)
	out := apiDatabasesJSON{Databases: []apiDatabaseJSON{}, apiPageJSON: pageOf(page, per, len(matching))}
	for _, st := range dbs {
		out.Databases = append(out.Databases, databaseJSON(st, health, readBy[st.DB.ConfigVar]))
	}
	return writeJSON(c, http.StatusOK, out)
}

// databaseStatus is the path's database's card, with the inventory it
// came from (for "read by").
func (a *App) databaseStatus(c echo.Context) (links.DatabaseStatus, []links.DatabaseStatus, error) {
	d, err := a.localOf(c)
	if err != nil {
		return links.DatabaseStatus{}, nil, err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), a.cfg.Fleet.Deadlines.FleetPage)
	defer cancel()
	all := a.cfg.Links.Inventory(ctx)
	for _, st := range all {
		if st.DB.ConfigVar == d.ConfigVar {
			return st, all, nil
		}
	}
	return links.DatabaseStatus{}, nil, errs.E(errs.NotFound, "There is no database %q in this fleet.", d.ConfigVar)
}

func (a *App) apiDatabase(c echo.Context) error {
	st, all, err := a.databaseStatus(c)
	if err != nil {
		return err
	}
	one := []links.DatabaseStatus{st}
	return writeJSON(c, http.StatusOK, databaseJSON(st, a.cfg.Health.Lookup(one), links.ReadBy(all)[st.DB.ConfigVar]))
}

// apiRefreshDatabase reads one card again now, as its Refresh button.
func (a *App) apiRefreshDatabase(c echo.Context) error {
	st, err := a.cfg.Links.RefreshStatus(c.Request().Context(), c.Param("db"))
	if err != nil {
		return err
	}
	one := []links.DatabaseStatus{st}
	all := a.cfg.Links.CachedInventory()
	return writeJSON(c, http.StatusOK, databaseJSON(st, a.cfg.Health.Lookup(one), links.ReadBy(all)[st.DB.ConfigVar]))
}

// apiDatabaseRefJSON is what the listing says of its database, as the
// heading of `pg:links`: which one, and why there may be no links.
type apiDatabaseRefJSON struct {
	ConfigVar    string         `json:"config_var"`
	ResourceName string         `json:"resource_name"`
	Reachable    bool           `json:"reachable"`
	Pending      bool           `json:"pending"`
	Error        string         `json:"error"`
	Support      apiSupportJSON `json:"support"`
}

type apiLinksJSON struct {
	Database apiDatabaseRefJSON `json:"database"`
	Links    []apiLinkJSON      `json:"links"`
}

// apiLinks is `pg:links` for one database.
func (a *App) apiLinks(c echo.Context) error {
	st, _, err := a.databaseStatus(c)
	if err != nil {
		return err
	}
	card := databaseJSON(st, a.cfg.Health.Lookup([]links.DatabaseStatus{st}), nil)
	return writeJSON(c, http.StatusOK, apiLinksJSON{
		Database: apiDatabaseRefJSON{ConfigVar: card.ConfigVar, ResourceName: card.ResourceName, Reachable: card.Reachable, Pending: card.Pending, Error: card.Error, Support: card.Support},
		Links:    card.Links,
	})
}

type apiLinkPageJSON struct {
	Link   apiLinkJSON           `json:"link"`
	Filter string                `json:"filter"`
	Tables []apiForeignTableJSON `json:"tables"`
	apiPageJSON
}

// apiLink is a link with one page of its foreign tables (the `\det`),
// filtered by name with q, as the link page.
func (a *App) apiLink(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	page, per, err := pageParams(c, views.TablesPerPage, apiMaxTablesPerPage)
	if err != nil {
		return err
	}
	filter := strings.TrimSpace(c.QueryParam("q"))
	l, tp, err := a.cfg.Links.LinkPage(c.Request().Context(), local.ConfigVar, c.Param("name"), filter, (page-1)*per, per)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, apiLinkPageJSON{
		Link:   linkJSON(l, a.cfg.Health.Get(local.ConfigVar, l.Name)),
		Filter: tp.Filter, Tables: foreignTablesJSON(tp.Tables), apiPageJSON: pageOf(page, per, tp.Matches),
	})
}

type apiHealthResultJSON struct {
	Health apiHealthJSON `json:"health"`
}

// apiCheckLink probes a link now ("Check now"); viewers may, as on the
// page, and get a result a few seconds old rather than a new probe.
func (a *App) apiCheckLink(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	h, err := a.cfg.Health.Check(c.Request().Context(), local.ConfigVar, c.Param("name"), apiCaller(c).User.IsAdmin())
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, apiHealthResultJSON{Health: healthJSON(h)})
}
