package replication

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/pgversion"
)

// Overview reads every fleet database, overviewWorkers at a time and each
// bounded by the Status deadline (one the fleet knows is not answering is
// not asked again before its back-off ends), then ties subscriptions to the slots that feed them and
// words the warnings.
func (s *Service) Overview(ctx context.Context) *Overview {
	dbs := s.Fleet.PostgresDatabases() // a Redis has no replication to read
	out := &Overview{Databases: make([]Database, len(dbs))}
	var wg sync.WaitGroup
	sem := make(chan struct{}, overviewWorkers)
	now := time.Now() // the inventory's back-off runs on the real clock
	for i, d := range dbs {
		// A database the fleet knows is not answering is not asked
		// again before its back-off ends.
		if o, down := s.Fleet.Outage(d.ConfigVar); down && now.Before(o.RetryAt) {
			out.Databases[i] = Database{DB: d, Error: o.Reason}
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out.Databases[i] = s.ReadDatabase(ctx, d)
		}()
	}
	wg.Wait()
	out.ReadAt = s.now()
	s.correlate(out)
	s.settle(out, out.ReadAt)
	for i := range out.Databases {
		out.Warnings = append(out.Warnings, s.warningsOf(&out.Databases[i], out.Incomplete, out.ReadAt)...)
	}
	return out
}

// overviewWorkers bounds the databases an Overview reads at once.
const overviewWorkers = 8

// ReadDatabase reads one database's subscriptions, publications and slots.
// It never fails: what cannot be read is said in Error or Notes.
func (s *Service) ReadDatabase(ctx context.Context, d *fleet.Database) Database {
	r := Database{DB: d}
	if d.ConfigErr != nil {
		r.Error = d.ConfigVar + " is misconfigured: " + d.ConfigErr.Error()
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, s.Fleet.Deadlines.Status)
	defer cancel()
	conn, err := s.Fleet.Acquire(ctx, d, fleet.ClassUser)
	if err != nil {
		r.Error = errs.MessageOf(err)
		if r.Error == "" {
			r.Error = d.ConfigVar + " could not be reached"
		}
		return r
	}
	defer conn.Release()
	return s.readOn(ctx, conn.Conn(), d)
}

// readOn reads d's subscriptions, publications and slots over c.
func (s *Service) readOn(ctx context.Context, c *pgx.Conn, d *fleet.Database) Database {
	r := Database{DB: d}
	err := c.QueryRow(ctx, `SELECT current_setting('server_version_num')::int, current_user::text,
		coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false),
		coalesce((SELECT rolreplication FROM pg_roles WHERE rolname = current_user), false)`).
		Scan(&r.Version, &r.Role, &r.Superuser, &r.Replication)
	if err != nil {
		r.Error = "could not read the server version: " + readErr(err)
		return r
	}
	r.Reachable = true
	if !pgversion.AtLeast(r.Version, 10) {
		r.Notes = append(r.Notes, "Logical replication needs PostgreSQL 10 or later; this server is older.")
		r.ManageReason = "this server has no logical replication"
		r.DropSlotReason = r.ManageReason
		return r
	}
	if err := readSlotSettings(ctx, c, &r); err != nil {
		r.Notes = append(r.Notes, "The slot limits (max_slot_wal_keep_size) could not be read: "+readErr(err))
	}
	if !r.Superuser && !r.Replication {
		r.DropSlotReason = fmt.Sprintf("dropping slots needs a role with REPLICATION (or a superuser); role %s has neither", r.Role)
	}
	if err := s.readSubscriptions(ctx, c, &r); err != nil {
		r.subscriptionsPartial = true
		r.Notes = append(r.Notes, "Subscriptions could not be read: "+readErr(err))
	}
	if err := readPublications(ctx, c, &r); err != nil {
		r.Notes = append(r.Notes, "Publications could not be read: "+readErr(err))
	}
	if err := readSlots(ctx, c, &r); err != nil {
		r.slotsPartial = true
		r.Notes = append(r.Notes, "Replication slots could not be read: "+readErr(err))
	}
	return r
}

// readSlotSettings reads the server's limits on what slots retain:
// max_slot_wal_keep_size (13 and later, in MB) and
// idle_replication_slot_timeout (18 and later).
func readSlotSettings(ctx context.Context, c *pgx.Conn, r *Database) error {
	if !pgversion.AtLeast(r.Version, 13) {
		return nil
	}
	var keepMB int64
	if err := c.QueryRow(ctx, `SELECT setting::bigint FROM pg_settings WHERE name = 'max_slot_wal_keep_size'`).Scan(&keepMB); err != nil {
		return err
	}
	if keepMB >= 0 {
		b := keepMB << 20
		r.MaxSlotWALKeep = &b
	}
	if !pgversion.AtLeast(r.Version, 18) {
		return nil
	}
	var n int64
	var unit string
	if err := c.QueryRow(ctx, `SELECT setting::bigint, coalesce(unit, 's') FROM pg_settings WHERE name = 'idle_replication_slot_timeout'`).Scan(&n, &unit); err != nil {
		return err
	}
	d := time.Duration(n) * time.Second
	if unit == "min" {
		d = time.Duration(n) * time.Minute
	}
	r.IdleSlotTimeout = &d
	return nil
}

// readErr words a read failure without echoing connection strings.
func readErr(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if pgErr.Code == "42501" {
			return "this role lacks the privilege (" + pgErr.Message + ")"
		}
		return pgErr.Message
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer in time"
	}
	return "the connection failed"
}

func (s *Service) readSubscriptions(ctx context.Context, c *pgx.Conn, r *Database) error {
	if !r.Superuser && !pgversion.AtLeast(r.Version, 14) {
		// Before 14, PUBLIC may not read pg_subscription.oid, which every
		// read below joins on.
		r.Notes = append(r.Notes, fmt.Sprintf("Subscriptions are not listed: on PostgreSQL %s only superusers may read them, and role %s is not one.", pgversion.Label(r.Version), r.Role))
		r.ManageReason = fmt.Sprintf("changing subscriptions needs a superuser on PostgreSQL %s; role %s is not one", pgversion.Label(r.Version), r.Role)
		return nil
	}
	var readable bool
	if err := c.QueryRow(ctx, `SELECT has_column_privilege('pg_catalog.pg_subscription', 'subconninfo', 'SELECT')`).Scan(&readable); err != nil {
		return err
	}
	conninfo := "NULL::text"
	if readable {
		conninfo = "s.subconninfo"
	}
	// Columns every version since 10 has, and granted to PUBLIC from 14
	// on; the options 16 and 17 added where the server has them.
	options := "NULL::bool, NULL::bool"
	if pgversion.AtLeast(r.Version, 16) {
		options = "s.subpasswordrequired, s.subrunasowner"
	}
	if pgversion.AtLeast(r.Version, 17) {
		options += ", s.subfailover"
	} else {
		options += ", NULL::bool"
	}
	rows, err := c.Query(ctx, `SELECT s.oid, s.subname::text, pg_get_userbyid(s.subowner)::text, s.subenabled,
		coalesce(s.subslotname::text, ''), s.subpublications::text[], `+conninfo+`,
		pg_has_role(s.subowner, 'USAGE'), `+options+`
		FROM pg_subscription s
		WHERE s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY s.subname`)
	if err != nil {
		return err
	}
	owned := true
	subs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Subscription, error) {
		var sub Subscription
		var ci *string
		var own bool
		err := row.Scan(&sub.OID, &sub.Name, &sub.Owner, &sub.Enabled, &sub.SlotName, &sub.Publications, &ci, &own,
			&sub.PasswordRequired, &sub.RunAsOwner, &sub.Failover)
		if ci != nil {
			sub.ConnInfoReadable = true
			sub.Publisher = parseConnInfo(*ci)
			sub.PublisherShown = sub.Publisher.String()
		}
		owned = owned && own
		return sub, err
	})
	if err != nil {
		return err
	}
	switch {
	case r.Superuser:
	case !pgversion.AtLeast(r.Version, 16):
		r.ManageReason = fmt.Sprintf("changing subscriptions needs a superuser on PostgreSQL %s (subscriptions are owned by superusers; 16 lets their non-superuser owners change them); role %s is not one", pgversion.Label(r.Version), r.Role)
	case !owned:
		r.ManageReason = fmt.Sprintf("changing a subscription needs its owner or a superuser; role %s is neither for some subscriptions here", r.Role)
	}
	r.Subscriptions = subs
	if len(subs) == 0 {
		return nil
	}
	if !readable {
		r.Notes = append(r.Notes, fmt.Sprintf("The subscriptions' connection info (subconninfo) is not readable by this role (%s): only superusers may read it, so their publishers cannot be named.", r.Role))
	}
	// The apply worker of each subscription: relid IS NULL (table sync
	// workers have one); from 16 on, parallel apply workers have a leader.
	workerSQL := `SELECT subid, pid, latest_end_lsn::text, last_msg_receipt_time, latest_end_time FROM pg_stat_subscription WHERE relid IS NULL`
	if pgversion.AtLeast(r.Version, 16) {
		workerSQL += ` AND leader_pid IS NULL`
	}
	wrows, err := c.Query(ctx, workerSQL)
	if err != nil {
		r.Notes = append(r.Notes, "Subscription workers could not be read: "+readErr(err))
	} else {
		type worker struct {
			subid  uint32
			pid    *int32
			lsn    *string
			recv   *time.Time
			endTim *time.Time
		}
		ws, err := pgx.CollectRows(wrows, func(row pgx.CollectableRow) (worker, error) {
			var w worker
			err := row.Scan(&w.subid, &w.pid, &w.lsn, &w.recv, &w.endTim)
			return w, err
		})
		if err != nil {
			r.Notes = append(r.Notes, "Subscription workers could not be read: "+readErr(err))
		}
		for _, w := range ws {
			for i := range r.Subscriptions {
				sub := &r.Subscriptions[i]
				if sub.OID != w.subid {
					continue
				}
				if w.pid != nil {
					sub.WorkerRunning, sub.WorkerPID = true, int(*w.pid)
				}
				if w.lsn != nil {
					sub.LatestEndLSN = *w.lsn
				}
				sub.LastMsgReceipt, sub.LatestEndTime = w.recv, w.endTim
			}
		}
	}
	if pgversion.AtLeast(r.Version, 15) {
		readSubscriptionStats(ctx, c, r)
	}
	srows, err := c.Query(ctx, `SELECT srsubid, srsubstate::text, count(*)::int FROM pg_subscription_rel GROUP BY 1, 2`)
	if err != nil {
		r.Notes = append(r.Notes, "Table sync states could not be read: "+readErr(err))
		return nil
	}
	var subid uint32
	var state string
	var n int
	_, err = pgx.ForEachRow(srows, []any{&subid, &state, &n}, func() error {
		for i := range r.Subscriptions {
			t := &r.Subscriptions[i].Tables
			if r.Subscriptions[i].OID != subid {
				continue
			}
			switch state {
			case "i":
				t.Init += n
			case "d":
				t.DataCopy += n
			case "f":
				t.Finished += n
			case "s":
				t.Synced += n
			case "r":
				t.Ready += n
			}
		}
		return nil
	})
	if err != nil {
		r.Notes = append(r.Notes, "Table sync states could not be read: "+readErr(err))
	}
	return nil
}

func readPublications(ctx context.Context, c *pgx.Conn, r *Database) error {
	truncate := "false"
	if pgversion.AtLeast(r.Version, 11) {
		truncate = "p.pubtruncate"
	}
	rows, err := c.Query(ctx, `SELECT p.pubname::text, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, `+truncate+`,
		coalesce((SELECT array_agg(format('%I.%I', t.schemaname, t.tablename) ORDER BY t.schemaname, t.tablename)
			FROM pg_publication_tables t WHERE t.pubname = p.pubname), '{}')
		FROM pg_publication p ORDER BY p.pubname`)
	if err != nil {
		return err
	}
	pubs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Publication, error) {
		var p Publication
		err := row.Scan(&p.Name, &p.AllTables, &p.Insert, &p.Update, &p.Delete, &p.Truncate, &p.Tables)
		return p, err
	})
	r.Publications = pubs
	return err
}

func readSlots(ctx context.Context, c *pgx.Conn, r *Database) error {
	// Each version's pg_replication_slots: wal_status and safe_wal_size
	// from 13, conflicting from 16, inactive_since, invalidation_reason,
	// failover and synced from 17.
	cols := []string{"NULL::text", "NULL::bigint", "NULL::bool", "NULL::timestamptz", "NULL::text", "false", "false"}
	if pgversion.AtLeast(r.Version, 13) {
		cols[0], cols[1] = "wal_status", "safe_wal_size"
	}
	if pgversion.AtLeast(r.Version, 16) {
		cols[2] = "conflicting"
	}
	if pgversion.AtLeast(r.Version, 17) {
		cols[3], cols[4], cols[5], cols[6] = "inactive_since", "invalidation_reason", "failover", "synced"
	}
	// Logical slots belong to one database; physical slots to the server.
	rows, err := c.Query(ctx, `WITH cur AS (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END AS lsn)
		SELECT slot_name::text, slot_type, coalesce(plugin::text, ''), active, active_pid, temporary,
			pg_wal_lsn_diff(cur.lsn, restart_lsn)::bigint, pg_wal_lsn_diff(cur.lsn, confirmed_flush_lsn)::bigint,
			`+strings.Join(cols, ", ")+`
		FROM pg_replication_slots, cur
		WHERE database IS NULL OR database = current_database()
		ORDER BY slot_name`)
	if err != nil {
		return err
	}
	slots, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Slot, error) {
		var sl Slot
		var pid *int32
		var ws, reason *string
		err := row.Scan(&sl.Name, &sl.Type, &sl.Plugin, &sl.Active, &pid, &sl.Temporary, &sl.RetainedBytes, &sl.LagBytes,
			&ws, &sl.SafeWALSize, &sl.Conflicting, &sl.InactiveSince, &reason, &sl.Failover, &sl.Synced)
		if pid != nil {
			sl.ActivePID = int(*pid)
		}
		if ws != nil {
			sl.WALStatus = *ws
		}
		if reason != nil {
			sl.InvalidationReason = *reason
		}
		return sl, err
	})
	r.Slots = slots
	return err
}

// correlate ties subscriptions to fleet publishers and their slots, marks
// orphaned slots and words the warnings.
func (s *Service) correlate(o *Overview) {
	f := s.Fleet
	for i := range o.Databases {
		if !o.Databases[i].Reachable && o.Databases[i].DB.ConfigErr == nil {
			o.Incomplete = true
		}
		for j := range o.Databases[i].Subscriptions {
			sub := &o.Databases[i].Subscriptions[j]
			if sub.ConnInfoReadable {
				sub.PublisherVar = matchFleet(f, sub.Publisher)
			}
		}
	}
	// Which slot names are claimed, and by whom.
	type claim struct {
		db  string
		sub *Subscription
	}
	claims := map[string][]claim{}
	byOID := map[uint32]claim{}
	for i := range o.Databases {
		d := &o.Databases[i]
		for j := range d.Subscriptions {
			sub := &d.Subscriptions[j]
			byOID[sub.OID] = claim{d.DB.ConfigVar, sub}
			if sub.SlotName != "" {
				claims[sub.SlotName] = append(claims[sub.SlotName], claim{d.DB.ConfigVar, sub})
			}
		}
	}
	for i := range o.Databases {
		d := &o.Databases[i]
		for j := range d.Slots {
			sl := &d.Slots[j]
			if sl.Type != "logical" || sl.Temporary {
				continue
			}
			for _, c := range claims[sl.Name] {
				// A subscription whose publisher is unknown (conninfo not
				// readable) may be this slot's user.
				if c.sub.PublisherVar == d.DB.ConfigVar || c.sub.PublisherVar == "" {
					sl.UsedBy = &SlotUser{ConfigVar: c.db, Subscription: c.sub.Name}
					if c.sub.PublisherVar == d.DB.ConfigVar {
						c.sub.LagBytes = sl.LagBytes
					} else if c.sub.SlotOn == "" {
						c.sub.SlotOn = d.DB.ConfigVar
					}
					break
				}
			}
			if sl.UsedBy == nil {
				if c, ok := byOID[syncSlotOID(sl.Name)]; ok {
					sl.UsedBy = &SlotUser{ConfigVar: c.db, Subscription: c.sub.Name, SyncWorker: true}
				}
			}
			sl.Orphaned = sl.UsedBy == nil
		}
	}
}

// syncSlotOID is the subscription oid of a table sync slot
// (pg_<suboid>_sync_<relid>_<sysid>), 0 for another name.
func syncSlotOID(name string) uint32 {
	var oid, rel uint32
	var sys uint64
	if n, _ := fmt.Sscanf(name, "pg_%d_sync_%d_%d", &oid, &rel, &sys); n != 3 {
		return 0
	}
	return oid
}

// matchFleet finds the fleet database a publisher endpoint points at.
func matchFleet(f *fleet.Fleet, e Endpoint) string {
	if e.Host == "" {
		return ""
	}
	for _, d := range f.PostgresDatabases() {
		if d.ConfigErr != nil {
			continue
		}
		if sameHost(d.Host, e.Host) && d.Port == e.Port && d.DBName == e.DBName {
			return d.ConfigVar
		}
	}
	return ""
}

func sameHost(a, b string) bool {
	a, b = strings.ToLower(strings.Trim(a, "[]")), strings.ToLower(strings.Trim(b, "[]"))
	if a == b {
		return true
	}
	local := map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}
	return local[a] && local[b]
}

// readSubscriptionStats reads the error counters PostgreSQL 15 added.
func readSubscriptionStats(ctx context.Context, c *pgx.Conn, r *Database) {
	rows, err := c.Query(ctx, `SELECT subid, apply_error_count, sync_error_count FROM pg_stat_subscription_stats`)
	if err != nil {
		r.Notes = append(r.Notes, "Subscription error counters could not be read: "+readErr(err))
		return
	}
	var subid uint32
	var apply, sync int64
	_, err = pgx.ForEachRow(rows, []any{&subid, &apply, &sync}, func() error {
		for i := range r.Subscriptions {
			if r.Subscriptions[i].OID == subid {
				a, s := apply, sync
				r.Subscriptions[i].ApplyErrors, r.Subscriptions[i].SyncErrors = &a, &s
			}
		}
		return nil
	})
	if err != nil {
		r.Notes = append(r.Notes, "Subscription error counters could not be read: "+readErr(err))
	}
}
