package app

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/pglinks/pglinks/internal/auth"
)

// A reset is what an admin does when a user's password leaked, and its
// confirmation promises the user is "signed out everywhere at once". Whoever
// held the leaked password could sign in and make an API token without
// typing the password again; that token must not outlive the reset, or the
// intruder keeps the user's role (here an admin's) through /api/v1.
func TestPasswordResetEndsAPITokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const victim = "ops@example.com"
	if _, err := e.store.AddUser(context.Background(), victim, auth.RoleAdmin, password); err != nil {
		t.Fatal(err)
	}

	// The intruder, with the leaked password: a session, then a token
	// that never expires, made on the Account page.
	intruder := e.client(t)
	intruder.signIn(victim)
	if r := intruder.post("/account/tokens", url.Values{"name": {"laptop"}, "expires": {""}}); r.Status != http.StatusSeeOther {
		t.Fatalf("create token: %d %.300s", r.Status, r.Body)
	}
	secret := regexpFind(t, intruder.get("/account").Body, `data-testid="new-token-value">([^<]+)<`)
	api := &apiClient{t: t, e: e, token: secret}
	if r := api.get("/api/v1/me"); r.Status != http.StatusOK {
		t.Fatalf("the token does not work before the reset: %d", r.Status)
	}

	// Another admin resets the password.
	admin := e.client(t)
	admin.signIn(adminEmail)
	id := strconv.FormatInt(e.userID(t, victim), 10)
	if r := admin.post("/users/"+id+"/password", nil); r.Status != http.StatusSeeOther || r.Location != "/users/"+id+"/password/new" {
		t.Fatalf("reset: %d to %q", r.Status, r.Location)
	}
	if r := intruder.get("/account"); r.Status != http.StatusSeeOther {
		t.Fatalf("the intruder's session survived the reset: %d", r.Status)
	}
	if r := api.get("/api/v1/me"); r.Status != http.StatusUnauthorized {
		t.Fatalf("after the reset the intruder's API token still answers %d (want 401): "+
			"the reset ended the sessions but not the tokens made with the leaked password", r.Status)
	}
}
