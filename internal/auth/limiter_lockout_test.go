package auth

import (
	"context"
	"testing"
	"time"
)

// The account limit refuses even the correct password while it holds, so
// it must not become a switch anyone can keep on. Here one address, never
// near its own limit (one guess every three minutes, 5 per quarter hour),
// guesses at an admin's account for two hours. The admin, at the address
// they always sign in from, has the right password and tries every
// quarter hour: a correct password from the owner's own address must get
// through at some point, otherwise one stranger who knows an admin's email
// keeps that admin out for as long as they like (and no reset or command
// lifts the lock).
func TestLimiterSlowGuesserCannotLockOwnerOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, clk := newTestLimiter(t)
	const (
		account  = "ada@example.com"
		home     = "198.51.100.7"
		stranger = "203.0.113.9"
	)
	// The admin signed in from home before: that address is known good.
	a, _ := allow(t, l, home, account)
	if a == nil {
		t.Fatal("first sign-in refused")
	}
	if err := l.Success(ctx, a); err != nil {
		t.Fatal(err)
	}

	refusedGuesses, ownerRefused, ownerTries := 0, 0, 0
	for step := 0; step < 40; step++ { // 40 steps of three minutes: two hours
		if !fail(t, l, stranger, account) {
			refusedGuesses++
		}
		if step%5 == 4 {
			ownerTries++
			a, wait := allow(t, l, home, account)
			if a == nil {
				ownerRefused++
				t.Logf("%v after the first guess: the owner's correct password is refused for %v more", clk.Now().Sub(newFakeClock().Now()), wait)
			} else if err := l.Success(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		clk.Advance(3 * time.Minute)
	}
	if ownerRefused == ownerTries {
		t.Fatalf("the owner was refused at every one of %d tries over two hours, from their usual address with the right password, "+
			"while the stranger, at one guess per three minutes from one address, was refused only %d times: the account lock is the stranger's to keep",
			ownerTries, refusedGuesses)
	}
}
