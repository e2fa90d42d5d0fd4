package links

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
)

// Monitor keeps the last probe of every link, one record per link, so
// pages show health without calling any remote on the request path.
//
// Every page (the inventory's badges, the link page, /metrics) shows the
// same record with the same age: with Share, the records live in the state
// database and every pglinks process shows what any of them probed last.
// The process holding the background lease probes every link whose record
// is missing or older than TTL (Run), oldest first, at most Workers at a
// time; a person's Check now, and pglinks' own create, refresh, import and
// repair of a link, probe it at once and record the result, so a link
// just made or repaired is never "not checked yet". A page view never
// probes: a broken link costs it nothing.
type Monitor struct {
	svc *Service
	// TTL is how long a probe result is fresh: Run probes a link again
	// before its result is older.
	TTL time.Duration
	// MinInterval is the shortest time between two probes of one link
	// asked for by people ("Check now"): a click within it returns the
	// last result instead of calling the remote again.
	MinInterval time.Duration
	// Now is the clock (time.Now when nil); tests set it.
	Now func() time.Time

	sem    chan struct{}
	shared *fleet.Shared

	mu       sync.Mutex
	results  map[string]LinkHealth
	deleted  map[string]time.Time // forgotten links: older results are not taken back
	inflight map[string]bool
	stale    map[string]string    // links last seen stale, by HealthKey: what changed
	started  map[string]time.Time // when the recorded probe of each link started
	wg       sync.WaitGroup
	probes   atomic.Int64
}

// Default monitor settings.
const (
	DefaultHealthTTL     = 60 * time.Second
	DefaultHealthWorkers = 4
	DefaultCheckInterval = 5 * time.Second
)

// HealthKind names link health records in the state database.
const HealthKind = "link_health"

// NewMonitor returns a Monitor over svc with the defaults, and makes it
// the record of svc's own changes to links (the first one made over svc):
// svc weighs its results when it judges whether a link is stale.
func NewMonitor(svc *Service) *Monitor {
	m := &Monitor{
		svc:         svc,
		TTL:         DefaultHealthTTL,
		MinInterval: DefaultCheckInterval,
		sem:         make(chan struct{}, DefaultHealthWorkers),
		results:     map[string]LinkHealth{},
		deleted:     map[string]time.Time{},
		inflight:    map[string]bool{},
		stale:       map[string]string{},
		started:     map[string]time.Time{},
	}
	if svc.health == nil {
		svc.health = m
	}
	return m
}

// cached is a link's last result, however old, without queueing a probe.
func (m *Monitor) cached(localVar, name string) (LinkHealth, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.results[HealthKey(localVar, name)]
	return h, ok
}

func (m *Monitor) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// SetWorkers bounds how many probes Run makes at once (before it runs).
func (m *Monitor) SetWorkers(n int) {
	if n < 1 {
		n = 1
	}
	m.sem = make(chan struct{}, n)
}

// Probes counts the probes this process made.
func (m *Monitor) Probes() int64 { return m.probes.Load() }

// HealthKey identifies a link across the fleet.
func HealthKey(localVar, name string) string { return localVar + "\x00" + name }

// sharedKey is a link's key in the state database: config vars and link
// names hold no '/'.
func sharedKey(localVar, name string) string { return localVar + "/" + name }

// Share keeps the records in the state database through sh and applies
// the ones any process wrote.
func (m *Monitor) Share(sh *fleet.Shared) {
	m.mu.Lock()
	m.shared = sh
	m.mu.Unlock()
	sh.Register(HealthKind, func(r fleet.SharedRecord) {
		localVar, name, ok := cutKey(r.Key)
		if !ok {
			return
		}
		key := HealthKey(localVar, name)
		m.mu.Lock()
		defer m.mu.Unlock()
		if r.Body == nil {
			if cur, ok := m.results[key]; !ok || !cur.CheckedAt.After(r.AsOf) {
				delete(m.results, key)
				m.deleted[key] = r.AsOf
			}
			return
		}
		var h LinkHealth
		if err := json.Unmarshal(r.Body, &h); err != nil {
			return
		}
		if cur, ok := m.results[key]; ok && !h.CheckedAt.After(cur.CheckedAt) || !h.CheckedAt.After(m.deleted[key]) {
			return
		}
		m.results[key] = h
	})
}

func cutKey(k string) (localVar, name string, ok bool) {
	for i := len(k) - 1; i >= 0; i-- {
		if k[i] == '/' {
			return k[:i], k[i+1:], i > 0 && i < len(k)-1
		}
	}
	return "", "", false
}

// Get returns the health of a link (State HealthUnknown when it has never
// been probed). It never probes.
func (m *Monitor) Get(localVar, name string) LinkHealth {
	m.mu.Lock()
	h, ok := m.results[HealthKey(localVar, name)]
	m.mu.Unlock()
	if !ok {
		return LinkHealth{State: HealthUnknown}
	}
	return h
}

// Lookup returns the health of every link of an inventory, keyed by
// HealthKey. It never probes.
func (m *Monitor) Lookup(inv []DatabaseStatus) map[string]LinkHealth {
	out := map[string]LinkHealth{}
	for _, st := range inv {
		for _, l := range st.Links {
			out[HealthKey(st.DB.ConfigVar, l.Name)] = m.Get(st.DB.ConfigVar, l.Name)
			m.noteStale(st.DB.ConfigVar, l)
		}
	}
	return out
}

// noteStale logs a link that turns stale (its remote's config var no
// longer matches what the link holds) at WARN, once, with its database
// and name, and at INFO when it matches again: an operator watching the
// log learns of a rotation or failover without opening a page.
func (m *Monitor) noteStale(localVar string, l Link) {
	if l.Stale == nil {
		return // not compared in this read: nothing learnt
	}
	key := HealthKey(localVar, l.Name)
	now := l.Stale.Summary()
	if !l.Stale.Stale() {
		now = ""
	}
	m.mu.Lock()
	was, seen := m.stale[key]
	if now == "" {
		delete(m.stale, key)
	} else {
		m.stale[key] = now
	}
	m.mu.Unlock()
	switch {
	case now != "" && now != was:
		m.svc.Log.Warn("link stale", "database", localVar, "link", l.Name, "remote", l.RemoteConfigVar, "change", now)
	case now == "" && seen:
		m.svc.Log.Info("link matches its remote again", "database", localVar, "link", l.Name)
	}
}

// Check probes a link now and records the result. Unless force is set, a
// link probed less than MinInterval ago is not probed again: that result
// is returned.
func (m *Monitor) Check(ctx context.Context, localVar, name string, force bool) (LinkHealth, error) {
	m.mu.Lock()
	h, ok := m.results[HealthKey(localVar, name)]
	m.mu.Unlock()
	if !force && ok && m.now().Sub(h.CheckedAt) < m.MinInterval {
		return h, nil
	}
	return m.probe(ctx, localVar, name)
}

// probe probes a link and records what it found: a link that is gone is
// forgotten, one that could not be probed (pglinks busy, a change to it in
// progress) keeps its record.
func (m *Monitor) probe(ctx context.Context, localVar, name string) (LinkHealth, error) {
	m.probes.Add(1)
	started := time.Now()
	h, err := m.svc.ProbeLink(ctx, localVar, name)
	if err != nil {
		if !fleet.IsBusy(err) && !errors.Is(err, errLinkBusy) { // busy says nothing of the link: keep what is known
			m.Forget(localVar, name)
		}
		return h, err
	}
	m.put(localVar, name, h, started)
	return h, nil
}

// Put records a probe made elsewhere (a repair's own), in every process.
// A link that turns broken is logged at WARN with its database, name and
// why, and one that works again at INFO, so the log says when links break
// whoever looks.
func (m *Monitor) Put(localVar, name string, h LinkHealth) {
	m.put(localVar, name, h, h.CheckedAt.Add(-h.RTT))
}

// put records h, a probe that started at started, unless a probe that
// started later was recorded already: a probe that began before a change
// (a rotated password) and ended after a newer one must not overwrite
// what the newer one found.
func (m *Monitor) put(localVar, name string, h LinkHealth, started time.Time) {
	key := HealthKey(localVar, name)
	m.mu.Lock()
	if cur, ok := m.results[key]; ok && cur == h || m.started[key].After(started) {
		m.mu.Unlock()
		return
	}
	m.started[key] = started
	before, known := m.results[key]
	m.results[key] = h
	delete(m.deleted, key)
	sh := m.shared
	m.mu.Unlock()
	switch {
	case h.State == HealthBroken && (!known || before.State != HealthBroken):
		m.svc.Log.Warn("link broken", "database", localVar, "link", name, "reason", h.Reason)
	case h.State == HealthHealthy && known && before.State == HealthBroken:
		m.svc.Log.Info("link healthy again", "database", localVar, "link", name)
	}
	if sh != nil {
		body, err := json.Marshal(h)
		if err == nil {
			sh.Put(fleet.SharedRecord{Kind: HealthKind, Key: sharedKey(localVar, name), AsOf: h.CheckedAt, Body: body})
		}
	}
}

// Forget drops a link's record (after destroy, or when it is not found),
// in every process.
func (m *Monitor) Forget(localVar, name string) {
	key := HealthKey(localVar, name)
	now := m.now()
	m.mu.Lock()
	delete(m.results, key)
	delete(m.stale, key)
	m.deleted[key] = now
	sh := m.shared
	m.mu.Unlock()
	if sh != nil {
		sh.Put(fleet.SharedRecord{Kind: HealthKind, Key: sharedKey(localVar, name), AsOf: now})
	}
}

// Wait blocks until every probe Run started has finished.
func (m *Monitor) Wait() { m.wg.Wait() }

// Run probes, until ctx ends, every link of the inventory's cards whose
// record is missing or would pass TTL before the next look (every
// interval; TTL/12 when 0), the oldest record first, at most Workers at a
// time. So health is known after a restart, and stays known, whether or
// not anyone looks. Only the lease holder runs it.
func (m *Monitor) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = m.TTL / 12
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		m.probeDue(ctx, interval)
		select {
		case <-ctx.Done():
			m.wg.Wait()
			return
		case <-t.C:
		}
	}
}

// probeDue queues the links whose record is due, oldest first.
func (m *Monitor) probeDue(ctx context.Context, interval time.Duration) {
	type due struct {
		localVar, name string
		at             time.Time
	}
	var list []due
	now := m.now()
	refresh := max(m.TTL-interval-m.svc.Fleet.Deadlines.Status, m.TTL/2)
	inv := m.svc.CachedInventory()
	m.mu.Lock()
	for _, st := range inv {
		for _, l := range st.Links {
			key := HealthKey(st.DB.ConfigVar, l.Name)
			h, ok := m.results[key]
			if ok && now.Sub(h.CheckedAt) < refresh || m.inflight[key] {
				continue
			}
			list = append(list, due{st.DB.ConfigVar, l.Name, h.CheckedAt})
		}
	}
	m.mu.Unlock()
	slices.SortStableFunc(list, func(a, b due) int { return a.at.Compare(b.at) })
	for _, d := range list {
		key := HealthKey(d.localVar, d.name)
		m.mu.Lock()
		m.inflight[key] = true
		sem := m.sem
		m.mu.Unlock()
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			m.mu.Lock()
			delete(m.inflight, key)
			m.mu.Unlock()
			return
		}
		m.wg.Go(func() {
			defer func() {
				<-sem
				m.mu.Lock()
				delete(m.inflight, key)
				m.mu.Unlock()
			}()
			// ProbeLink bounds itself; a probe that started finishes
			// when the lease is lost, rather than record a cancel.
			m.probe(context.WithoutCancel(ctx), d.localVar, d.name)
		})
	}
}

func (m *Monitor) linkChanged(ctx context.Context, localVar, name string) {
	// Bounded by ProbeLink; the change is done, and its probe is recorded
	// even when the request that made it ends first.
	m.probe(context.WithoutCancel(ctx), localVar, name)
}

func (m *Monitor) linkProbed(localVar, name string, h LinkHealth) { m.Put(localVar, name, h) }

func (m *Monitor) linkGone(localVar, name string) { m.Forget(localVar, name) }

// changed records pglinks' own change to link name of local: its card is
// read again, and the link probed, so every page of every process shows
// the change and the link's health at once.
func (s *Service) changed(ctx context.Context, local *fleet.Database, name string) {
	s.invalidate(local)
	if s.health != nil {
		s.health.linkChanged(ctx, local.ConfigVar, name)
	}
}
