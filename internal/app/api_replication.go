package app

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/replication"
	"github.com/pglinks/pglinks/views"
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
	Name             string          `json:"name"`
	Owner            string          `json:"owner"`
	Enabled          bool            `json:"enabled"`
	Publications     []string        `json:"publications"`
	SlotName         string          `json:"slot_name"`
	ConnInfoReadable bool            `json:"conninfo_readable"`
	Publisher        apiEndpointJSON `json:"publisher"` // never the password
	PublisherVar     string          `json:"publisher_var"`
	PublisherShown   string          `json:"publisher_shown"`
	SlotOn           string          `json:"slot_on"`
	// State is what the subscription is doing, transitions included
	// (starting, stopping); StateSince since when, where pglinks knows.
	State            string             `json:"state"`
	StateSince       *time.Time         `json:"state_since"`
	WorkerRunning    bool               `json:"worker_running"`
	WorkerPID        int                `json:"worker_pid"`
	LastMsgReceipt   *time.Time         `json:"last_msg_receipt"`
	LatestEndLSN     string             `json:"latest_end_lsn"`
	LatestEndTime    *time.Time         `json:"latest_end_time"`
	Tables           apiTableStatesJSON `json:"tables"`
	ApplyErrors      *int64             `json:"apply_errors"`
	SyncErrors       *int64             `json:"sync_errors"`
	PasswordRequired *bool              `json:"password_required"` // 16 and later
	RunAsOwner       *bool              `json:"run_as_owner"`      // 16 and later
	Failover         *bool              `json:"failover"`          // 17 and later
	LagBytes         *int64             `json:"lag_bytes"`
}

type apiPublicationJSON struct {
	Name       string   `json:"name"`
	AllTables  bool     `json:"all_tables"`
	Tables     []string `json:"tables"`
	Operations []string `json:"operations"`
}

type apiSlotUserJSON struct {
	ConfigVar    string `json:"config_var"`
	Subscription string `json:"subscription"`
	SyncWorker   bool   `json:"sync_worker"`
}

type apiSlotJSON struct {
	Name               string           `json:"name"`
	Type               string           `json:"type"`
	Plugin             string           `json:"plugin"`
	Active             bool             `json:"active"`
	ActivePID          int              `json:"active_pid"`
	Temporary          bool             `json:"temporary"`
	RetainedBytes      *int64           `json:"retained_bytes"`
	WALStatus          string           `json:"wal_status"`
	SafeWALSize        *int64           `json:"safe_wal_size"`
	LagBytes           *int64           `json:"lag_bytes"`
	Conflicting        *bool            `json:"conflicting"` // 16 and later
	InvalidationReason string           `json:"invalidation_reason"`
	Failover           bool             `json:"failover"`
	Synced             bool             `json:"synced"`
	InactiveSince      *time.Time       `json:"inactive_since"`
	InactiveSinceSeen  bool             `json:"inactive_since_seen"`
	InvalidatesAt      *time.Time       `json:"invalidates_at"`
	UsedBy             *apiSlotUserJSON `json:"used_by"`
	Orphaned           bool             `json:"orphaned"`
	State              string           `json:"state"`
	DropOffered        bool             `json:"drop_offered"`
}

type apiReplicationDBJSON struct {
	ConfigVar    string `json:"config_var"`
	ResourceName string `json:"resource_name"`
	Reachable    bool   `json:"reachable"`
	Error        string `json:"error"`
	Version      int    `json:"version"`
	Role         string `json:"role"`
	Superuser    bool   `json:"superuser"`
	Replication  bool   `json:"replication"`
	// MaxSlotWALKeep is max_slot_wal_keep_size in bytes (null:
	// unlimited); IdleSlotTimeoutSeconds idle_replication_slot_timeout
	// (null before PostgreSQL 18, 0 when off).
	MaxSlotWALKeep         *int64                `json:"max_slot_wal_keep_bytes"`
	IdleSlotTimeoutSeconds *int64                `json:"idle_slot_timeout_s"`
	Subscriptions          []apiSubscriptionJSON `json:"subscriptions"`
	Publications           []apiPublicationJSON  `json:"publications"`
	Slots                  []apiSlotJSON         `json:"slots"`
	Notes                  []string              `json:"notes"`
	ManageReason           string                `json:"manage_reason"`
	DropSlotReason         string                `json:"drop_slot_reason"`
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
	// OrphanAfterSeconds is how long a slot must be inactive before it is
	// idle: a problem, and offered for dropping.
	OrphanAfterSeconds int64 `json:"orphan_after_s"`
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

func subscriptionJSON(s *replication.Subscription) apiSubscriptionJSON {
	t := s.Tables
	return apiSubscriptionJSON{
		Name: s.Name, Owner: s.Owner, Enabled: s.Enabled, Publications: nonNil(s.Publications), SlotName: s.SlotName,
		ConnInfoReadable: s.ConnInfoReadable, Publisher: apiEndpointJSON{Host: s.Publisher.Host, Port: s.Publisher.Port, DBName: s.Publisher.DBName, User: s.Publisher.User},
		PublisherVar: s.PublisherVar, PublisherShown: s.PublisherShown, SlotOn: s.SlotOn,
		State: string(s.State), StateSince: timePtr(s.StateSince), WorkerRunning: s.WorkerRunning, WorkerPID: s.WorkerPID,
		LastMsgReceipt: s.LastMsgReceipt, LatestEndLSN: s.LatestEndLSN, LatestEndTime: s.LatestEndTime,
		Tables:      apiTableStatesJSON{Init: t.Init, DataCopy: t.DataCopy, Finished: t.Finished, Synced: t.Synced, Ready: t.Ready, Total: t.Total()},
		ApplyErrors: s.ApplyErrors, SyncErrors: s.SyncErrors, PasswordRequired: s.PasswordRequired, RunAsOwner: s.RunAsOwner, Failover: s.Failover,
		LagBytes: s.LagBytes,
	}
}

func slotJSON(s *replication.Slot) apiSlotJSON {
	out := apiSlotJSON{
		Name: s.Name, Type: s.Type, Plugin: s.Plugin, Active: s.Active, ActivePID: s.ActivePID, Temporary: s.Temporary,
		RetainedBytes: s.RetainedBytes, WALStatus: s.WALStatus, SafeWALSize: s.SafeWALSize, LagBytes: s.LagBytes,
		Conflicting: s.Conflicting, InvalidationReason: s.InvalidationReason, Failover: s.Failover, Synced: s.Synced,
		InactiveSince: s.InactiveSince, InactiveSinceSeen: s.InactiveSinceSeen, InvalidatesAt: s.InvalidatesAt,
		Orphaned: s.Orphaned, State: string(s.State), DropOffered: s.DropOffered(),
	}
	if u := s.UsedBy; u != nil {
		out.UsedBy = &apiSlotUserJSON{ConfigVar: u.ConfigVar, Subscription: u.Subscription, SyncWorker: u.SyncWorker}
	}
	return out
}

func replicationDBJSON(d *replication.Database) apiReplicationDBJSON {
	out := apiReplicationDBJSON{
		ConfigVar: d.DB.ConfigVar, ResourceName: d.DB.ResourceName, Reachable: d.Reachable, Error: d.Error,
		Version: d.Version, Role: d.Role, Superuser: d.Superuser, Replication: d.Replication, MaxSlotWALKeep: d.MaxSlotWALKeep,
		Subscriptions: []apiSubscriptionJSON{}, Publications: []apiPublicationJSON{}, Slots: []apiSlotJSON{},
		Notes: nonNil(d.Notes), ManageReason: d.ManageReason, DropSlotReason: d.DropSlotReason,
	}
	if t := d.IdleSlotTimeout; t != nil {
		s := seconds(*t)
		out.IdleSlotTimeoutSeconds = &s
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

// apiReplication is the Replication page's overview, read now, with the
// page's search (q): the databases it matches, and their warnings.
func (a *App) apiReplication(c echo.Context) error {
	query := strings.TrimSpace(c.QueryParam("q"))
	if len(query) > 200 {
		return errs.E(errs.Invalid, "The search is longer than 200 characters.").OnField("q")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), a.cfg.Fleet.Deadlines.FleetPage)
	defer cancel()
	o := a.cfg.Replication.Overview(ctx)
	out := apiReplicationJSON{Databases: []apiReplicationDBJSON{}, Warnings: []apiWarningJSON{}, ReadAt: o.ReadAt, Incomplete: o.Incomplete,
		OrphanAfterSeconds: seconds(a.cfg.Replication.OrphanAfter)}
	shown := map[string]bool{}
	for _, d := range o.Match(query) {
		shown[d.DB.ConfigVar] = true
		out.Databases = append(out.Databases, replicationDBJSON(&d))
	}
	for _, w := range o.Warnings {
		if shown[w.ConfigVar] {
			out.Warnings = append(out.Warnings, apiWarningJSON{ConfigVar: w.ConfigVar, Kind: w.Kind, Object: w.Object, Message: w.Message})
		}
	}
	return writeJSON(c, http.StatusOK, out)
}

// apiReplicationRequest names a subscription or slot, with the typed
// confirmation where the action needs one.
type apiReplicationRequest struct {
	DB      string  `json:"db"`
	Name    string  `json:"name"`
	Confirm *string `json:"confirm"`
	// Fingerprint, on a subscription drop, is the plan's: the drop is
	// refused when the subscription's slot or publisher changed since.
	Fingerprint string `json:"fingerprint"`
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
	// PlainSQL is the plain drop (it drops the slot on the publisher too),
	// null when it will not run; SafeSQL the path taken when the
	// publisher does not answer, null when the subscription has no slot.
	PlainSQL                []string `json:"plain_sql"`
	SafeSQL                 []string `json:"safe_sql"`
	StatementTimeoutSeconds int64    `json:"statement_timeout_s"`
	// ManageReason, when set, says why the drop would be refused.
	ManageReason string `json:"manage_reason"`
	Fingerprint  string `json:"fingerprint"`
}

func (a *App) apiPlanDropSubscription(c echo.Context) error {
	p, err := a.cfg.Replication.PlanDropSubscription(c.Request().Context(), c.QueryParam("db"), c.QueryParam("name"))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, apiDropSubscriptionPlanJSON{
		Database: p.DB.DB.ConfigVar, Subscription: subscriptionJSON(p.Sub), PublisherKnown: p.PublisherKnown,
		PublisherReachable: p.PublisherReachable, Publisher: p.Publisher, SlotFate: p.SlotFate,
		PlainSQL: p.PlainSQL, SafeSQL: p.SafeSQL, StatementTimeoutSeconds: seconds(p.StatementTimeout), ManageReason: p.DB.ManageReason,
		Fingerprint: p.Fingerprint,
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
	res, err := a.cfg.Replication.DropSubscription(c.Request().Context(), replication.DropSubscriptionRequest{ConfigVar: in.DB, Name: in.Name, Confirm: confirmOf(in), Fingerprint: in.Fingerprint})
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
	// Refusal, when set, says why the slot cannot be dropped now.
	Refusal string `json:"refusal"`
	// Breaks names the fleet subscription the drop breaks, "" when none.
	Breaks string `json:"breaks"`
	// Unread names the fleet databases that could not be read: a
	// subscription there may use the slot.
	Unread             []string  `json:"unread"`
	ReadAt             time.Time `json:"read_at"`
	OrphanAfterSeconds int64     `json:"orphan_after_s"`
	SQL                []string  `json:"sql"`
	Fingerprint        string    `json:"fingerprint"`
}

func (a *App) apiPlanDropSlot(c echo.Context) error {
	p, err := a.cfg.Replication.PlanDropSlot(c.Request().Context(), c.QueryParam("db"), c.QueryParam("name"))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, apiDropSlotPlanJSON{
		Database: p.DB.DB.ConfigVar, Slot: slotJSON(p.Slot), Refusal: p.Refusal, Breaks: p.Slot.Breaks(),
		Unread: nonNil(p.Unread), ReadAt: p.At, OrphanAfterSeconds: seconds(p.OrphanAfter), SQL: nonNil(p.SQL),
		Fingerprint: p.Fingerprint,
	})
}

func (a *App) apiDropSlot(c echo.Context) error {
	in, err := replicationRequest(c)
	if err != nil {
		return err
	}
	t := in.DB + "/" + in.Name
	res, err := a.cfg.Replication.DropSlot(c.Request().Context(), replication.DropSlotRequest{ConfigVar: in.DB, Name: in.Name, Confirm: confirmOf(in), Fingerprint: in.Fingerprint})
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
	return withDetails(errs.E(errs.Invalid, "The preflight found %s; nothing was created: %s", views.Plural(len(pf.Problems), "problem", "problems"), joinProblems(pf.Problems)), pf.Problems)
}

// apiCreatePublication checks (dry_run) or creates a publication; the
// create runs only when its preflight is clean, as on the page.
func (a *App) apiCreatePublication(c echo.Context) error {
	var in apiPublicationRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if _, err := a.cfg.Fleet.Lookup(in.DB); err != nil {
		return errs.E(errs.Invalid, "Name the database (a config var of this fleet) in db: %s", errs.MessageOf(err)).OnField("db")
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
	if _, err := a.cfg.Fleet.Lookup(in.Publisher); err != nil {
		return errs.E(errs.Invalid, "Name the publisher (a config var of this fleet) in publisher: %s", errs.MessageOf(err)).OnField("publisher")
	}
	if _, err := a.cfg.Fleet.Lookup(in.Subscriber); err != nil {
		return errs.E(errs.Invalid, "Name the subscriber (a config var of this fleet) in subscriber: %s", errs.MessageOf(err)).OnField("subscriber")
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
