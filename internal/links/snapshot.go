package links

import (
	"context"
	"strings"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
)

// The inventory's cards are the fleet's status snapshots of each database
// (fleet.Snapshots), read by readStatus: a page view never waits for a
// database it has a card of, and a database that does not answer is
// backed off.

// statuses is the snapshots of the inventory's cards; made on first use.
func (s *Service) statuses() *fleet.Snapshots[DatabaseStatus] {
	s.snapsOnce.Do(func() { s.snaps = fleet.NewSnapshots(s.Fleet, s.statusReader) })
	return s.snaps
}

// statusReader reads the cards of configVar ("" for all) against pglinks'
// records of links, read once for them all; recErr is why they could not
// be read.
func (s *Service) statusReader(ctx context.Context, configVar string) (fleet.Reader[DatabaseStatus], error) {
	recs, recErr := s.records(ctx, configVar)
	return func(ctx context.Context, d *fleet.Database) fleet.Read[DatabaseStatus] {
		st := s.readStatus(ctx, d, recs, recErr)
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
	if sn.Pending {
		return pendingStatus(d, sn.Why, sn.AsOf)
	}
	st := sn.Val
	st.AsOf, st.FailingSince, st.RetryAt = sn.AsOf, sn.FailingSince, sn.RetryAt
	return st
}

// Inventory is every fleet database's status, served as fleet.Snapshots
// serves them: a page view waits only for databases never read (or every
// one, when the fleet's SnapshotMaxAge is 0), each bounded by the Status
// deadline and all by ctx.
func (s *Service) Inventory(ctx context.Context) []DatabaseStatus {
	sns := s.statuses().All(ctx)
	out := make([]DatabaseStatus, len(sns))
	for i, sn := range sns {
		out[i] = statusOf(s.Fleet.Databases[i], sn)
		s.judgeAll(&out[i])
	}
	return out
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

// invalidate drops a database's snapshot after pglinks changed it, so the
// next page view shows the change.
func (s *Service) invalidate(d *fleet.Database) {
	s.statuses().Forget(d.ConfigVar)
	s.pages.forget(d.ConfigVar)
}

// Run refreshes the inventory's snapshots in the background until ctx
// ends (fleet.Snapshots.Run).
func (s *Service) Run(ctx context.Context, interval time.Duration, workers int) {
	s.statuses().Run(ctx, interval, workers)
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
