package auth

import (
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"
)

// Default login throttling: a guesser gets 5 tries at one account and 20
// from one address per quarter hour, while a person mistyping a password a
// few times is never stopped.
const (
	DefaultAccountFailures = 5
	DefaultIPFailures      = 20
	DefaultFailureWindow   = 15 * time.Minute
)

const (
	// pendingTTL forgets an allowed attempt whose outcome was never
	// reported (say the database failed), so it cannot lock anyone out.
	pendingTTL = time.Minute
	// maxLimiterKeys bounds memory; beyond it the stalest entries go.
	maxLimiterKeys = 10000
	sweepEvery     = 1000
)

// Limiter throttles sign-in attempts per peer address and per account, in
// memory. Call Allow before checking a password, then exactly one of
// Failure or Success. Allowed attempts count until their outcome is
// reported, so a burst of parallel requests cannot slip past the limit.
type Limiter struct {
	accountMax, ipMax int
	window            time.Duration
	now               func() time.Time // replaced in tests

	mu      sync.Mutex
	entries map[string]*limitEntry
	ops     int
}

type limitEntry struct {
	fails   []time.Time // oldest first, at most the key's limit
	pending []time.Time // allowed attempts with no outcome yet
	last    time.Time
}

// NewLimiter allows at most accountMax failures per account and ipMax per
// address within window; zero values take the defaults.
func NewLimiter(accountMax, ipMax int, window time.Duration) *Limiter {
	if accountMax <= 0 {
		accountMax = DefaultAccountFailures
	}
	if ipMax <= 0 {
		ipMax = DefaultIPFailures
	}
	if window <= 0 {
		window = DefaultFailureWindow
	}
	return &Limiter{
		accountMax: accountMax,
		ipMax:      ipMax,
		window:     window,
		now:        time.Now,
		entries:    map[string]*limitEntry{},
	}
}

// Allow reports whether a sign-in attempt from ip for email may go ahead,
// and if not, how long until it may. ip must be the direct peer address
// unless a trusted proxy vouches for another.
func (l *Limiter) Allow(ip, email string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	keys := l.keys(ip, email)
	for _, k := range keys {
		if wait := l.blocked(k.key, k.max, now); wait > retryAfter {
			retryAfter = wait
		}
	}
	if retryAfter > 0 {
		return false, retryAfter
	}
	for _, k := range keys {
		e := l.entry(k.key, now)
		e.pending = append(e.pending, now)
	}
	return true, 0
}

// Failure records a failed attempt.
func (l *Limiter) Failure(ip, email string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range l.keys(ip, email) {
		e := l.entry(k.key, now)
		e.pending = dropOldest(e.pending)
		e.fails = append(e.fails, now)
		if len(e.fails) > k.max {
			e.fails = e.fails[len(e.fails)-k.max:]
		}
	}
}

// Abandon ends an allowed attempt whose password was never checked (the
// request was cancelled, the state database did not answer). It counts as
// neither failure nor success: only a correct password clears failures.
func (l *Limiter) Abandon(ip, email string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range l.keys(ip, email) {
		if e, ok := l.entries[k.key]; ok {
			e.pending = dropOldest(e.pending)
			e.last = now
		}
	}
}

// Success records a successful sign-in. It clears the account's failures
// but not the address's: otherwise one valid account would let an attacker
// reset the per-address limit and spray guesses at every other account.
func (l *Limiter) Success(ip, email string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range l.keys(ip, email) {
		if strings.HasPrefix(k.key, "account:") {
			delete(l.entries, k.key)
			continue
		}
		if e, ok := l.entries[k.key]; ok {
			e.pending = dropOldest(e.pending)
			e.last = now
		}
	}
}

type limitKey struct {
	key string
	max int
}

func (l *Limiter) keys(ip, email string) []limitKey {
	var ks []limitKey
	if ip = normalizeIP(ip); ip != "" {
		ks = append(ks, limitKey{"ip:" + ip, l.ipMax})
	}
	if email = normalizeEmail(email); email != "" {
		ks = append(ks, limitKey{"account:" + email, l.accountMax})
	}
	return ks
}

// normalizeIP strips a port and widens IPv6 addresses to their /64, since
// one host usually controls a whole /64.
func normalizeIP(ip string) string {
	ip = strings.TrimSpace(ip)
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			return p.String()
		}
	}
	return addr.String()
}

// blocked prunes key's entry and returns how long it stays locked (0 if not).
func (l *Limiter) blocked(key string, limit int, now time.Time) time.Duration {
	e, ok := l.entries[key]
	if !ok {
		return 0
	}
	l.prune(e, now)
	if len(e.fails)+len(e.pending) < limit {
		return 0
	}
	// The lock lifts when the oldest counted attempt ages out.
	var until time.Time
	if len(e.fails) > 0 {
		until = e.fails[0].Add(l.window)
	}
	if len(e.pending) > 0 {
		if p := e.pending[0].Add(pendingTTL); until.IsZero() || p.Before(until) {
			until = p
		}
	}
	return max(until.Sub(now), time.Second)
}

func (l *Limiter) prune(e *limitEntry, now time.Time) {
	e.fails = dropBefore(e.fails, now.Add(-l.window))
	e.pending = dropBefore(e.pending, now.Add(-pendingTTL))
}

// entry returns key's entry, creating it, and keeps the map bounded.
func (l *Limiter) entry(key string, now time.Time) *limitEntry {
	l.ops++
	if l.ops%sweepEvery == 0 {
		l.sweep(now)
	}
	e, ok := l.entries[key]
	if !ok {
		if len(l.entries) >= maxLimiterKeys {
			l.sweep(now)
		}
		if len(l.entries) >= maxLimiterKeys {
			l.evictStalest()
		}
		e = &limitEntry{}
		l.entries[key] = e
	}
	e.last = now
	return e
}

func (l *Limiter) sweep(now time.Time) {
	for k, e := range l.entries {
		l.prune(e, now)
		if len(e.fails) == 0 && len(e.pending) == 0 {
			delete(l.entries, k)
		}
	}
}

// evictStalest drops the tenth of entries used longest ago. Evicting in
// bulk keeps the cost per new key low while the map is full.
func (l *Limiter) evictStalest() {
	type aged struct {
		key  string
		last time.Time
	}
	all := make([]aged, 0, len(l.entries))
	for k, e := range l.entries {
		all = append(all, aged{k, e.last})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].last.Before(all[j].last) })
	for _, a := range all[:max(1, len(all)/10)] {
		delete(l.entries, a.key)
	}
}

func dropBefore(ts []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(ts) && !ts[i].After(cutoff) {
		i++
	}
	return ts[i:]
}

func dropOldest(ts []time.Time) []time.Time {
	if len(ts) == 0 {
		return ts
	}
	return ts[1:]
}
