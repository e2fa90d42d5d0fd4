package links

import (
	"context"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/connect"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// readConnect finds the Heroku Connect schemas of d (one catalog query,
// part of every status read, so pages ask the snapshot, not the database).
func (s *Service) readConnect(ctx context.Context, conn *pgx.Conn, d *fleet.Database) []connect.Schema {
	found, err := connect.Detect(ctx, conn, "")
	if err != nil {
		s.Log.Warn("connect schemas", "db", d.ConfigVar, "err", err)
		return nil
	}
	return found
}

// CachedStatus is the last status read of configVar, without asking the
// database; ok is false when it was never read.
func (s *Service) CachedStatus(configVar string) (DatabaseStatus, bool) {
	sn, ok := s.statuses().Get(configVar)
	if !ok {
		return DatabaseStatus{}, false
	}
	return statusOf(nil, sn), true
}

// CachedInventory is the last status read of every fleet database that was
// read, without asking any database.
func (s *Service) CachedInventory() []DatabaseStatus {
	var out []DatabaseStatus
	for _, d := range s.Fleet.Databases {
		if st, ok := s.CachedStatus(d.ConfigVar); ok {
			out = append(out, st)
		}
	}
	return out
}

// ConnectSchema is the Heroku Connect schema named schema in configVar's
// last status read, or nil.
func (s *Service) ConnectSchema(configVar, schema string) *connect.Schema {
	st, ok := s.CachedStatus(configVar)
	if !ok {
		return nil
	}
	return connect.Find(st.Connect, schema)
}

// connectRefusal is the one rule of what a link imports from a Heroku
// Connect schema, whichever way a table comes in (create, import, refresh):
// why table t may not be imported into a link (readOnly or not), or "" when
// it may. triggerLog is the option "Also import _trigger_log".
func connectRefusal(t string, readOnly, triggerLog bool) string {
	switch {
	case t == connect.TableTriggerLog && !triggerLog:
		return t + " is Heroku Connect's log of writes to Salesforce: it is imported only with the option “Also import _trigger_log”"
	case t == connect.TableTriggerLog && !readOnly:
		return t + " is imported only into a read-only link: Heroku Connect's system tables must not be written"
	case t != connect.TableTriggerLog && connect.IsSystemTable(t):
		return t + " is a Heroku Connect system table and is not imported: Connect's system tables must not be written, and only _trigger_log helps debugging"
	}
	return ""
}

// checkConnectImport enforces what a link from a Heroku Connect schema may
// import, read fresh from the remote: the mapped tables by name (never
// "all tables", which would bring Connect's system tables along), never
// _hcmeta or _trigger_log_archive, and _trigger_log only when asked for
// explicitly, into a read-only link. It returns the tables to import: the
// request's, with _trigger_log added when its option is set.
func (s *Service) checkConnectImport(ctx context.Context, remote *fleet.Database, req CreateRequest) ([]string, error) {
	conn, err := s.Fleet.Acquire(ctx, remote, fleet.ClassUser)
	if err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "Remote %s", errs.MessageOf(err)).OnField("remote")
	}
	defer conn.Release()
	found, err := connect.Detect(ctx, conn.Conn(), req.RemoteSchema)
	if err != nil {
		return nil, readError(remote, err)
	}
	if connect.Find(found, req.RemoteSchema) == nil {
		return req.Tables, nil
	}
	if req.Tables == nil {
		return nil, errs.E(errs.Invalid, "Schema %q of %s is a Heroku Connect schema: import its mapped tables (choose them below) rather than all tables, so Connect's system tables %s stay out. Nothing was created.",
			req.RemoteSchema, remote.ConfigVar, strings.Join(connect.SystemTables, ", ")).OnField("tables")
	}
	tables := req.Tables
	if req.ConnectTriggerLog && !slices.Contains(tables, connect.TableTriggerLog) {
		tables = append(slices.Clone(tables), connect.TableTriggerLog)
	}
	for _, t := range tables {
		if why := connectRefusal(t, req.ReadOnly, req.ConnectTriggerLog); why != "" {
			return nil, errs.E(errs.Invalid, "%s. Nothing was created.", why).OnField("tables")
		}
	}
	return tables, nil
}
