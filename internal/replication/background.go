package replication

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// The inventory's cards show each database's replication warnings without
// any page view reading the fleet: every database's replication state is a
// snapshot (kind "replication") that the background sweep reads over the
// same connection as the database's card, and the overview behind the
// warnings is built from the snapshots once per change of them.

// Kind names the replication snapshots in the state database.
const Kind = "replication"

// background is the replication snapshots and the overview built from
// them.
type background struct {
	once  sync.Once
	snaps *fleet.Snapshots[Database]

	mu              sync.Mutex
	version, urgent uint64
	built           time.Time
	overview        *Overview
}

// States is every database's replication state as the background sweep
// reads it (a fleet.Facet), and as fleet.Share shares it.
func (s *Service) States() *fleet.Snapshots[Database] {
	s.bg.once.Do(func() {
		s.bg.snaps = fleet.NewSnapshots(s.Fleet, fleet.SnapshotOptions{Kind: Kind}, func(context.Context, string) (fleet.Reader[Database], error) {
			return s.readSession, nil
		})
	})
	return s.bg.snaps
}

// readSession reads one database's replication state over the sweep's
// session.
func (s *Service) readSession(ctx context.Context, sess *fleet.Session) fleet.Read[Database] {
	d := sess.D
	if d.IsRedis() {
		return fleet.Read[Database]{Val: Database{Error: d.ConfigVar + " is a Redis: it has no replication to read."}}
	}
	conn, err := sess.Conn(ctx)
	if err != nil {
		msg := errs.MessageOf(err)
		if fleet.IsBusy(err) {
			return fleet.Read[Database]{Busy: msg}
		}
		return fleet.Read[Database]{Val: Database{Error: msg}, Down: msg}
	}
	r := s.readOn(ctx, conn, d)
	if ctx.Err() != nil {
		// Ran out of time mid-read: what was read is not the whole truth.
		msg := d.ConfigVar + " (" + d.ResourceName + ") did not answer its replication state in time"
		sess.Broken(errs.Wrap(errs.Unavailable, ctx.Err(), "%s", msg))
		return fleet.Read[Database]{Val: Database{Error: msg}, Down: msg}
	}
	return fleet.Read[Database]{Val: r, Down: downOf(r)}
}

// downOf is why a read found d not answering ("" when it answered).
func downOf(r Database) string {
	if r.Reachable {
		return ""
	}
	return r.Error
}

// BackgroundOverview is the fleet's replication as the snapshots hold it,
// subscriptions tied to their slots and warnings worded, built once per
// change of the snapshots (at most every fleet.RebuildEvery); it never
// reads a database. A database not read yet counts as one that could not
// be read (the overview is Incomplete).
func (s *Service) BackgroundOverview() *Overview {
	snaps := s.States()
	now := time.Now()
	s.bg.mu.Lock()
	defer s.bg.mu.Unlock()
	if s.bg.overview != nil && !snaps.Outdated(s.bg.version, s.bg.urgent, s.bg.built, now) {
		return s.bg.overview
	}
	v, urgent := snaps.Version(), snaps.Urgent()
	dbs := s.Fleet.Databases
	o := &Overview{Databases: make([]Database, 0, len(dbs))}
	for i, sn := range snaps.All(context.Background()) {
		d := dbs[i]
		var db Database
		switch {
		case d.IsRedis():
			continue // a Redis has no replication to read
		case d.ConfigErr != nil:
			db = Database{DB: d, Error: d.ConfigVar + " is misconfigured: " + d.ConfigErr.Error()}
		case sn.Pending:
			db = Database{DB: d, Error: sn.Why}
		default:
			db = sn.Val
			db.DB = d
			// correlate writes into these: the snapshot's stay as read.
			db.Subscriptions, db.Slots = slices.Clone(db.Subscriptions), slices.Clone(db.Slots)
			if o.ReadAt.IsZero() || sn.AsOf.Before(o.ReadAt) {
				o.ReadAt = sn.AsOf // as old as its oldest read
			}
		}
		o.Databases = append(o.Databases, db)
	}
	s.correlate(o)
	at := s.now()
	s.settle(o, at)
	for i := range o.Databases {
		o.Warnings = append(o.Warnings, s.warningsOf(&o.Databases[i], o.Incomplete, at)...)
	}
	s.bg.overview, s.bg.version, s.bg.urgent, s.bg.built = o, v, urgent, now
	return o
}

// RefreshState reads configVar's replication state again now, after
// pglinks changed it, so the inventory's warnings show the change at once
// (in every process).
func (s *Service) RefreshState(ctx context.Context, configVar string) {
	d, err := s.Fleet.Lookup(configVar)
	if err != nil || s.Fleet.SnapshotMaxAge <= 0 {
		return // with SnapshotMaxAge 0 every view reads it anyway
	}
	snaps := s.States()
	snaps.Forget(configVar)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.Fleet.Deadlines.Connect+s.Fleet.Deadlines.Status)
	defer cancel()
	snaps.Refresh(ctx, d)
}
