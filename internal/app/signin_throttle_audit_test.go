package app

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/pglinks/pglinks/internal/auth"
)

// Once an account is locked, every further sign-in is refused before any
// password is checked, as often as anyone without an account cares to
// ask. Each refusal must not cost a row in the audit trail, which is never
// pruned and lives in the state database with the sessions: otherwise an
// anonymous client fills that database (and buries the admins' changes)
// at the rate it can send requests. The first refusal of a lock is worth
// recording; the next ones are not.
func TestThrottledSignInsDoNotFloodAudit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	for i := range auth.DefaultAccountFailures {
		if r := c.login(adminEmail, "wrong guess number "+string(rune('a'+i)), ""); r.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i+1, r.Status)
		}
	}
	before := len(e.auditBy(t, auth.ActionLoginFailed, ""))
	c.get("/login") // one form token serves every post below
	const refusals = 60
	for i := range refusals {
		form := url.Values{"email": {adminEmail}, "password": {"another wrong guess"}, "csrf": {c.csrf}}
		if r := c.do("POST", "/login", form); r.Status != http.StatusTooManyRequests {
			t.Fatalf("refusal %d answered %d", i+1, r.Status)
		}
	}
	added := len(e.auditBy(t, auth.ActionLoginFailed, "")) - before
	if added > 1 {
		t.Fatalf("%d sign-ins refused as throttled wrote %d audit rows: an anonymous client writes one row per request, with no bound", refusals, added)
	}
}
