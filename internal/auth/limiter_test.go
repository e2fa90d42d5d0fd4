package auth

import (
	"fmt"
	"testing"
	"time"
)

func newTestLimiter() (*Limiter, *fakeClock) {
	l := NewLimiter(0, 0, 0)
	clk := newFakeClock()
	l.now = clk.Now
	return l, clk
}

// fail runs one failed sign-in through l and reports whether it was allowed.
func fail(l *Limiter, ip, email string) bool {
	ok, _ := l.Allow(ip, email)
	if ok {
		l.Failure(ip, email)
	}
	return ok
}

func TestLimiter(t *testing.T) {
	t.Run("AccountLockout", func(t *testing.T) {
		l, clk := newTestLimiter()
		for i := range DefaultAccountFailures {
			// From a new address each time: the account limit alone applies.
			if !fail(l, fmt.Sprintf("10.0.0.%d", i), "ada@example.com") {
				t.Fatalf("attempt %d refused", i+1)
			}
			clk.Advance(time.Second)
		}
		ok, wait := l.Allow("10.0.1.1", "ADA@example.com ")
		if ok {
			t.Fatal("account not locked after 5 failures")
		}
		if wait <= DefaultFailureWindow-time.Minute || wait > DefaultFailureWindow {
			t.Fatalf("retry after %v", wait)
		}
		if ok, _ := l.Allow("10.0.1.1", "bob@example.com"); !ok {
			t.Fatal("another account is locked too")
		}
	})

	t.Run("IPLockout", func(t *testing.T) {
		l, _ := newTestLimiter()
		for i := range DefaultIPFailures {
			if !fail(l, "192.0.2.7", fmt.Sprintf("user%d@example.com", i)) {
				t.Fatalf("attempt %d refused", i+1)
			}
		}
		if ok, wait := l.Allow("192.0.2.7:51234", "new@example.com"); ok || wait <= 0 {
			t.Fatalf("address not locked after 20 failures: %v %v", ok, wait)
		}
		if ok, _ := l.Allow("192.0.2.8", "new@example.com"); !ok {
			t.Fatal("another address is locked too")
		}
	})

	t.Run("Recovery", func(t *testing.T) {
		l, clk := newTestLimiter()
		for range DefaultAccountFailures {
			fail(l, "10.0.0.1", "ada@example.com")
		}
		ok, wait := l.Allow("10.0.0.1", "ada@example.com")
		if ok {
			t.Fatal("not locked")
		}
		clk.Advance(wait - time.Second)
		if ok, _ := l.Allow("10.0.0.1", "ada@example.com"); ok {
			t.Fatal("unlocked before the window passed")
		}
		clk.Advance(time.Second)
		if ok, _ := l.Allow("10.0.0.1", "ada@example.com"); !ok {
			t.Fatal("still locked after the window passed")
		}
	})

	t.Run("SuccessClearsAccountNotAddress", func(t *testing.T) {
		l, _ := newTestLimiter()
		for range DefaultAccountFailures - 1 {
			fail(l, "10.0.0.1", "ada@example.com")
		}
		if ok, _ := l.Allow("10.0.0.1", "ada@example.com"); !ok {
			t.Fatal("refused before the limit")
		}
		l.Success("10.0.0.1", "ada@example.com")
		for i := range DefaultAccountFailures {
			if !fail(l, "10.0.0.2", "ada@example.com") {
				t.Fatalf("account failures not cleared by success (attempt %d)", i+1)
			}
		}
		// The address keeps its count: 4 + 1 pending-then-success do not
		// reset, so 16 more failures lock it.
		for i := range DefaultIPFailures - (DefaultAccountFailures - 1) {
			if !fail(l, "10.0.0.1", fmt.Sprintf("u%d@example.com", i)) {
				t.Fatalf("address locked early at %d", i)
			}
		}
		if ok, _ := l.Allow("10.0.0.1", "zz@example.com"); ok {
			t.Fatal("a success reset the address's failures")
		}
	})

	t.Run("ParallelAttemptsCount", func(t *testing.T) {
		// Five attempts in flight at once use up the account's budget.
		l, clk := newTestLimiter()
		for i := range DefaultAccountFailures {
			if ok, _ := l.Allow(fmt.Sprintf("10.0.0.%d", i), "ada@example.com"); !ok {
				t.Fatalf("attempt %d refused", i+1)
			}
		}
		if ok, _ := l.Allow("10.0.0.9", "ada@example.com"); ok {
			t.Fatal("sixth parallel attempt allowed")
		}
		// Attempts whose outcome never came are forgotten.
		clk.Advance(pendingTTL + time.Second)
		if ok, _ := l.Allow("10.0.0.9", "ada@example.com"); !ok {
			t.Fatal("abandoned attempts still count")
		}
	})

	t.Run("IPv6Prefix", func(t *testing.T) {
		l, _ := newTestLimiter()
		for i := range DefaultIPFailures {
			fail(l, fmt.Sprintf("2001:db8:1:2::%x", i+1), fmt.Sprintf("u%d@example.com", i))
		}
		if ok, _ := l.Allow("[2001:db8:1:2:ffff::1]:443", "x@example.com"); ok {
			t.Fatal("same /64 not limited together")
		}
		if ok, _ := l.Allow("2001:db8:1:3::1", "x@example.com"); !ok {
			t.Fatal("another /64 limited")
		}
	})

	t.Run("BoundedMemory", func(t *testing.T) {
		l, clk := newTestLimiter()
		for i := range maxLimiterKeys + 500 {
			fail(l, fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), fmt.Sprintf("u%d@example.com", i))
			if i%100 == 0 {
				clk.Advance(time.Millisecond)
			}
		}
		if n := len(l.entries); n > maxLimiterKeys {
			t.Fatalf("%d entries kept, limit %d", n, maxLimiterKeys)
		}
		clk.Advance(DefaultFailureWindow + time.Second)
		fail(l, "10.255.255.255", "last@example.com")
		l.mu.Lock()
		l.sweep(clk.Now())
		n := len(l.entries)
		l.mu.Unlock()
		if n != 2 {
			t.Fatalf("%d entries after the window passed, want 2", n)
		}
	})
}
