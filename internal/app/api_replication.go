package app

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/replication"
)

// Replication through the API: the Replication page's overview and its
// actions, with the page's typed confirmations (confirm equal to the
// subscription's or slot's name, compared exactly) and its preflights.
// Subscriptions and slots are named in the body or the query, never the
// path: their names may hold any character.

type apiTableStatesJSON struct {
	Init     int `json:"init"`
	DataCopy int `json:"data_copy"`
	Finished int `json:"finished"`
	Synced   int `json:"synced"`
	Ready    int `json:"ready"`
	Total    int `json:"total"`
}

type apiEndpointJSON struct {
	Host   string `json:"host"`
	Port   string `json:"port"`
	DBName string `json:"dbname"`
	User   string `json:"user"`
}

type apiSubscriptionJSON struct {
	Name             string             `json:"name"`
	Owner            string             `json:"owner"`
	Enabled          bool               `json:"enabled"`
	Publications     []string           `json:"publications"`
	SlotName         string             `json:"slot_name"`
	ConnInfoReadable bool               `json:"conninfo_readable"`
	Publisher        apiEndpointJSON    `json:"publisher"` // never the password
	PublisherVar     string             `json:"publisher_var"`
	WorkerRunning    bool               `json:"worker_running"`
	WorkerPID        int                `json:"worker_pid"`
	LastMsgReceipt   *time.Time         `json:"last_msg_receipt"`
	LatestEndLSN     string             `json:"latest_end_lsn"`
	LatestEndTime    *time.Time         `json:"latest_end_time"`
	Tables           apiTableStatesJSON `json:"tables"`
	ApplyErrors      *int64             `json:"apply_errors"`
	SyncErrors       *int64             `json:"sync_errors"`
	LagBytes         *int64             `json:"lag_bytes"`
}

type apiPublicationJSON struct {
	Name       string   `json:"name"`
	AllTables  bool     `json:"all_tables"`
	Tables     []string `json:"tables"`
	Operations []string `json:"operations"`
}

type apiSlotJSON struct {
	Name          string `json:"name"`
	Type          string `json:"type"`
	Plugin        string `json:"plugin"`
	Active        bool   `json:"active"`
	ActivePID     int    `json:"active_pid"`
	Temporary     bool   `json:"temporary"`
	RetainedBytes *int64 `json:"retained_bytes"`
	WALStatus     string `json:"wal_status"`
	SafeWALSize   *int64 `json:"safe_wal_size"`
	LagBytes      *int64 `json:"lag_bytes"`
	UsedBy        string `json:"used_by"`
	Orphaned      bool   `json:"orphaned"`
}

type apiReplicationDBJSON struct {
	ConfigVar      string                `json:"config_var"`
	ResourceName   string                `json:"resource_name"`
	Reachable      bool                  `json:"reachable"`
	Error          string                `json:"error"`
	Version        int                   `json:"version"`
	Role           string                `json:"role"`
	Superuser      bool                  `json:"superuser"`
	Replication    bool                  `json:"replication"`
	Subscriptions  []apiSubscriptionJSON `json:"subscriptions"`
	Publications   []apiPublicationJSON  `json:"publications"`
	Slots          []apiSlotJSON         `json:"slots"`
	Notes          []string              `json:"notes"`
	ManageReason   string                `json:"manage_reason"`
	DropSlotReason string                `json:"drop_slot_reason"`
}

type apiWarningJSON struct {
	ConfigVar string `json:"config_var"`
	Kind      string `json:"kind"`
	Object    string `json:"object"`
	Message   string `json:"message"`
}

type apiReplicationJSON struct {
	Databases  []apiReplicationDBJSON `json:"databases"`
	Warnings   []apiWarningJSON       `json:"warnings"`
	ReadAt     time.Time              `json:"read_at"`
	Incomplete bool                   `json:"incomplete"`
}

func subscriptionJSON(s *replication.Subscription) apiSubscriptionJSON {
	t := s.Tables
	return apiSubscriptionJSON{
		Name: s.Name, Owner: s.Owner, Enabled: s.Enabled, Publications: nonNil(s.Publications), SlotName: s.SlotName,
		ConnInfoReadable: s.ConnInfoReadable, Publisher: apiEndpointJSON{Host: s.Publisher.Host, Port: s.Publisher.Port, DBName: s.Publisher.DBName, User: s.Publisher.User},
		PublisherVar: s.PublisherVar, WorkerRunning: s.WorkerRunning, WorkerPID: s.WorkerPID,
		LastMsgReceipt: s.LastMsgReceipt, LatestEndLSN: s.LatestEndLSN, LatestEndTime: s.LatestEndTime,
		Tables:      apiTableStatesJSON{Init: t.Init, DataCopy: t.DataCopy, Finished: t.Finished, Synced: t.Synced, Ready: t.Ready, Total: t.Total()},
		ApplyErrors: s.ApplyErrors, SyncErrors: s.SyncErrors, LagBytes: s.LagBytes,
	}
}

func slotJSON(s *replication.Slot) apiSlotJSON {
	return apiSlotJSON{
		Name: s.Name, Type: s.Type, Plugin: s.Plugin, Active: s.Active, ActivePID: s.ActivePID, Temporary: s.Temporary,
		RetainedBytes: s.RetainedBytes, WALStatus: s.WALStatus, SafeWALSize: s.SafeWALSize, LagBytes: s.LagBytes, UsedBy: s.UsedBy, Orphaned: s.Orphaned,
	}
}

func replicationDBJSON(d *replication.Database) apiReplicationDBJSON {
	out := apiReplicationDBJSON{
		ConfigVar: d.DB.ConfigVar, ResourceName: d.DB.ResourceName, Reachable: d.Reachable, Error: d.Error,
		Version: d.Version, Role: d.Role, Superuser: d.Superuser, Replication: d.Replication,
		Subscriptions: []apiSubscriptionJSON{}, Publications: []apiPublicationJSON{}, Slots: []apiSlotJSON{},
		Notes: nonNil(d.Notes), ManageReason: d.ManageReason, DropSlotReason: d.DropSlotReason,
	}
	for i := range d.Subscriptions {
		out.Subscriptions = append(out.Subscriptions, subscriptionJSON(&d.Subscriptions[i]))
	}
	for _, p := range d.Publications {
		out.Publications = append(out.Publications, apiPublicationJSON{Name: p.Name, AllTables: p.AllTables, Tables: nonNil(p.Tables), Operations: nonNil(p.Operations())})
	}
	for i := range d.Slots {
		out.Slots = append(out.Slots, slotJSON(&d.Slots[i]))
	}
	return out
}

// apiReplication is the Replication page's overview.
func (a *App) apiReplication(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), apiInventoryTimeout)
	defer cancel()
	o := a.cfg.Replication.Overview(ctx)
	out := apiReplicationJSON{Databases: []apiReplicationDBJSON{}, Warnings: []apiWarningJSON{}, ReadAt: o.ReadAt, Incomplete: o.Incomplete}
	for i := range o.Databases {
		out.Databases = append(out.Databases, replicationDBJSON(&o.Databases[i]))
	}
	for _, w := range o.Warnings {
		out.Warnings = append(out.Warnings, apiWarningJSON{ConfigVar: w.ConfigVar, Kind: w.Kind, Object: w.Object, Message: w.Message})
	}
	return writeJSON(c, http.StatusOK, out)
}

// apiReplicationRequest names a subscription or slot, with the typed
// confirmation where the action needs one.
type apiReplicationRequest struct {
	DB      string  `json:"db"`
	Name    string  `json:"name"`
	Confirm *string `json:"confirm"`
}

type apiReplicationResultJSON struct {
	Message      string   `json:"message"`
	SQL          []string `json:"sql"`
	SafePath     bool     `json:"safe_path"`
	OrphanedSlot string   `json:"orphaned_slot"`
	OrphanedOn   string   `json:"orphaned_on"`
}

func replicationResultJSON(r *replication.Result) apiReplicationResultJSON {
	return apiReplicationResultJSON{Message: r.Message, SQL: nonNil(r.SQL), SafePath: r.SafePath, OrphanedSlot: r.OrphanedSlot, OrphanedOn: r.OrphanedOn}
}

// replicationRequest decodes a request naming a subscription or slot.
func replicationRequest(c echo.Context) (apiReplicationRequest, error) {
	var in apiReplicationRequest
	if err := decodeJSON(c, &in); err != nil {
		return in, err
	}
	if in.DB == "" {
		return in, errs.E(errs.Invalid, "Name the database (its config var) in db.").OnField("db")
	}
	return in, nil
}

func (a *App) apiSetSubscriptionEnabled(enable bool) echo.HandlerFunc {
	action := auth.ActionSubscriptionDisable
	if enable {
		action = auth.ActionSubscriptionEnable
	}
	return func(c echo.Context) error {
		in, err := replicationRequest(c)
		if err != nil {
			return err
		}
		t := in.DB + "/" + in.Name
		res, err := a.cfg.Replication.SetEnabled(c.Request().Context(), in.DB, in.Name, enable)
		if err != nil {
			a.auditReplicationFailure(c, action, t, err)
			return err
		}
		a.audit(c, action, t, auth.OutcomeOK, res.Message, sqlText(res.SQL))
		return writeJSON(c, http.StatusOK, replicationResultJSON(res))
	}
}

type apiDropSubscriptionPlanJSON struct {
	Database           string              `json:"database"`
	Subscription       apiSubscriptionJSON `json:"subscription"`
	PublisherKnown     bool                `json:"publisher_known"`
	PublisherReachable bool                `json:"publisher_reachable"`
	Publisher          string              `json:"publisher"`
	SlotFate           string              `json:"slot_fate"`
	// ManageReason, when set, says why the drop would be refused.
	ManageReason string `json:"manage_reason"`
}

func (a *App) apiPlanDropSubscription(c echo.Context) error {
	p, err := a.cfg.Replication.PlanDropSubscription(c.Request().Context(), c.QueryParam("db"), c.QueryParam("name"))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, apiDropSubscriptionPlanJSON{
		Database: p.DB.DB.ConfigVar, Subscription: subscriptionJSON(p.Sub), PublisherKnown: p.PublisherKnown,
		PublisherReachable: p.PublisherReachable, Publisher: p.Publisher, SlotFate: p.SlotFate, ManageReason: p.DB.ManageReason,
	})
}

// confirmOf is the typed confirmation; a request without one is refused
// by the domain's exact comparison (a name is never "").
func confirmOf(in apiReplicationRequest) string {
	if in.Confirm == nil {
		return "\x00" // matches no name
	}
	return *in.Confirm
}

func (a *App) apiDropSubscription(c echo.Context) error {
	in, err := replicationRequest(c)
	if err != nil {
		return err
	}
	t := in.DB + "/" + in.Name
	res, err := a.cfg.Replication.DropSubscription(c.Request().Context(), replication.DropSubscriptionRequest{ConfigVar: in.DB, Name: in.Name, Confirm: confirmOf(in)})
	if err != nil {
		a.auditReplicationFailure(c, auth.ActionSubscriptionDrop, t, err)
		return err
	}
	a.audit(c, auth.ActionSubscriptionDrop, t, auth.OutcomeOK, res.Message, sqlText(res.SQL))
	return writeJSON(c, http.StatusOK, replicationResultJSON(res))
}

type apiDropSlotPlanJSON struct {
	Database string      `json:"database"`
	Slot     apiSlotJSON `json:"slot"`
	// Refusal, when set, says why the slot cannot be dropped.
	Refusal string `json:"refusal"`
}

func (a *App) apiPlanDropSlot(c echo.Context) error {
	p, err := a.cfg.Replication.PlanDropSlot(c.Request().Context(), c.QueryParam("db"), c.QueryParam("name"))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, apiDropSlotPlanJSON{Database: p.DB.DB.ConfigVar, Slot: slotJSON(p.Slot), Refusal: p.Refusal})
}

func (a *App) apiDropSlot(c echo.Context) error {
	in, err := replicationRequest(c)
	if err != nil {
		return err
	}
	t := in.DB + "/" + in.Name
	res, err := a.cfg.Replication.DropSlot(c.Request().Context(), replication.DropSlotRequest{ConfigVar: in.DB, Name: in.Name, Confirm: confirmOf(in)})
	if err != nil {
		a.auditReplicationFailure(c, auth.ActionSlotDrop, t, err)
		return err
	}
	a.audit(c, auth.ActionSlotDrop, t, auth.OutcomeOK, res.Message, sqlText(res.SQL))
	return writeJSON(c, http.StatusOK, replicationResultJSON(res))
}

type apiPreflightJSON struct {
	OK       bool     `json:"ok"`
	Problems []string `json:"problems"`
	SQL      []string `json:"sql"` // passwords masked
}

func preflightJSON(p *replication.Preflight) apiPreflightJSON {
	return apiPreflightJSON{OK: p.OK(), Problems: nonNil(p.Problems), SQL: nonNil(p.AuditSQL)}
}

type apiPublicationRequest struct {
	DB        string   `json:"db"`
	Name      string   `json:"name"`
	AllTables bool     `json:"all_tables"`
	Tables    []string `json:"tables"`
	DryRun    bool     `json:"dry_run"`
}

// preflightRefused is a create whose preflight named problems: refused,
// audited, answered with the problems as details.
func (a *App) preflightRefused(c echo.Context, t string, pf *replication.Preflight) error {
	a.audit(c, auth.ActionReplicationRefused, t, auth.OutcomeRefused, "preflight: "+joinProblems(pf.Problems), "")
	return withDetails(errs.E(errs.Invalid, "The preflight found %d problem(s); nothing was created: %s", len(pf.Problems), joinProblems(pf.Problems)), pf.Problems)
}

// apiCreatePublication checks (dry_run) or creates a publication; the
// create runs only when its preflight is clean, as on the page.
func (a *App) apiCreatePublication(c echo.Context) error {
	var in apiPublicationRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if _, ok := a.cfg.Links.Fleet.Get(in.DB); !ok {
		return errs.E(errs.Invalid, "Name the database (a config var of this fleet) in db.").OnField("db")
	}
	if len(in.Tables) > 1000 {
		return errs.E(errs.Invalid, "Choose at most 1000 tables.").OnField("tables")
	}
	req := replication.PublicationRequest{ConfigVar: in.DB, Name: in.Name, AllTables: in.AllTables, Tables: in.Tables}
	t := in.DB + "/" + in.Name
	if in.DryRun {
		pf, err := a.cfg.Replication.PlanPublication(c.Request().Context(), req)
		if err != nil {
			return err
		}
		return writeJSON(c, http.StatusOK, preflightJSON(pf))
	}
	pf, res, err := a.cfg.Replication.CreatePublication(c.Request().Context(), req)
	if err != nil {
		a.auditReplicationFailure(c, auth.ActionPublicationCreate, t, err)
		return err
	}
	if res == nil {
		return a.preflightRefused(c, t, pf)
	}
	a.audit(c, auth.ActionPublicationCreate, t, auth.OutcomeOK, res.Message, sqlText(res.SQL))
	return writeJSON(c, http.StatusCreated, replicationResultJSON(res))
}

type apiSubscriptionRequest struct {
	Publisher   string `json:"publisher"`
	Subscriber  string `json:"subscriber"`
	Publication string `json:"publication"`
	Name        string `json:"name"`
	CopyData    *bool  `json:"copy_data"` // default true, as the form
	DryRun      bool   `json:"dry_run"`
}

func (a *App) apiCreateSubscription(c echo.Context) error {
	var in apiSubscriptionRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if _, ok := a.cfg.Links.Fleet.Get(in.Publisher); !ok {
		return errs.E(errs.Invalid, "Name the publisher (a config var of this fleet) in publisher.").OnField("publisher")
	}
	if _, ok := a.cfg.Links.Fleet.Get(in.Subscriber); !ok {
		return errs.E(errs.Invalid, "Name the subscriber (a config var of this fleet) in subscriber.").OnField("subscriber")
	}
	req := replication.SubscriptionRequest{PublisherVar: in.Publisher, SubscriberVar: in.Subscriber, Publication: in.Publication, Name: in.Name, CopyData: in.CopyData == nil || *in.CopyData}
	t := in.Subscriber + "/" + in.Name
	if in.DryRun {
		pf, err := a.cfg.Replication.PlanSubscription(c.Request().Context(), req)
		if err != nil {
			return err
		}
		return writeJSON(c, http.StatusOK, preflightJSON(pf))
	}
	pf, res, err := a.cfg.Replication.CreateSubscription(c.Request().Context(), req)
	if err != nil {
		a.auditReplicationFailure(c, auth.ActionSubscriptionCreate, t, err)
		return err
	}
	if res == nil {
		return a.preflightRefused(c, t, pf)
	}
	a.audit(c, auth.ActionSubscriptionCreate, t, auth.OutcomeOK, res.Message, sqlText(res.SQL))
	return writeJSON(c, http.StatusCreated, replicationResultJSON(res))
}
