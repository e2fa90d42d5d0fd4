package pgtest

import "time"

// Eventually polls cond every 50 ms until it holds, or fails tb after
// timeout naming what it waited for. Tests wait with it rather than with a
// fixed sleep: it returns as soon as the condition holds, and the timeout
// is only the bound past which waiting is a failure.
func Eventually(tb TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
