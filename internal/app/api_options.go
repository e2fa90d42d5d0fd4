package app

import (
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/links"
)

// A link's postgres_fdw options through the API, as in the link page's
// Performance section: any role reads the section; admins preview a
// change (the statement, run in a rolled-back savepoint under the link's
// lock) and apply it, audited as the page audits it.

type apiPerfOptionJSON struct {
	Key     string `json:"key"`
	Default string `json:"default"`
	Kind    string `json:"kind"`  // int, bool, extensions
	Table   bool   `json:"table"` // may be set per foreign table too
	What    string `json:"what"`
	// Value is the server's value, or the default when IsSet is false.
	Value string `json:"value"`
	IsSet bool   `json:"is_set"`
}

type apiTableOptionsJSON struct {
	Table   string            `json:"table"`
	Options map[string]string `json:"options"`
}

type apiTableStatsJSON struct {
	Table        string     `json:"table"`
	LastAnalyzed *time.Time `json:"last_analyzed"` // null: not since the statistics were reset
	Rows         *float64   `json:"rows"`          // null: never analyzed
}

type apiAdviceJSON struct {
	Key    string               `json:"key"`
	Text   string               `json:"text"`
	Option *apiOptionChangeJSON `json:"option"`
}

type apiPerformanceJSON struct {
	Link              apiLinkJSON           `json:"link"`
	Options           []apiPerfOptionJSON   `json:"options"`
	Tables            []apiTableOptionsJSON `json:"tables"` // foreign tables with options of their own, the first 50
	TablesWithOptions int                   `json:"tables_with_options"`
	TableCount        int                   `json:"table_count"`
	NeverAnalyzed     int                   `json:"never_analyzed"`
	LastAnalyzed      *time.Time            `json:"last_analyzed"`
	LargestRows       float64               `json:"largest_rows"`
	Stats             []apiTableStatsJSON   `json:"stats"` // least recently analyzed first, the first 50
	LocalExtensions   []string              `json:"local_extensions"`
	Advice            []apiAdviceJSON       `json:"advice"`
	ReadOnly          bool                  `json:"read_only"`
	AnalyzeTableS     int64                 `json:"analyze_table_s"`
	AnalyzeAllS       int64                 `json:"analyze_all_s"`
}

func performanceJSON(l *links.Link, h links.LinkHealth, p *links.Performance) apiPerformanceJSON {
	out := apiPerformanceJSON{
		Link: linkJSON(l, h), Options: []apiPerfOptionJSON{}, Tables: []apiTableOptionsJSON{}, TablesWithOptions: p.TablesWithOptions,
		TableCount: p.TableCount, NeverAnalyzed: p.NeverAnalyzed, LastAnalyzed: timePtr(p.LastAnalyzed), LargestRows: p.LargestRows,
		Stats: []apiTableStatsJSON{}, LocalExtensions: nonNil(p.LocalExtensions), Advice: []apiAdviceJSON{}, ReadOnly: p.ReadOnly,
		AnalyzeTableS: seconds(p.AnalyzeTable), AnalyzeAllS: seconds(p.AnalyzeAll),
	}
	for _, o := range links.PerfOptions {
		v, set := p.Value(o.Key)
		out.Options = append(out.Options, apiPerfOptionJSON{Key: o.Key, Default: o.Default, Kind: o.Kind, Table: o.Table, What: o.What, Value: v, IsSet: set})
	}
	for _, t := range p.Tables {
		out.Tables = append(out.Tables, apiTableOptionsJSON{Table: t.Table, Options: t.Options})
	}
	for _, s := range p.Stats {
		st := apiTableStatsJSON{Table: s.Table, LastAnalyzed: timePtr(s.LastAnalyzed)}
		if s.Rows >= 0 {
			r := s.Rows
			st.Rows = &r
		}
		out.Stats = append(out.Stats, st)
	}
	for _, ad := range p.Advice {
		out.Advice = append(out.Advice, apiAdviceJSON{Key: ad.Key, Text: ad.Text, Option: optionChangeJSON(ad.Option)})
	}
	return out
}

// apiPerformance is the link page's Performance section.
func (a *App) apiPerformance(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	l, err := a.cfg.Links.GetLink(ctx, local.ConfigVar, c.Param("name"))
	if err != nil {
		return err
	}
	p, err := a.cfg.Links.LinkPerformance(ctx, l)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, performanceJSON(l, a.cfg.Health.Get(local.ConfigVar, l.Name), p))
}

type apiOptionPlanJSON struct {
	Link     apiLinkJSON         `json:"link"`
	Change   apiOptionChangeJSON `json:"change"` // as it will be applied (a value normalised)
	Current  string              `json:"current"`
	IsSet    bool                `json:"is_set"`
	SQL      string              `json:"sql"`
	Warnings []string            `json:"warnings"`
}

type apiOptionChangedJSON struct {
	apiOptionPlanJSON
	Message string `json:"message"`
}

func optionPlanJSON(p *links.OptionPlan) apiOptionPlanJSON {
	return apiOptionPlanJSON{
		Link: linkJSON(p.Link, links.LinkHealth{}), Change: *optionChangeJSON(&p.Change),
		Current: p.Current, IsSet: p.IsSet, SQL: p.SQL, Warnings: nonNil(p.Warnings),
	}
}

// apiPlanOption previews a change (?key=&value=&table=): the statement
// and what the option is now, as the page's preview.
func (a *App) apiPlanOption(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	p, err := a.cfg.Links.PlanOption(c.Request().Context(), local.ConfigVar, c.Param("name"), optionOf(c.QueryParams()))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, optionPlanJSON(p))
}

// apiChangeOption applies a change under the link's lock.
func (a *App) apiChangeOption(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	var in apiOptionChangeJSON
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	name := c.Param("name")
	target := local.ConfigVar + "/" + name
	ch := optionOf(url.Values{"table": {in.Table}, "key": {in.Key}, "value": {in.Value}})
	res, err := a.cfg.Links.ChangeOption(c.Request().Context(), links.OptionRequest{LocalVar: local.ConfigVar, Name: name, Change: ch, Actor: actor(c)})
	if err != nil {
		a.auditRefusal(c, auth.ActionLinkOption, auth.ActionLinkOptionRefused, target, err)
		return err
	}
	detail := optionDetail(res)
	a.audit(c, auth.ActionLinkOption, target, auth.OutcomeOK, detail, res.SQL+";")
	return writeJSON(c, http.StatusOK, apiOptionChangedJSON{apiOptionPlanJSON: optionPlanJSON(res), Message: "Link " + name + ": " + detail + "."})
}
