package app

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/auth"
)

var tokenRe = regexp.MustCompile(`data-testid="new-token-value">(pgl_[A-Za-z0-9_-]{43})<`)

// A user makes a token on the Account page and sees it once; it works
// against the API with the user's role; its owner revokes it there, and
// it stops working.
func TestAccountTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	c.signIn(viewerEmail)
	if r := c.get("/account"); r.Status != 200 || !strings.Contains(r.Body, `data-testid="no-tokens"`) {
		t.Fatalf("account: %d", r.Status)
	}
	r := c.post("/account/tokens", url.Values{"name": {"dashboards"}, "expires": {"90"}})
	if r.Status != http.StatusSeeOther || r.Location != "/account#tokens" || strings.Contains(r.Location, "pgl_") {
		t.Fatalf("create: %d %q", r.Status, r.Location)
	}
	page := c.get("/account")
	m := tokenRe.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("the new token is not shown:\n%s", page.Body)
	}
	secret := m[1]
	if again := c.get("/account"); strings.Contains(again.Body, secret) || strings.Contains(again.Body, `data-testid="new-token"`) {
		t.Fatal("the token was shown twice")
	}
	if !strings.Contains(page.Body, "dashboards") || !strings.Contains(page.Body, secret[:10]+"…") {
		t.Errorf("the list does not show the token's name and prefix")
	}
	api := &apiClient{t: t, e: e, token: secret}
	var me struct{ Email, Role string }
	api.get("/api/v1/me").JSON(t, &me)
	if me.Email != viewerEmail || me.Role != "viewer" {
		t.Fatalf("me: %+v", me)
	}
	if entries := e.auditBy(t, auth.ActionTokenCreate, viewerEmail); len(entries) != 1 || strings.Contains(entries[0].Detail, secret) || !strings.Contains(entries[0].Detail, "dashboards") {
		t.Errorf("create audit: %+v", entries)
	}

	// Refusals re-render the form with the message on its field.
	for _, tc := range []struct {
		form          url.Values
		status        int
		field, reason string
	}{
		{url.Values{"name": {"dashboards"}, "expires": {"30"}}, http.StatusConflict, "name", "already have a token"},
		{url.Values{"name": {""}, "expires": {"30"}}, http.StatusUnprocessableEntity, "name", "Give the token a name"},
		{url.Values{"name": {"x"}, "expires": {"9999"}}, http.StatusUnprocessableEntity, "expires", "from the list"},
	} {
		r := c.post("/account/tokens", tc.form)
		if r.Status != tc.status || !strings.Contains(r.Body, `data-testid="error-`+tc.field+`"`) || !strings.Contains(r.Body, tc.reason) {
			t.Errorf("%v: %d", tc.form, r.Status)
		}
	}
	// Without the CSRF token: refused.
	if r := c.do("POST", "/account/tokens", url.Values{"name": {"sneaky"}}); r.Status != http.StatusForbidden {
		t.Errorf("create without CSRF: %d", r.Status)
	}

	tokens, _ := e.store.ListTokens(t.Context(), e.userID(t, viewerEmail))
	if len(tokens) != 1 {
		t.Fatalf("tokens: %+v", tokens)
	}
	// Another user cannot revoke it from their own account.
	other := e.client(t)
	other.signIn(adminEmail)
	other.get("/account")
	other.post(fmt.Sprintf("/account/tokens/%d/revoke", tokens[0].ID), nil)
	if r := api.get("/api/v1/me"); r.Status != http.StatusOK {
		t.Fatalf("another user revoked the token from their account: %d", r.Status)
	}

	r = c.post(fmt.Sprintf("/account/tokens/%d/revoke", tokens[0].ID), nil)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.Status)
	}
	api.get("/api/v1/me").Err(t, http.StatusUnauthorized, "unauthorized")
	if entries := e.auditBy(t, auth.ActionTokenRevoke, viewerEmail); len(entries) != 1 {
		t.Errorf("revoke audit: %+v", entries)
	}
}

// An admin sees everyone's tokens on the Users page and revokes any.
func TestAdminRevokesAnyonesToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	secret := e.tokenFor(t, viewerEmail, `<b>laptop</b>`)
	c := e.client(t)
	c.signIn(adminEmail)
	page := c.get("/users")
	if !strings.Contains(page.Body, "&lt;b&gt;laptop&lt;/b&gt;") || strings.Contains(page.Body, secret) {
		t.Fatalf("users page does not list the token safely")
	}
	vid := e.userID(t, viewerEmail)
	tokens, _ := e.store.ListTokens(t.Context(), vid)
	// The token is named under its owner: under another user's id it is not found.
	if r := c.post(fmt.Sprintf("/users/%d/tokens/%d/revoke", e.userID(t, adminEmail), tokens[0].ID), nil); r.Status != http.StatusSeeOther {
		t.Fatalf("wrong owner: %d", r.Status)
	}
	api := &apiClient{t: t, e: e, token: secret}
	if r := api.get("/api/v1/me"); r.Status != http.StatusOK {
		t.Fatalf("revoked under another owner's id: %d", r.Status)
	}
	if r := c.post(fmt.Sprintf("/users/%d/tokens/%d/revoke", vid, tokens[0].ID), nil); r.Status != http.StatusSeeOther || r.Location != "/users" {
		t.Fatalf("revoke: %d %s", r.Status, r.Location)
	}
	api.get("/api/v1/me").Err(t, http.StatusUnauthorized, "unauthorized")
	if entries := e.auditBy(t, auth.ActionTokenRevoke, adminEmail); len(entries) != 1 || entries[0].Target != viewerEmail || !strings.Contains(entries[0].Detail, "by an admin") {
		t.Errorf("revoke audit: %+v", entries)
	}
	// A viewer cannot use the admin route.
	v := e.client(t)
	v.signIn(viewerEmail)
	if r := v.post(fmt.Sprintf("/users/%d/tokens/1/revoke", vid), nil); r.Status != http.StatusForbidden {
		t.Errorf("viewer on the admin route: %d", r.Status)
	}
}
