package app

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/views"
)

// Changes to links through the API: each runs the domain call the page
// runs (with its locks and deadlines), is audited as the page audits it,
// and is confirmed as the page confirms it: a destroy needs the link's
// name typed (confirm) and the fingerprint of the plan it was shown; a
// refresh or an import needs its plan's fingerprint.

// apiCreateRequest is the create form as JSON. tables null (or absent)
// imports every table of remote_schema; copy_enums defaults to true, as
// the form's box is ticked.
type apiCreateRequest struct {
	Remote            string   `json:"remote"`
	Name              string   `json:"name"`
	RemoteSchema      string   `json:"remote_schema"`
	Tables            []string `json:"tables"`
	ReadOnly          bool     `json:"read_only"`
	CopyEnums         *bool    `json:"copy_enums"`
	ConnectTriggerLog bool     `json:"connect_trigger_log"`
	DuplicateOK       bool     `json:"duplicate_ok"`
	DryRun            bool     `json:"dry_run"`
	// PreviewToken, from a dry run, makes the create run exactly the
	// statements the dry run showed.
	PreviewToken string `json:"preview_token"`
	// RedisTables and Writable are a Redis remote's, as its form's: null
	// (or absent) is one strings table named redis, every key.
	RedisTables []apiRedisTableJSON `json:"redis_tables"`
	Writable    bool                `json:"writable"`
}

// apiRedisTableJSON is one foreign table of a Redis link: the keys of a
// type whose names start with key_prefix ("" every key); type defaults
// to string, as on the form.
type apiRedisTableJSON struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	KeyPrefix string `json:"key_prefix"`
}

// redisTables is in as the domain's, nil when none was given.
func (in apiCreateRequest) redisTables() []links.RedisTable {
	if in.RedisTables == nil {
		return nil
	}
	out := []links.RedisTable{}
	for _, t := range in.RedisTables {
		if t.Type == "" {
			t.Type = "string"
		}
		out = append(out, links.RedisTable{Name: t.Name, Type: t.Type, KeyPrefix: t.KeyPrefix})
	}
	return out
}

type apiCreatePreviewJSON struct {
	Name         string   `json:"name"`
	Statements   []string `json:"statements"` // passwords masked
	Tables       []string `json:"tables"`
	PreviewToken string   `json:"preview_token"`
}

type apiCreatedJSON struct {
	Link          apiLinkJSON `json:"link"`
	Tables        int         `json:"tables"`
	CopiedTypes   []string    `json:"copied_types"`
	ExtendedTypes []string    `json:"extended_types"`
	SQL           []string    `json:"sql"` // what ran, passwords masked
}

// withLocalFix adds the inventory's explanation of why links cannot be
// made in local to a refusal about the local database, as the form does.
func (fc fleetChoices) withLocalFix(local string, err error) error {
	fix := fc.localFix(local)
	if errs.FieldOf(err) != "local" || fix == "" || strings.Contains(errs.MessageOf(err), fix) {
		return err
	}
	return &errs.Error{Kind: errs.KindOf(err), Message: errs.MessageOf(err) + " " + fix, Field: "local", Err: err}
}

func (a *App) apiCreateLink(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	var in apiCreateRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.Remote == "" {
		return errs.E(errs.Invalid, "Name the remote database (its config var) in remote.").OnField("remote")
	}
	if len(in.Tables) > maxChosenTables {
		return errs.E(errs.Invalid, "Choose at most %d tables.", maxChosenTables).OnField("tables")
	}
	if in.Name == "" {
		// The one default-name rule, as the form applies it.
		if name, err := a.cfg.Links.DefaultLinkName(c.Request().Context(), in.Remote, local.ConfigVar, in.RemoteSchema); err == nil {
			in.Name = name
		}
	}
	fc := a.createChoices(c.Request().Context())
	if dups := fc.duplicates(local.ConfigVar, in.Remote); len(dups) > 0 && !in.DuplicateOK {
		return withDetails(errs.E(errs.Conflict, "%s already reads %s through %s; send duplicate_ok: true to make another link between them.",
			local.ConfigVar, in.Remote, strings.Join(dups, ", ")).OnField("duplicate_ok"), dups)
	}
	req := links.CreateRequest{
		RemoteVar: in.Remote, LocalVar: local.ConfigVar, Name: in.Name, CopyEnums: in.CopyEnums == nil || *in.CopyEnums,
		RemoteSchema: in.RemoteSchema, Tables: in.Tables, ReadOnly: in.ReadOnly, ConnectTriggerLog: in.ConnectTriggerLog,
		Token: in.PreviewToken, Actor: actor(c), RedisTables: in.redisTables(), Writable: in.Writable,
	}
	if in.DryRun {
		req.Token = ""
		p, err := a.cfg.Links.PreviewCreate(c.Request().Context(), req)
		if err != nil {
			return fc.withLocalFix(local.ConfigVar, err)
		}
		return writeJSON(c, http.StatusOK, apiCreatePreviewJSON{Name: p.Name, Statements: nonNil(p.Statements), Tables: nonNil(p.Tables), PreviewToken: p.Token})
	}
	res, err := a.cfg.Links.CreateLink(c.Request().Context(), req)
	target := local.ConfigVar + "/" + in.Name
	if err != nil {
		a.auditRefusal(c, auth.ActionLinkCreate, auth.ActionLinkCreateRefused, target, err)
		return fc.withLocalFix(local.ConfigVar, err)
	}
	a.audit(c, auth.ActionLinkCreate, local.ConfigVar+"/"+res.Link.Name, auth.OutcomeOK, createdDetail(in.Remote, res), sqlText(res.DDL))
	c.Response().Header().Set(echo.HeaderLocation, apiLinkPath(local.ConfigVar, res.Link.Name))
	return writeJSON(c, http.StatusCreated, apiCreatedJSON{
		Link:   linkJSON(&res.Link, links.LinkHealth{}),
		Tables: res.Tables, CopiedTypes: nonNil(res.CopiedTypes), ExtendedTypes: nonNil(res.ExtendedTypes), SQL: nonNil(res.DDL),
	})
}

// apiLinkPath is a link's API path.
func apiLinkPath(localVar, name string) string {
	return "/api/v1" + views.LinkPath(localVar, name)
}

type apiDestroyPlanJSON struct {
	Link        apiLinkJSON        `json:"link"`
	Tables      []string           `json:"tables"`
	Dependents  []apiDependentJSON `json:"dependents"`
	Blockers    []string           `json:"blockers"`
	Types       []apiTypeFateJSON  `json:"types"`
	SQL         []string           `json:"sql"`
	Fingerprint string             `json:"fingerprint"`
}

func destroyPlanJSON(p *links.DestroyPlan) apiDestroyPlanJSON {
	return apiDestroyPlanJSON{
		Link: linkJSON(&p.Link, links.LinkHealth{}), Tables: nonNil(p.Tables), Dependents: dependentsJSON(p.Dependents),
		Blockers: nonNil(p.Blockers), Types: typeFatesJSON(p.Types), SQL: nonNil(p.SQL), Fingerprint: p.Fingerprint,
	}
}

// planDestroy is the destroy plan of the path's link; a refusal to touch
// something pglinks did not make is audited, as on the page.
func (a *App) planDestroy(c echo.Context) (*links.DestroyPlan, error) {
	local, err := a.localOf(c)
	if err != nil {
		return nil, err
	}
	plan, err := a.cfg.Links.PlanDestroy(c.Request().Context(), local.ConfigVar, c.Param("name"))
	if errs.Is(err, errs.Forbidden) {
		a.audit(c, auth.ActionLinkDestroyRefused, local.ConfigVar+"/"+c.Param("name"), auth.OutcomeRefused, errs.MessageOf(err), "")
	}
	return plan, err
}

func (a *App) apiPlanDestroy(c echo.Context) error {
	plan, err := a.planDestroy(c)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, destroyPlanJSON(plan))
}

type apiDestroyRequest struct {
	Confirm     *string `json:"confirm"`
	Fingerprint string  `json:"fingerprint"`
	DryRun      bool    `json:"dry_run"`
}

type apiDestroyedJSON struct {
	Link       apiLinkJSON        `json:"link"`
	Dependents []apiDependentJSON `json:"dependents"`
	Types      []apiTypeFateJSON  `json:"types"`
	SQL        []string           `json:"sql"`
	Message    string             `json:"message"`
}

// apiDestroyLink destroys the link when confirm is its name and the
// fingerprint is its plan's; a dry run answers the plan. A missing or
// wrong confirmation destroys nothing and is audited as refused.
func (a *App) apiDestroyLink(c echo.Context) error {
	var in apiDestroyRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.DryRun {
		return a.apiPlanDestroy(c)
	}
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	name := c.Param("name")
	target := local.ConfigVar + "/" + name
	if in.Confirm == nil {
		err := errs.E(errs.Invalid, "Confirm the destroy: send confirm with the link's name, and the fingerprint of its plan (GET .../destroy). Nothing was destroyed.").OnField("confirm")
		a.auditRefusal(c, auth.ActionLinkDestroy, auth.ActionLinkDestroyRefused, target, err)
		return err
	}
	res, err := a.cfg.Links.DestroyLink(c.Request().Context(), links.DestroyRequest{
		LocalVar: local.ConfigVar, Name: name, Confirm: *in.Confirm, Fingerprint: in.Fingerprint, Actor: actor(c),
	})
	if err != nil {
		a.auditRefusal(c, auth.ActionLinkDestroy, auth.ActionLinkDestroyRefused, target, err)
		return err
	}
	detail, msg := destroyedDetail(local.ConfigVar, name, res)
	a.audit(c, auth.ActionLinkDestroy, target, auth.OutcomeOK, detail, sqlText(res.DDL))
	a.cfg.Health.Forget(local.ConfigVar, name)
	return writeJSON(c, http.StatusOK, apiDestroyedJSON{
		Link: linkJSON(&res.Link, links.LinkHealth{}), Dependents: dependentsJSON(res.Dependents),
		Types: typeFatesJSON(res.Types), SQL: nonNil(res.DDL), Message: msg,
	})
}

type apiRefreshPlanJSON struct {
	Link        apiLinkJSON        `json:"link"`
	Drift       apiDriftJSON       `json:"drift"`
	SQL         []string           `json:"sql"`
	Dependents  []apiDependentJSON `json:"dependents"`
	Blockers    []string           `json:"blockers"`
	Summary     string             `json:"summary"`
	Empty       bool               `json:"empty"`
	Fingerprint string             `json:"fingerprint"`
}

func (a *App) apiPlanRefresh(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	p, err := a.cfg.Links.PlanRefresh(c.Request().Context(), local.ConfigVar, c.Param("name"))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, apiRefreshPlanJSON{
		Link: linkJSON(p.Link, links.LinkHealth{}), Drift: driftJSON(p.Drift), SQL: nonNil(p.SQL),
		Dependents: dependentsJSON(p.Dependents), Blockers: nonNil(p.Blockers), Summary: p.Summary.String(), Empty: p.Empty(), Fingerprint: p.Fingerprint,
	})
}

// apiFingerprintRequest confirms a plan by its fingerprint.
type apiFingerprintRequest struct {
	Fingerprint string `json:"fingerprint"`
}

type apiRefreshedJSON struct {
	Summary    string             `json:"summary"`
	Dependents []apiDependentJSON `json:"dependents"`
	SQL        []string           `json:"sql"`
}

func (a *App) apiRefreshLink(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	var in apiFingerprintRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	name := c.Param("name")
	target := local.ConfigVar + "/" + name
	res, err := a.cfg.Links.RefreshLink(c.Request().Context(), links.RefreshRequest{LocalVar: local.ConfigVar, Name: name, Fingerprint: in.Fingerprint, Actor: actor(c)})
	if err != nil {
		a.auditRefusal(c, auth.ActionLinkRefresh, auth.ActionLinkRefreshRefused, target, err)
		return err
	}
	a.audit(c, auth.ActionLinkRefresh, target, auth.OutcomeOK, refreshedDetail(res), sqlText(res.DDL))
	return writeJSON(c, http.StatusOK, apiRefreshedJSON{Summary: res.Summary.String(), Dependents: dependentsJSON(res.Plan.Dependents), SQL: nonNil(res.DDL)})
}

type apiImportPlanJSON struct {
	Tables        []string `json:"tables"`
	SQL           []string `json:"sql"`
	CopiedTypes   []string `json:"copied_types"`
	ExtendedTypes []string `json:"extended_types"`
	Blockers      []string `json:"blockers"`
	Fingerprint   string   `json:"fingerprint"`
}

type apiImportJSON struct {
	Link apiLinkJSON `json:"link"`
	// Importable are the remote tables an import may add (a LIMIT TO
	// link's others); empty for a link of every table.
	Importable []string `json:"importable"`
	// Unreadable says why the remote's tables could not be read.
	Unreadable string             `json:"unreadable"`
	Plan       *apiImportPlanJSON `json:"plan"`
}

func importPlanJSON(p *links.ImportPlan) *apiImportPlanJSON {
	return &apiImportPlanJSON{Tables: nonNil(p.Tables), SQL: nonNil(p.SQL), CopiedTypes: nonNil(p.CopiedTypes), ExtendedTypes: nonNil(p.ExtendedTypes), Blockers: nonNil(p.Blockers), Fingerprint: p.Fingerprint}
}

// apiPlanImport lists what a LIMIT TO link may import and, for the
// tables given as ?table=...&table=..., the plan that imports them.
func (a *App) apiPlanImport(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	l, err := a.cfg.Links.GetLink(ctx, local.ConfigVar, c.Param("name"))
	if err != nil {
		return err
	}
	if l.IsRedis() { // as the page: a Redis has no catalog to import from
		return links.DoesNotApply(l, "Importing tables")
	}
	out := apiImportJSON{Link: linkJSON(l, a.cfg.Health.Get(local.ConfigVar, l.Name)), Importable: []string{}}
	if l.Tables != nil {
		d, err := a.cfg.Links.LinkDrift(ctx, local.ConfigVar, l.Name)
		switch {
		case err != nil:
			out.Unreadable = errs.MessageOf(err)
		case d.Error != "":
			out.Unreadable = d.Error
		default:
			out.Importable = nonNil(links.Importable(l, d))
		}
	}
	if chosen := c.QueryParams()["table"]; len(chosen) > 0 {
		p, err := a.cfg.Links.PlanImport(ctx, local.ConfigVar, l.Name, chosen)
		if err != nil {
			return err
		}
		out.Plan = importPlanJSON(p)
	}
	return writeJSON(c, http.StatusOK, out)
}

type apiImportRequest struct {
	Tables      []string `json:"tables"`
	Fingerprint string   `json:"fingerprint"`
}

type apiImportedJSON struct {
	Tables      []string `json:"tables"`
	CopiedTypes []string `json:"copied_types"`
	SQL         []string `json:"sql"`
}

func (a *App) apiImportTables(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	var in apiImportRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if len(in.Tables) > maxChosenTables {
		return errs.E(errs.Invalid, "Choose at most %d tables.", maxChosenTables).OnField("tables")
	}
	name := c.Param("name")
	target := local.ConfigVar + "/" + name
	res, err := a.cfg.Links.ImportTables(c.Request().Context(), links.ImportRequest{LocalVar: local.ConfigVar, Name: name, Tables: in.Tables, Fingerprint: in.Fingerprint, Actor: actor(c)})
	if err != nil {
		a.auditRefusal(c, auth.ActionLinkImportTables, auth.ActionLinkImportRefused, target, err)
		return err
	}
	a.audit(c, auth.ActionLinkImportTables, target, auth.OutcomeOK, importedDetail(res), sqlText(res.DDL))
	return writeJSON(c, http.StatusOK, apiImportedJSON{Tables: nonNil(res.Plan.Tables), CopiedTypes: nonNil(res.Plan.CopiedTypes), SQL: nonNil(res.DDL)})
}

type apiRepairPlanJSON struct {
	Link        apiLinkJSON   `json:"link"`
	Stale       *apiStaleJSON `json:"stale"`
	SQL         []string      `json:"sql"` // passwords masked
	Fingerprint string        `json:"fingerprint"`
}

func (a *App) apiPlanRepair(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	p, err := a.cfg.Links.PlanRepair(c.Request().Context(), local.ConfigVar, c.Param("name"))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, apiRepairPlanJSON{Link: linkJSON(p.Link, a.cfg.Health.Get(local.ConfigVar, p.Link.Name)), Stale: staleJSON(p.Link.Stale), SQL: nonNil(p.DDL), Fingerprint: p.Fingerprint})
}

type apiRepairedJSON struct {
	Stale  *apiStaleJSON `json:"stale"` // what was repaired
	SQL    []string      `json:"sql"`
	Health apiHealthJSON `json:"health"` // a probe right after the repair
}

// apiRepairLink repairs a stale link, as the page's Repair button: the
// comparison is made again inside the repair's transaction.
func (a *App) apiRepairLink(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	var in struct {
		Fingerprint string `json:"fingerprint"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	name := c.Param("name")
	target := local.ConfigVar + "/" + name
	ctx, cancel := context.WithTimeout(c.Request().Context(), a.cfg.Fleet.Deadlines.Repair)
	defer cancel()
	res, err := a.cfg.Links.RepairLink(ctx, links.RepairRequest{LocalVar: local.ConfigVar, Name: name, Fingerprint: in.Fingerprint, Actor: actor(c)})
	if err != nil {
		a.auditRefusal(c, auth.ActionLinkRepair, auth.ActionLinkRepairRefused, target, err)
		return err
	}
	a.cfg.Health.Put(local.ConfigVar, name, res.Health)
	a.audit(c, auth.ActionLinkRepair, target, auth.OutcomeOK, repairedDetail(res), sqlText(res.DDL))
	return writeJSON(c, http.StatusOK, apiRepairedJSON{Stale: staleJSON(res.Link.Stale), SQL: nonNil(res.DDL), Health: healthJSON(res.Health)})
}

// apiDriftJSON is a link's drift from its remote.
type apiDriftJSON struct {
	CheckedAt  *time.Time          `json:"checked_at"`
	Error      string              `json:"error"`
	InStep     bool                `json:"in_step"`
	NewTables  []string            `json:"new_tables"`
	Available  []string            `json:"available"`
	GoneTables []string            `json:"gone_tables"`
	Tables     []apiTableDriftJSON `json:"tables"`
	Enums      []apiEnumDriftJSON  `json:"enums"`
}

type apiTableDriftJSON struct {
	Table       string              `json:"table"`
	RemoteTable string              `json:"remote_table"`
	Added       []apiColumnJSON     `json:"added"`
	Gone        []apiColumnJSON     `json:"gone"`
	TypeChanged []apiTypeChangeJSON `json:"type_changed"`
}

type apiTypeChangeJSON struct {
	Column     string `json:"column"`
	LocalType  string `json:"local_type"`
	RemoteType string `json:"remote_type"`
}

type apiEnumDriftJSON struct {
	Type       string   `json:"type"`
	NewLabels  []string `json:"new_labels"`
	GoneLabels []string `json:"gone_labels"`
	RemoteGone bool     `json:"remote_gone"`
}

func driftJSON(d *links.Drift) apiDriftJSON {
	if d == nil {
		return apiDriftJSON{NewTables: []string{}, Available: []string{}, GoneTables: []string{}, Tables: []apiTableDriftJSON{}, Enums: []apiEnumDriftJSON{}}
	}
	out := apiDriftJSON{
		CheckedAt: timePtr(d.CheckedAt), Error: d.Error, InStep: d.InStep(),
		NewTables: nonNil(d.NewTables), Available: nonNil(d.Available), GoneTables: nonNil(d.GoneTables),
		Tables: []apiTableDriftJSON{}, Enums: []apiEnumDriftJSON{},
	}
	for _, t := range d.Tables {
		td := apiTableDriftJSON{Table: t.Table, RemoteTable: t.RemoteTable, Added: []apiColumnJSON{}, Gone: []apiColumnJSON{}, TypeChanged: []apiTypeChangeJSON{}}
		for _, c := range t.Added {
			td.Added = append(td.Added, apiColumnJSON{Name: c.Name, Type: c.Type, NotNull: c.NotNull})
		}
		for _, c := range t.Gone {
			td.Gone = append(td.Gone, apiColumnJSON{Name: c.Name, Type: c.Type, NotNull: c.NotNull})
		}
		for _, tc := range t.TypeChanged {
			td.TypeChanged = append(td.TypeChanged, apiTypeChangeJSON{Column: tc.Column, LocalType: tc.LocalType, RemoteType: tc.RemoteType})
		}
		out.Tables = append(out.Tables, td)
	}
	for _, e := range d.Enums {
		out.Enums = append(out.Enums, apiEnumDriftJSON{Type: e.Type, NewLabels: nonNil(e.NewLabels), GoneLabels: nonNil(e.GoneLabels), RemoteGone: e.RemoteGone})
	}
	return out
}
