package links

import (
	"context"
	"strings"
	"sync"
	"time"
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
	mu sync.Mutex
	m  map[string]*snapshot
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

// Inventory is every fleet database's status, from snapshots where they are
// fresh and read at once (each bounded by StatusTimeout) where not.
func (s *Service) Inventory(ctx context.Context) []DatabaseStatus {
	out := make([]DatabaseStatus, len(s.Fleet.Databases))
	now := time.Now()
	var stale []int
	for i, d := range s.Fleet.Databases {
		if sn, ok := s.snaps.get(d.ConfigVar); ok && s.fresh(sn, now) {
			out[i] = sn.st
			continue
		}
		stale = append(stale, i)
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
			out[i] = s.readAndKeep(ctx, s.Fleet.Databases[i], recs, recErr)
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
	return s.readAndKeep(ctx, d, recs, recErr), nil
}

func (s *Service) readAndKeep(ctx context.Context, d *Database, recs map[string]LinkRecord, recErr error) DatabaseStatus {
	st := s.status(ctx, d, recs, recErr)
	if recErr != nil || ctx.Err() != nil {
		// Not the database's fault: show it, keep no snapshot of it.
		st.AsOf = time.Now()
		return st
	}
	return s.snaps.put(st, time.Now())
}

// invalidate drops a database's snapshot after pglinks changed it, so the
// next page view shows the change.
func (s *Service) invalidate(d *Database) {
	s.snaps.forget(d.ConfigVar)
	s.pages.forget(d.ConfigVar)
}

// Run refreshes snapshots in the background until ctx ends: every
// interval, each database whose snapshot is older than interval (and whose
// back-off has ended) is read, at most workers at a time.
func (s *Service) Run(ctx context.Context, interval time.Duration, workers int) {
	if interval <= 0 {
		interval = s.SnapshotMaxAge / 3
	}
	workers = max(workers, 1)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.refreshDue(ctx, interval, workers)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) refreshDue(ctx context.Context, interval time.Duration, workers int) {
	now := time.Now()
	var due []*Database
	for _, d := range s.Fleet.Databases {
		sn, ok := s.snaps.get(d.ConfigVar)
		switch {
		case d.ConfigErr != nil:
		case !ok:
			due = append(due, d)
		case !sn.st.RetryAt.IsZero():
			if !now.Before(sn.st.RetryAt) {
				due = append(due, d)
			}
		case now.Sub(sn.st.AsOf) >= interval:
			due = append(due, d)
		}
	}
	if len(due) == 0 {
		return
	}
	recs, recErr := s.records(ctx, "")
	if recErr != nil {
		s.Log.Warn("inventory refresh: link records", "err", recErr)
		return
	}
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for _, d := range due {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			s.readAndKeep(ctx, d, recs, recErr)
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
