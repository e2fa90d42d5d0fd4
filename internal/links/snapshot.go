package links

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
)

// The inventory is served from a snapshot of each database's status. A
// snapshot younger than SnapshotMaxAge is used as it is; Run refreshes them
// in the background so page views rarely wait for a database. A database
// that failed is not asked again before its back-off ends (5 s, doubling up
// to 2 min): until then its card shows the failure, since when, and when
// the next try is, and no page view pays its timeout.

// Snapshot bounds.
const (
	DefaultSnapshotMaxAge = 30 * time.Second
	backoffMin            = 5 * time.Second
	backoffMax            = 2 * time.Minute
)

type snapshot struct {
	st       DatabaseStatus
	failures int
}

type snapshots struct {
	mu         sync.Mutex
	m          map[string]*snapshot
	refreshing map[string]bool
}

func (ss *snapshots) startRefresh(configVar string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.refreshing[configVar] {
		return false
	}
	if ss.refreshing == nil {
		ss.refreshing = map[string]bool{}
	}
	ss.refreshing[configVar] = true
	return true
}

func (ss *snapshots) endRefresh(configVar string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.refreshing, configVar)
}

func (ss *snapshots) get(configVar string) (snapshot, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if sn, ok := ss.m[configVar]; ok {
		return *sn, true
	}
	return snapshot{}, false
}

// put stores a fresh read, counting failures for the back-off.
func (ss *snapshots) put(st DatabaseStatus, now time.Time) DatabaseStatus {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = map[string]*snapshot{}
	}
	prev := ss.m[st.DB.ConfigVar]
	sn := &snapshot{st: st}
	st.AsOf = now
	if !st.Reachable && st.DB.ConfigErr == nil {
		sn.failures = 1
		st.FailingSince = now
		if prev != nil && prev.failures > 0 {
			sn.failures = prev.failures + 1
			st.FailingSince = prev.st.FailingSince
		}
		wait := backoffMin << min(sn.failures-1, 10)
		st.RetryAt = now.Add(min(wait, backoffMax))
		if prev != nil && st.Connect == nil {
			st.Connect = prev.st.Connect // last known, so pages still know it
		}
	}
	sn.st = st
	ss.m[st.DB.ConfigVar] = sn
	return st
}

func (ss *snapshots) forget(configVar string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, configVar)
}

// fresh reports whether a snapshot may be served as it is at now.
func (s *Service) fresh(sn snapshot, now time.Time) bool {
	if !sn.st.RetryAt.IsZero() && now.Before(sn.st.RetryAt) {
		return true // failing: wait for the back-off
	}
	return s.SnapshotMaxAge > 0 && now.Sub(sn.st.AsOf) < s.SnapshotMaxAge
}

// Inventory is every fleet database's status. A page view never waits for
// a database it has a snapshot of: a fresh one is served as it is, and an
// older one (or a failure whose back-off ended) is served too while it is
// read again in the background. Only a database never read (or every one,
// when SnapshotMaxAge is 0) is read at once, each bounded by the Status deadline
// and all by ctx.
func (s *Service) Inventory(ctx context.Context) []DatabaseStatus {
	out := make([]DatabaseStatus, len(s.Fleet.Databases))
	now := time.Now()
	var stale []int
	for i, d := range s.Fleet.Databases {
		sn, ok := s.snaps.get(d.ConfigVar)
		switch {
		case ok && s.fresh(sn, now):
			out[i] = sn.st
		case ok && s.SnapshotMaxAge > 0:
			out[i] = sn.st
			s.refreshInBackground(d)
		default:
			stale = append(stale, i)
		}
	}
	if len(stale) == 0 {
		return out
	}
	recs, recErr := s.records(ctx, "")
	var wg sync.WaitGroup
	for _, i := range stale {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = s.status(ctx, s.Fleet.Databases[i], recs, recErr)
		}()
	}
	wg.Wait()
	return out
}

// RefreshStatus reads one database now, whatever its snapshot or back-off:
// the inventory's "Refresh" control.
func (s *Service) RefreshStatus(ctx context.Context, configVar string) (DatabaseStatus, error) {
	d, err := s.database(configVar, "")
	if err != nil {
		return DatabaseStatus{}, err
	}
	recs, recErr := s.records(ctx, d.ConfigVar)
	return s.status(ctx, d, recs, recErr), nil
}

// keep stores st, a read of d, as d's snapshot and returns it with its
// snapshot fields set. A read that says nothing of d itself is not kept:
// one that found pglinks' connections all in use serves what is known of
// d instead (or says d is not read yet), and one whose link records could
// not be read is shown once.
func (s *Service) keep(d *fleet.Database, st DatabaseStatus, recErr error) DatabaseStatus {
	if st.busy {
		if sn, ok := s.snaps.get(d.ConfigVar); ok {
			return sn.st
		}
		return pendingStatus(d, "Not read yet: "+st.Error)
	}
	if recErr != nil || d.ConfigErr != nil {
		st.AsOf = time.Now()
		return st
	}
	return s.snaps.put(st, time.Now())
}

// refreshInBackground reads d again without anyone waiting, once at a time
// per database.
func (s *Service) refreshInBackground(d *fleet.Database) {
	if !s.snaps.startRefresh(d.ConfigVar) {
		return
	}
	go func() {
		defer s.snaps.endRefresh(d.ConfigVar)
		ctx, cancel := context.WithTimeout(context.Background(), s.Fleet.Deadlines.Status+time.Second)
		defer cancel()
		recs, recErr := s.records(ctx, d.ConfigVar)
		if recErr != nil {
			s.Log.Warn("inventory refresh: link records", "database", d.ConfigVar, "err", recErr)
			return
		}
		s.status(ctx, d, recs, recErr)
	}()
}

// invalidate drops a database's snapshot after pglinks changed it, so the
// next page view shows the change.
func (s *Service) invalidate(d *fleet.Database) {
	s.snaps.forget(d.ConfigVar)
	s.pages.forget(d.ConfigVar)
}

// Run refreshes snapshots in the background until ctx ends: every
// interval, each database whose snapshot would pass SnapshotMaxAge before
// the next tick (or whose back-off has ended) is read, at most workers at
// a time. Each database is so read about once per SnapshotMaxAge, however
// short the interval.
func (s *Service) Run(ctx context.Context, interval time.Duration, workers int) {
	if interval <= 0 {
		interval = s.SnapshotMaxAge / 3
	}
	// More workers than the inventory's share of the connection cap would
	// only wait for each other's connections.
	workers = s.Fleet.Workers(fleet.ClassStatus, workers)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.refreshDue(ctx, interval, workers)
		s.Fleet.CloseUnused()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) refreshDue(ctx context.Context, interval time.Duration, workers int) {
	now := time.Now()
	due := max(s.SnapshotMaxAge-interval, interval)
	var read []*fleet.Database
	for _, d := range s.Fleet.Databases {
		sn, ok := s.snaps.get(d.ConfigVar)
		switch {
		case d.ConfigErr != nil:
		case !ok:
			read = append(read, d)
		case !sn.st.RetryAt.IsZero():
			if !now.Before(sn.st.RetryAt) {
				read = append(read, d)
			}
		case now.Sub(sn.st.AsOf) >= due:
			read = append(read, d)
		}
	}
	if len(read) == 0 {
		return
	}
	recs, recErr := s.records(ctx, "")
	if recErr != nil {
		s.Log.Warn("inventory refresh: link records", "err", recErr)
		return
	}
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for _, d := range read {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			s.status(ctx, d, recs, recErr)
		}()
	}
	wg.Wait()
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
