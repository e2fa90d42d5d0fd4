package app

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pglinks/pglinks/internal/auth"
)

// userID returns the id of the user with email, as the URLs carry it.
func userID(t *testing.T, e *env, email string) string {
	t.Helper()
	users, err := e.store.ListUsers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Email == email {
			return strconv.FormatInt(u.ID, 10)
		}
	}
	t.Fatalf("no user %s", email)
	return ""
}

// lockedBuffer collects log output from concurrent requests.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Reset password asks first, then shows the new password once on a page of
// its own reached by a redirect: reloading that page neither resets again
// nor shows the password again, and the password is in no URL and no log.
func TestResetPasswordConfirmedAndShownOnce(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	e := newEnv(t, func(c *Config) {
		c.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	c := e.client(t)
	c.signIn(adminEmail)
	id := userID(t, e, viewerEmail)

	r := c.get("/users")
	if !strings.Contains(r.Body, `href="/users/`+id+`/password"`) {
		t.Fatal("the Users page does not lead to the reset confirmation")
	}
	r = c.get("/users/" + id + "/password")
	if r.Status != http.StatusOK || !strings.Contains(r.Body, `data-testid="reset-password-confirm"`) || !strings.Contains(r.Body, viewerEmail) {
		t.Fatalf("confirmation: %d %.300s", r.Status, r.Body)
	}
	if _, err := e.store.Authenticate(context.Background(), viewerEmail, password); err != nil {
		t.Fatalf("showing the confirmation changed the password: %v", err)
	}

	r = c.post("/users/"+id+"/password", nil)
	if r.Status != http.StatusSeeOther || r.Location != "/users/"+id+"/password/new" {
		t.Fatalf("reset: %d to %q, want 303 to the result page", r.Status, r.Location)
	}
	r = c.get(r.Location)
	if r.Status != http.StatusOK {
		t.Fatalf("result page: %d", r.Status)
	}
	pw := regexpFind(t, r.Body, `data-testid="new-password-value">([^<]+)<`)
	if _, err := e.store.Authenticate(context.Background(), viewerEmail, pw); err != nil {
		t.Fatalf("the shown password does not work: %v", err)
	}

	// Reload: the note, not the password, and no second reset.
	r = c.get("/users/" + id + "/password/new")
	if r.Status != http.StatusOK || strings.Contains(r.Body, pw) || strings.Contains(r.Body, `data-testid="new-password-value"`) {
		t.Fatalf("reloaded result page shows the password again: %d", r.Status)
	}
	if !strings.Contains(r.Body, `data-testid="password-shown-once"`) {
		t.Fatalf("reloaded result page does not say the password was shown once: %.400s", r.Body)
	}
	if _, err := e.store.Authenticate(context.Background(), viewerEmail, pw); err != nil {
		t.Fatalf("reloading reset the password again: %v", err)
	}
	if n := auditCount(t, e, auth.ActionPasswordReset); n != 1 {
		t.Fatalf("%d password resets recorded, want 1", n)
	}
	// Another session of the same admin never sees it either.
	other := e.client(t)
	other.signIn(adminEmail)
	if r := other.get("/users/" + id + "/password/new"); strings.Contains(r.Body, pw) {
		t.Fatal("another session was shown the password")
	}
	if strings.Contains(logs.String(), pw) {
		t.Fatal("the new password is in the log")
	}
	if !strings.Contains(logs.String(), "/password/new") {
		t.Fatal("no request was logged: the log check proves nothing")
	}

	// Your own password is changed on your account page, not reset.
	self := userID(t, e, adminEmail)
	for _, r := range []response{c.get("/users/" + self + "/password"), c.post("/users/"+self+"/password", nil)} {
		if r.Status != http.StatusSeeOther || r.Location != "/account" {
			t.Fatalf("resetting yourself: %d to %q", r.Status, r.Location)
		}
	}
}

// Demoting yourself asks first, says what you lose, and lands on a page a
// viewer may see; another user's role changes in one click.
func TestDemoteSelfConfirmed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	c.signIn(adminEmail)
	self, viewer := userID(t, e, adminEmail), userID(t, e, viewerEmail)

	// Another user: one click.
	r := c.post("/users/"+viewer+"/role", url.Values{"role": {"admin"}})
	if r.Status != http.StatusSeeOther || r.Location != "/users" {
		t.Fatalf("promote another user: %d to %q", r.Status, r.Location)
	}
	if u, _ := e.store.GetUser(context.Background(), mustID(t, viewer)); u.Role != auth.RoleAdmin {
		t.Fatalf("another user's role: %s", u.Role)
	}

	// Yourself: Save leads to a confirmation and changes nothing yet.
	r = c.post("/users/"+self+"/role", url.Values{"role": {"viewer"}})
	if r.Status != http.StatusSeeOther || r.Location != "/users/"+self+"/role?role=viewer" {
		t.Fatalf("demote yourself: %d to %q, want the confirmation", r.Status, r.Location)
	}
	if u, _ := e.store.GetUser(context.Background(), mustID(t, self)); u.Role != auth.RoleAdmin {
		t.Fatal("demoted without confirmation")
	}
	r = c.get(r.Location)
	if r.Status != http.StatusOK || !strings.Contains(r.Body, `data-testid="demote-self-confirm"`) {
		t.Fatalf("confirmation: %d %.300s", r.Status, r.Body)
	}
	for _, lost := range []string{"destroy", "users", "audit trail"} {
		if !strings.Contains(r.Body, lost) {
			t.Errorf("the confirmation does not say you lose %q", lost)
		}
	}
	r = c.post("/users/"+self+"/role", url.Values{"role": {"viewer"}, "confirm": {"yes"}})
	if r.Status != http.StatusSeeOther || r.Location != "/" {
		t.Fatalf("confirmed demotion: %d to %q, want the inventory", r.Status, r.Location)
	}
	r = c.get("/")
	if r.Status != http.StatusOK || !strings.Contains(r.Body, "You are now a viewer") {
		t.Fatalf("after demotion: %d %.300s", r.Status, r.Body)
	}
	if r := c.get("/users"); r.Status != http.StatusForbidden {
		t.Fatalf("a viewer on /users: %d", r.Status)
	}
	if n := auditCount(t, e, auth.ActionUserSetRole); n != 2 {
		t.Fatalf("%d role changes recorded, want 2", n)
	}
}

func mustID(t *testing.T, s string) int64 {
	t.Helper()
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
