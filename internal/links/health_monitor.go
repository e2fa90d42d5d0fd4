package links

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
)

// Monitor keeps the last probe of every link so pages can show health
// without calling any remote on the request path.
//
// Results are kept for TTL (60 s by default). A page asking for a result
// that is missing or older than TTL gets what is cached (or "unknown") at
// once, and a background probe is queued; at most Workers probes run at a
// time, and a link already being probed is not queued twice. A broken link
// therefore costs a page view nothing: its connect timeout is spent in the
// background, once per TTL at most.
type Monitor struct {
	svc *Service
	// TTL is how long a probe result is fresh.
	TTL time.Duration
	// MinInterval is the shortest time between two probes of one link
	// asked for by people ("Check now"): a click within it returns the
	// last result instead of calling the remote again.
	MinInterval time.Duration

	sem chan struct{}

	mu       sync.Mutex
	results  map[string]LinkHealth
	inflight map[string]bool
	stale    map[string]string // links last seen stale, by HealthKey: what changed
	wg       sync.WaitGroup
}

// Default monitor settings.
const (
	DefaultHealthTTL     = 60 * time.Second
	DefaultHealthWorkers = 4
	DefaultCheckInterval = 5 * time.Second
)

// NewMonitor returns a Monitor over svc with the defaults. svc weighs the
// Monitor's results when it judges whether a link is stale.
func NewMonitor(svc *Service) *Monitor {
	m := &Monitor{
		svc:         svc,
		TTL:         DefaultHealthTTL,
		MinInterval: DefaultCheckInterval,
		sem:         make(chan struct{}, DefaultHealthWorkers),
		results:     map[string]LinkHealth{},
		inflight:    map[string]bool{},
		stale:       map[string]string{},
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

// SetWorkers bounds how many probes run at once (before any is queued).
func (m *Monitor) SetWorkers(n int) {
	if n < 1 {
		n = 1
	}
	m.sem = make(chan struct{}, n)
}

// HealthKey identifies a link across the fleet.
func HealthKey(localVar, name string) string { return localVar + "\x00" + name }

// Get returns the cached health of a link (State HealthUnknown when it has
// never been probed) and queues a background probe when the result is
// missing or older than TTL.
func (m *Monitor) Get(localVar, name string) LinkHealth {
	key := HealthKey(localVar, name)
	m.mu.Lock()
	h, ok := m.results[key]
	m.mu.Unlock()
	if !ok || time.Since(h.CheckedAt) > m.TTL {
		m.refresh(localVar, name)
	}
	if !ok {
		return LinkHealth{State: HealthUnknown}
	}
	return h
}

// Lookup returns the cached health of every link of an inventory, keyed
// by HealthKey, queueing background probes as Get does.
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

// Check probes a link now and caches the result. Unless force is set, a
// link probed less than MinInterval ago is not probed again: that result
// is returned.
func (m *Monitor) Check(ctx context.Context, localVar, name string, force bool) (LinkHealth, error) {
	key := HealthKey(localVar, name)
	m.mu.Lock()
	h, ok := m.results[key]
	m.mu.Unlock()
	if !force && ok && time.Since(h.CheckedAt) < m.MinInterval {
		return h, nil
	}
	h, err := m.svc.ProbeLink(ctx, localVar, name)
	if err != nil {
		if !fleet.IsBusy(err) && !errors.Is(err, errLinkBusy) { // busy says nothing of the link: keep what is known
			m.Forget(localVar, name)
		}
		return h, err
	}
	m.Put(localVar, name, h)
	return h, nil
}

// Put records a probe made elsewhere (after a repair). A link that turns
// broken is logged at WARN with its database, name and why, and one that
// works again at INFO, so the log says when links break whoever looks.
func (m *Monitor) Put(localVar, name string, h LinkHealth) {
	m.mu.Lock()
	before, known := m.results[HealthKey(localVar, name)]
	m.results[HealthKey(localVar, name)] = h
	m.mu.Unlock()
	switch {
	case h.State == HealthBroken && (!known || before.State != HealthBroken):
		m.svc.Log.Warn("link broken", "database", localVar, "link", name, "reason", h.Reason)
	case h.State == HealthHealthy && known && before.State == HealthBroken:
		m.svc.Log.Info("link healthy again", "database", localVar, "link", name)
	}
}

// Forget drops a link's result (after destroy, or when it is not found).
func (m *Monitor) Forget(localVar, name string) {
	m.mu.Lock()
	delete(m.results, HealthKey(localVar, name))
	delete(m.stale, HealthKey(localVar, name))
	m.mu.Unlock()
}

// Wait blocks until every queued background probe has finished.
func (m *Monitor) Wait() { m.wg.Wait() }

func (m *Monitor) refresh(localVar, name string) {
	key := HealthKey(localVar, name)
	m.mu.Lock()
	if m.inflight[key] {
		m.mu.Unlock()
		return
	}
	m.inflight[key] = true
	sem := m.sem
	m.mu.Unlock()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer func() {
			m.mu.Lock()
			delete(m.inflight, key)
			m.mu.Unlock()
		}()
		sem <- struct{}{}
		defer func() { <-sem }()
		// ProbeLink bounds itself; this context only ties it to nothing
		// else (the page that queued it has long been served).
		h, err := m.svc.ProbeLink(context.Background(), localVar, name)
		if err != nil {
			if !fleet.IsBusy(err) && !errors.Is(err, errLinkBusy) {
				m.Forget(localVar, name)
			}
			return
		}
		m.Put(localVar, name, h)
	}()
}

// Run keeps every link's probe fresh in the background until ctx ends:
// every interval, the links of the inventory's snapshots (no database is
// read for this) whose result is missing or older than TTL are queued, as
// a page view would. So health is known after a restart, and stays known,
// whether or not anyone looks.
func (m *Monitor) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = m.TTL / 2
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		m.Lookup(m.svc.CachedInventory())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
