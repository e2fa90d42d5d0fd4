package auth

import (
	"context"
	"fmt"
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
	// reported (say the process died), so it cannot lock anyone out.
	pendingTTL = time.Minute
	// pruneEvery is how often a limiter deletes rows that no longer
	// count, at most.
	pruneEvery = time.Minute
)

// Limiter throttles sign-in attempts per peer address and per account. The
// counts live in the state database, so every pglinks process sharing it
// enforces one limit. Call Allow before checking a password, then exactly
// one of Failure, Success or Abandon with the Attempt it returned. Allowed
// attempts count until their outcome is reported, so a burst of parallel
// requests, to one process or several, cannot slip past the limit.
//
// Every call is bounded by the Store's call timeout. A state database that
// does not answer makes Allow fail (the sign-in answers 503): a limit that
// cannot be checked refuses rather than lets everyone through. Outcomes are
// recorded even when the request has gone away meanwhile: a guesser who
// hangs up once the password was checked still counts.
type Limiter struct {
	// Now is the clock; tests replace it to let failures expire.
	Now func() time.Time

	store             *Store
	accountMax, ipMax int
	window            time.Duration

	mu        sync.Mutex
	lastPrune time.Time
}

// NewLimiter allows at most accountMax failures per account and ipMax per
// address within window, counted in store's database; zero values take the
// defaults.
func NewLimiter(store *Store, accountMax, ipMax int, window time.Duration) *Limiter {
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
		Now:        time.Now,
		store:      store,
		accountMax: accountMax,
		ipMax:      ipMax,
		window:     window,
	}
}

// Attempt is a sign-in attempt Allow let through.
type Attempt struct {
	keys []limitKey
	ids  []int64 // its pending rows, one per key
}

// Allow reports whether a sign-in attempt from ip for email may go ahead.
// If it may, it returns the Attempt to report the outcome of; if not, a nil
// Attempt and how long until it may. ip must be the direct peer address
// unless a trusted proxy vouches for another.
func (l *Limiter) Allow(ctx context.Context, ip, email string) (_ *Attempt, retryAfter time.Duration, rerr error) {
	ctx, end := l.store.call(ctx, &rerr)
	defer end()
	now := l.Now()
	att := &Attempt{keys: l.keys(ip, email)}
	if len(att.keys) == 0 {
		return att, 0, nil
	}
	if err := l.prune(ctx, now); err != nil {
		return nil, 0, err
	}
	tx, err := l.store.pool.Begin(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("auth: sign-in limit: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	// Checking and counting must be one step across processes: the keys'
	// locks are taken in one order (keys are sorted), so two attempts
	// never wait for each other in a cycle.
	names := make([]string, len(att.keys))
	for i, k := range att.keys {
		names[i] = k.key
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('pglinks:sign-in:' || $1, 0))", k.key); err != nil {
			return nil, 0, fmt.Errorf("auth: sign-in limit: lock: %w", err)
		}
	}
	rows, err := tx.Query(ctx,
		"SELECT key, at, pending FROM pglinks.sign_in_attempts WHERE key = ANY($1) AND at > $2 ORDER BY at",
		names, now.Add(-max(l.window, pendingTTL)))
	if err != nil {
		return nil, 0, fmt.Errorf("auth: sign-in limit: read: %w", err)
	}
	counts := map[string]*keyAttempts{}
	for rows.Next() {
		var key string
		var at time.Time
		var pending bool
		if err := rows.Scan(&key, &at, &pending); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("auth: sign-in limit: read: %w", err)
		}
		c := counts[key]
		if c == nil {
			c = &keyAttempts{}
			counts[key] = c
		}
		if pending {
			c.pending = append(c.pending, at)
		} else {
			c.fails = append(c.fails, at)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("auth: sign-in limit: read: %w", err)
	}
	// An address this account signed in from before is not held by the
	// account's lock (its own limit still holds): otherwise a stranger
	// guessing slowly from elsewhere keeps the owner out for as long as
	// they like.
	var knownHere bool
	if known := knownKey(att.keys); known != "" {
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pglinks.sign_in_attempts WHERE key = $1 AND at > $2)",
			known, now.Add(-knownFor)).Scan(&knownHere); err != nil {
			return nil, 0, fmt.Errorf("auth: sign-in limit: read: %w", err)
		}
	}
	for _, k := range att.keys {
		if knownHere && strings.HasPrefix(k.key, "account:") {
			continue
		}
		if c := counts[k.key]; c != nil {
			if wait := l.blocked(c, k.max, now); wait > retryAfter {
				retryAfter = wait
			}
		}
	}
	if retryAfter > 0 {
		return nil, retryAfter, nil
	}
	rows, err = tx.Query(ctx,
		"INSERT INTO pglinks.sign_in_attempts (key, at, pending) SELECT k, $2, true FROM unnest($1::text[]) AS k RETURNING id",
		names, now)
	if err != nil {
		return nil, 0, fmt.Errorf("auth: sign-in limit: count: %w", err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("auth: sign-in limit: count: %w", err)
		}
		att.ids = append(att.ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("auth: sign-in limit: count: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, 0, fmt.Errorf("auth: sign-in limit: commit: %w", err)
	}
	return att, 0, nil
}

// Failure records that the attempt's password was wrong.
func (l *Limiter) Failure(ctx context.Context, a *Attempt) (rerr error) {
	if len(a.keys) == 0 {
		return nil
	}
	ctx, end := l.store.call(context.WithoutCancel(ctx), &rerr)
	defer end()
	// Its pending rows become failures, even if they were already pruned
	// (a check that took longer than pendingTTL still failed).
	_, err := l.store.pool.Exec(ctx,
		`WITH pending AS (DELETE FROM pglinks.sign_in_attempts WHERE id = ANY($1))
		 INSERT INTO pglinks.sign_in_attempts (key, at, pending) SELECT k, $3, false FROM unnest($2::text[]) AS k`,
		a.ids, keyNames(a.keys), l.Now())
	if err != nil {
		return fmt.Errorf("auth: sign-in limit: record failure: %w", err)
	}
	return nil
}

// Abandon ends an attempt whose password was never checked (the request
// was cancelled, the state database did not answer). It counts as neither
// failure nor success: only a correct password clears failures.
func (l *Limiter) Abandon(ctx context.Context, a *Attempt) (rerr error) {
	if len(a.ids) == 0 {
		return nil
	}
	ctx, end := l.store.call(context.WithoutCancel(ctx), &rerr)
	defer end()
	if _, err := l.store.pool.Exec(ctx, "DELETE FROM pglinks.sign_in_attempts WHERE id = ANY($1)", a.ids); err != nil {
		return fmt.Errorf("auth: sign-in limit: abandon: %w", err)
	}
	return nil
}

// Success records a successful sign-in. It clears the account's failures
// but not the address's: otherwise one valid account would let an attacker
// reset the per-address limit and spray guesses at every other account.
func (l *Limiter) Success(ctx context.Context, a *Attempt) (rerr error) {
	if len(a.keys) == 0 {
		return nil
	}
	ctx, end := l.store.call(context.WithoutCancel(ctx), &rerr)
	defer end()
	var account string
	for _, k := range a.keys {
		if strings.HasPrefix(k.key, "account:") {
			account = k.key
		}
	}
	// The address becomes known for the account (see Allow), for knownFor.
	known := knownKey(a.keys)
	if _, err := l.store.pool.Exec(ctx, `WITH gone AS (DELETE FROM pglinks.sign_in_attempts WHERE id = ANY($1) OR key = $2 OR key = $3)
		INSERT INTO pglinks.sign_in_attempts (key, at, pending) SELECT $3, $4, false WHERE $3 <> ''`, a.ids, account, known, l.Now()); err != nil {
		return fmt.Errorf("auth: sign-in limit: record success: %w", err)
	}
	return nil
}

// knownFor is how long an address an account signed in from stays known
// to it: the account's lock does not hold it back.
const knownFor = 30 * 24 * time.Hour

// knownKey is the row that says keys' address is known to keys' account,
// "" when the attempt has no address or no account.
func knownKey(keys []limitKey) string {
	var ip, account string
	for _, k := range keys {
		switch {
		case strings.HasPrefix(k.key, "ip:"):
			ip = strings.TrimPrefix(k.key, "ip:")
		case strings.HasPrefix(k.key, "account:"):
			account = strings.TrimPrefix(k.key, "account:")
		}
	}
	if ip == "" || account == "" {
		return ""
	}
	return "known:" + account + "|" + ip
}

// prune deletes rows that no longer count, at most once per pruneEvery
// per limiter. Only failures of the last window and pending attempts of
// the last pendingTTL are ever read.
func (l *Limiter) prune(ctx context.Context, now time.Time) error {
	l.mu.Lock()
	due := now.Sub(l.lastPrune) >= pruneEvery || now.Before(l.lastPrune)
	if due {
		l.lastPrune = now
	}
	l.mu.Unlock()
	if !due {
		return nil
	}
	if _, err := l.store.pool.Exec(ctx,
		`DELETE FROM pglinks.sign_in_attempts WHERE CASE WHEN key LIKE 'known:%' THEN at <= $3 ELSE at <= $1 OR (pending AND at <= $2) END`,
		now.Add(-l.window), now.Add(-pendingTTL), now.Add(-knownFor)); err != nil {
		return fmt.Errorf("auth: sign-in limit: prune: %w", err)
	}
	return nil
}

type limitKey struct {
	key string
	max int
}

// keys returns the limits an attempt counts against, sorted by key.
func (l *Limiter) keys(ip, email string) []limitKey {
	var ks []limitKey
	if ip = normalizeIP(ip); ip != "" {
		ks = append(ks, limitKey{"ip:" + ip, l.ipMax})
	}
	if email = normalizeEmail(email); email != "" {
		ks = append(ks, limitKey{"account:" + email, l.accountMax})
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].key < ks[j].key })
	return ks
}

func keyNames(ks []limitKey) []string {
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = k.key
	}
	return names
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

// keyAttempts are one key's recent attempts, oldest first.
type keyAttempts struct {
	fails   []time.Time
	pending []time.Time
}

// blocked returns how long a key with these attempts stays locked (0 if
// not).
func (l *Limiter) blocked(c *keyAttempts, limit int, now time.Time) time.Duration {
	fails := dropBefore(c.fails, now.Add(-l.window))
	pending := dropBefore(c.pending, now.Add(-pendingTTL))
	if len(fails) > limit {
		fails = fails[len(fails)-limit:]
	}
	if len(fails)+len(pending) < limit {
		return 0
	}
	// The lock lifts when the oldest counted attempt ages out.
	var until time.Time
	if len(fails) > 0 {
		until = fails[0].Add(l.window)
	}
	if len(pending) > 0 {
		if p := pending[0].Add(pendingTTL); until.IsZero() || p.Before(until) {
			until = p
		}
	}
	return max(until.Sub(now), time.Second)
}

func dropBefore(ts []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(ts) && !ts[i].After(cutoff) {
		i++
	}
	return ts[i:]
}
