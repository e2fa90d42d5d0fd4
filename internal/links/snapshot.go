package links

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
)

// The inventory's cards are the fleet's status snapshots of each database
// (fleet.Snapshots of kind "card"), read by readStatus in the background
// sweep: a page view never waits for a database, and a database that does
// not answer is backed off.

// CardKind names the cards' snapshots in the state database.
const CardKind = "card"

// statuses is the snapshots of the inventory's cards; made on first use.
func (s *Service) statuses() *fleet.Snapshots[DatabaseStatus] {
	s.snapsOnce.Do(func() {
		s.snaps = fleet.NewSnapshots(s.Fleet, fleet.SnapshotOptions{Kind: CardKind, FleetOutages: true}, s.statusReader)
	})
	return s.snaps
}

// Cards is the inventory's cards as the background sweep reads them (a
// fleet.Facet), and as fleet.Share shares them.
func (s *Service) Cards() *fleet.Snapshots[DatabaseStatus] { return s.statuses() }

// statusReader reads the cards of configVar ("" for all) against pglinks'
// records of links, read once for them all; recErr is why they could not
// be read.
func (s *Service) statusReader(ctx context.Context, configVar string) (fleet.Reader[DatabaseStatus], error) {
	recs, recErr := s.records(ctx, configVar)
	return func(ctx context.Context, sess *fleet.Session) fleet.Read[DatabaseStatus] {
		d := sess.D
		st := s.readStatus(ctx, sess, recs, recErr)
		r := fleet.Read[DatabaseStatus]{Val: st, Once: recErr != nil}
		switch {
		case st.busy:
			r.Busy = st.Error
		case !st.Reachable:
			r.Down, r.Cause = st.Error, st.Cause
			if prev, ok := s.statuses().Get(d.ConfigVar); ok && st.Connect == nil {
				r.Val.Connect = prev.Val.Connect // last known, so pages still know it
			}
		}
		return r
	}, recErr
}

// statusOf is a snapshot as the inventory shows it.
func statusOf(d *fleet.Database, sn fleet.Snapshot[DatabaseStatus]) DatabaseStatus {
	if d != nil && d.ConfigErr != nil {
		return DatabaseStatus{DB: d, Error: d.ConfigErr.Error()}
	}
	if sn.Pending {
		return pendingStatus(d, sn.Why, sn.AsOf)
	}
	st := sn.Val
	st.DB = d // not kept in the state database: this process's own
	st.AsOf, st.FailingSince, st.RetryAt = sn.AsOf, sn.FailingSince, sn.RetryAt
	return st
}

// inventoryView is the inventory built from one version of the
// snapshots, shared by every page view until they change.
type inventoryView struct {
	version, urgent uint64
	built           time.Time
	statuses        []DatabaseStatus
	readBy          map[string][]Link
}

// view is the inventory of the snapshots as they are now, built once per
// change of them (at most every fleet.RebuildEvery for the background
// reads' changes; at once for a person's Refresh or pglinks' own change).
func (s *Service) view() *inventoryView {
	snaps := s.statuses()
	now := time.Now()
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	if s.inv != nil && !snaps.Outdated(s.inv.version, s.inv.urgent, s.inv.built, now) {
		return s.inv
	}
	v, urgent := snaps.Version(), snaps.Urgent()
	sns := snaps.All(context.Background()) // no reads: SnapshotMaxAge > 0
	out := &inventoryView{version: v, urgent: urgent, built: now, statuses: make([]DatabaseStatus, len(sns))}
	for i, sn := range sns {
		out.statuses[i] = statusOf(s.Fleet.Databases[i], sn)
	}
	out.readBy = ReadBy(out.statuses)
	s.inv = out
	return out
}

// Inventory is every fleet database's card, in fleet order, as the
// snapshots hold it: no page view waits for a database (fleet.Snapshots.All).
// With the fleet's SnapshotMaxAge 0 every database is read now instead,
// each bounded by the Status deadline and all by ctx. The slice is shared
// by every caller until the snapshots change: do not modify it.
func (s *Service) Inventory(ctx context.Context) []DatabaseStatus {
	if s.Fleet.SnapshotMaxAge <= 0 {
		sns := s.statuses().All(ctx)
		out := make([]DatabaseStatus, len(sns))
		for i, sn := range sns {
			out[i] = statusOf(s.Fleet.Databases[i], sn)
			s.judgeAll(&out[i])
		}
		return out
	}
	return s.judgedAll(s.view().statuses)
}

// judgedAll is inv with each card's links judged (judgeAll) by what this
// process knows of its config vars now, which changes without the
// snapshots changing; inv is shared, so it is copied only when a
// judgement changes a card.
func (s *Service) judgedAll(inv []DatabaseStatus) []DatabaseStatus {
	out := inv
	for i := range inv {
		st := inv[i]
		s.judgeAll(&st)
		if len(st.Links) == 0 || &st.Links[0] == &inv[i].Links[0] {
			continue
		}
		if &out[0] == &inv[0] {
			out = slices.Clone(inv)
		}
		out[i] = st
	}
	return out
}

// InventoryReadBy is Inventory with ReadBy of it, both built once per
// change of the snapshots (shared: do not modify them).
func (s *Service) InventoryReadBy(ctx context.Context) ([]DatabaseStatus, map[string][]Link) {
	if s.Fleet.SnapshotMaxAge <= 0 {
		inv := s.Inventory(ctx)
		return inv, ReadBy(inv)
	}
	v := s.view()
	return s.judgedAll(v.statuses), v.readBy
}

// RefreshStatus reads one database now, whatever its snapshot or back-off:
// the inventory's "Refresh" control.
func (s *Service) RefreshStatus(ctx context.Context, configVar string) (DatabaseStatus, error) {
	d, err := s.database(configVar, "")
	if err != nil {
		return DatabaseStatus{}, err
	}
	st := statusOf(d, s.statuses().Refresh(ctx, d))
	s.judgeAll(&st)
	return st, nil
}

// invalidate reads a database's card again after pglinks changed it, so
// the next page view in every process shows the change: a read that
// started before the change is neither waited for nor kept.
func (s *Service) invalidate(d *fleet.Database) {
	s.pages.forget(d.ConfigVar)
	snaps := s.statuses()
	snaps.Forget(d.ConfigVar)
	ctx, cancel := context.WithTimeout(context.Background(), s.Fleet.Deadlines.Status+s.Fleet.Deadlines.Connect)
	defer cancel()
	snaps.Refresh(ctx, d)
}

// MatchInventory keeps the statuses whose database (resource name, config
// var, database name) or one of whose links contains query,
// case-insensitively; "" keeps all.
func MatchInventory(inv []DatabaseStatus, query string) []DatabaseStatus {
	if query == "" {
		return inv
	}
	q := strings.ToLower(query)
	has := func(s string) bool { return strings.Contains(strings.ToLower(s), q) }
	var out []DatabaseStatus
	for _, st := range inv {
		match := has(st.DB.ResourceName) || has(st.DB.ConfigVar) || has(st.DB.DBName)
		for _, l := range st.Links {
			match = match || has(l.Name) || has(l.RemoteConfigVar) || has(l.RemoteResourceName)
		}
		if match {
			out = append(out, st)
		}
	}
	return out
}
