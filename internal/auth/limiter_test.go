package auth

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/state"
)

// newTestLimiter returns a limiter with the default limits over a fresh
// state database, on the store's clock.
func newTestLimiter(t *testing.T) (*Limiter, *fakeClock) {
	t.Helper()
	s, clk := mustOpen(t)
	l := NewLimiter(s, 0, 0, 0)
	l.Now = clk.Now
	return l, clk
}

// allow is Allow for tests that expect no database error.
func allow(t *testing.T, l *Limiter, ip, email string) (*Attempt, time.Duration) {
	t.Helper()
	a, wait, err := l.Allow(context.Background(), ip, email)
	if err != nil {
		t.Fatal(err)
	}
	return a, wait
}

// fail runs one failed sign-in through l and reports whether it was allowed.
func fail(t *testing.T, l *Limiter, ip, email string) bool {
	t.Helper()
	a, _ := allow(t, l, ip, email)
	if a == nil {
		return false
	}
	if err := l.Failure(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	return true
}

func attemptRows(t *testing.T, l *Limiter) int {
	t.Helper()
	var n int
	if err := l.store.pool.QueryRow(context.Background(), "SELECT count(*) FROM pglinks.sign_in_attempts").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("AccountLockout", func(t *testing.T) {
		l, clk := newTestLimiter(t)
		for i := range DefaultAccountFailures {
			// From a new address each time: the account limit alone applies.
			if !fail(t, l, fmt.Sprintf("10.0.0.%d", i), "ada@example.com") {
				t.Fatalf("attempt %d refused", i+1)
			}
			clk.Advance(time.Second)
		}
		a, wait := allow(t, l, "10.0.1.1", "ADA@example.com ")
		if a != nil {
			t.Fatal("account not locked after 5 failures")
		}
		if wait <= DefaultFailureWindow-time.Minute || wait > DefaultFailureWindow {
			t.Fatalf("retry after %v", wait)
		}
		if a, _ := allow(t, l, "10.0.1.1", "bob@example.com"); a == nil {
			t.Fatal("another account is locked too")
		}
	})

	t.Run("IPLockout", func(t *testing.T) {
		l, _ := newTestLimiter(t)
		for i := range DefaultIPFailures {
			if !fail(t, l, "192.0.2.7", fmt.Sprintf("user%d@example.com", i)) {
				t.Fatalf("attempt %d refused", i+1)
			}
		}
		if a, wait := allow(t, l, "192.0.2.7:51234", "new@example.com"); a != nil || wait <= 0 {
			t.Fatalf("address not locked after 20 failures: %v %v", a, wait)
		}
		if a, _ := allow(t, l, "192.0.2.8", "new@example.com"); a == nil {
			t.Fatal("another address is locked too")
		}
	})

	t.Run("Recovery", func(t *testing.T) {
		l, clk := newTestLimiter(t)
		for range DefaultAccountFailures {
			fail(t, l, "10.0.0.1", "ada@example.com")
		}
		a, wait := allow(t, l, "10.0.0.1", "ada@example.com")
		if a != nil {
			t.Fatal("not locked")
		}
		clk.Advance(wait - time.Second)
		if a, _ := allow(t, l, "10.0.0.1", "ada@example.com"); a != nil {
			t.Fatal("unlocked before the window passed")
		}
		clk.Advance(time.Second)
		if a, _ := allow(t, l, "10.0.0.1", "ada@example.com"); a == nil {
			t.Fatal("still locked after the window passed")
		}
	})

	t.Run("SuccessClearsAccountNotAddress", func(t *testing.T) {
		l, _ := newTestLimiter(t)
		for range DefaultAccountFailures - 1 {
			fail(t, l, "10.0.0.1", "ada@example.com")
		}
		a, _ := allow(t, l, "10.0.0.1", "ada@example.com")
		if a == nil {
			t.Fatal("refused before the limit")
		}
		if err := l.Success(ctx, a); err != nil {
			t.Fatal(err)
		}
		for i := range DefaultAccountFailures {
			if !fail(t, l, "10.0.0.2", "ada@example.com") {
				t.Fatalf("account failures not cleared by success (attempt %d)", i+1)
			}
		}
		// The address keeps its 4 failures (the success itself does not
		// count), so 16 more lock it.
		for i := range DefaultIPFailures - (DefaultAccountFailures - 1) {
			if !fail(t, l, "10.0.0.1", fmt.Sprintf("u%d@example.com", i)) {
				t.Fatalf("address locked early at %d", i)
			}
		}
		if a, _ := allow(t, l, "10.0.0.1", "zz@example.com"); a != nil {
			t.Fatal("a success reset the address's failures")
		}
	})

	t.Run("AbandonCountsForNothing", func(t *testing.T) {
		l, _ := newTestLimiter(t)
		for range DefaultAccountFailures - 1 {
			fail(t, l, "10.0.0.1", "ada@example.com")
		}
		a, _ := allow(t, l, "10.0.0.1", "ada@example.com")
		if err := l.Abandon(ctx, a); err != nil {
			t.Fatal(err)
		}
		// Not a failure: one more guess is checked. Not a success: the
		// four stay, so that guess is the last.
		if !fail(t, l, "10.0.0.1", "ada@example.com") {
			t.Fatal("an abandoned attempt counted as a failure")
		}
		if a, _ := allow(t, l, "10.0.0.1", "ada@example.com"); a != nil {
			t.Fatal("an abandoned attempt cleared the failures")
		}
	})

	t.Run("OutcomeRecordedAfterRequestEnds", func(t *testing.T) {
		l, _ := newTestLimiter(t)
		for range DefaultAccountFailures {
			a, _ := allow(t, l, "10.0.0.1", "ada@example.com")
			gone, cancel := context.WithCancel(ctx)
			cancel()
			if err := l.Failure(gone, a); err != nil {
				t.Fatal(err)
			}
		}
		if a, _ := allow(t, l, "10.0.0.1", "ada@example.com"); a != nil {
			t.Fatal("failures of requests that went away were not counted")
		}
	})

	t.Run("ParallelAttemptsCount", func(t *testing.T) {
		// Five attempts in flight at once use up the account's budget.
		l, clk := newTestLimiter(t)
		for i := range DefaultAccountFailures {
			if a, _ := allow(t, l, fmt.Sprintf("10.0.0.%d", i), "ada@example.com"); a == nil {
				t.Fatalf("attempt %d refused", i+1)
			}
		}
		if a, _ := allow(t, l, "10.0.0.9", "ada@example.com"); a != nil {
			t.Fatal("sixth parallel attempt allowed")
		}
		// Attempts whose outcome never came are forgotten.
		clk.Advance(pendingTTL + time.Second)
		if a, _ := allow(t, l, "10.0.0.9", "ada@example.com"); a == nil {
			t.Fatal("abandoned attempts still count")
		}
	})

	t.Run("IPv6Prefix", func(t *testing.T) {
		l, _ := newTestLimiter(t)
		for i := range DefaultIPFailures {
			fail(t, l, fmt.Sprintf("2001:db8:1:2::%x", i+1), fmt.Sprintf("u%d@example.com", i))
		}
		if a, _ := allow(t, l, "[2001:db8:1:2:ffff::1]:443", "x@example.com"); a != nil {
			t.Fatal("same /64 not limited together")
		}
		if a, _ := allow(t, l, "2001:db8:1:3::1", "x@example.com"); a == nil {
			t.Fatal("another /64 limited")
		}
	})

	t.Run("PrunesOldRows", func(t *testing.T) {
		l, clk := newTestLimiter(t)
		for i := range 50 {
			fail(t, l, fmt.Sprintf("10.0.%d.1", i), fmt.Sprintf("u%d@example.com", i))
		}
		allow(t, l, "10.9.9.9", "pending@example.com") // never reported
		if n := attemptRows(t, l); n != 102 {
			t.Fatalf("%d rows, want 102", n)
		}
		clk.Advance(DefaultFailureWindow + time.Second)
		fail(t, l, "10.255.255.255", "last@example.com")
		if n := attemptRows(t, l); n != 2 {
			t.Fatalf("%d rows after the window passed, want only the last attempt's 2", n)
		}
	})
}

// Two processes, each with its own connections and limiter over one state
// database, share one limit.
func TestLimiterSharedAcrossProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("Alternating", func(t *testing.T) {
		s, clk := mustOpen(t)
		limiters := []*Limiter{NewLimiter(s, 0, 0, 0), NewLimiter(secondStore(t, s), 0, 0, 0)}
		for _, l := range limiters {
			l.Now = clk.Now
		}
		for i := range DefaultAccountFailures {
			// A new address each time, as behind a load balancer.
			if !fail(t, limiters[i%2], fmt.Sprintf("10.0.0.%d", i), "ada@example.com") {
				t.Fatalf("guess %d refused", i+1)
			}
		}
		for i, l := range limiters {
			if a, wait := allow(t, l, "10.0.0.99", "ada@example.com"); a != nil || wait <= 0 {
				t.Fatalf("6th attempt allowed by process %d", i+1)
			}
		}
	})

	t.Run("ParallelBurst", func(t *testing.T) {
		// Checking and counting are one step: of 16 attempts at once
		// on two processes, exactly the account's budget goes ahead,
		// round after round.
		s, clk := mustOpen(t)
		limiters := []*Limiter{NewLimiter(s, 0, 0, 0), NewLimiter(secondStore(t, s), 0, 0, 0)}
		for _, l := range limiters {
			l.Now = clk.Now
		}
		for round := range 8 {
			email := fmt.Sprintf("u%d@example.com", round)
			var allowed atomic.Int32
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					a, _, err := limiters[i%2].Allow(ctx, fmt.Sprintf("10.%d.1.%d", round, i), email)
					if err != nil {
						t.Error(err)
						return
					}
					if a != nil {
						allowed.Add(1)
					}
				}()
			}
			wg.Wait()
			if n := allowed.Load(); n != DefaultAccountFailures {
				t.Fatalf("round %d: %d of 16 parallel attempts allowed, want %d", round, n, DefaultAccountFailures)
			}
		}
	})
}

// A state database that cannot be reached refuses sign-ins as unavailable
// (503), never lets them through unchecked, and within the call timeout.
func TestLimiterStateDatabaseDown(t *testing.T) {
	t.Parallel()
	// A state database reached through a proxy that then goes away.
	proxy, err := cluster.NewProxy()
	if err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(context.Background(), proxy.URL(mustCreateDatabase(t).URL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	proxy.Close()
	s := NewStore(db)
	s.CallTimeout = 3 * time.Second
	l := NewLimiter(s, 0, 0, 0)
	a, _, err := l.Allow(context.Background(), "10.0.0.1", "ada@example.com")
	if a != nil {
		t.Fatal("attempt allowed with the state database down")
	}
	assertKind(t, err, errs.Unavailable, "")
}
