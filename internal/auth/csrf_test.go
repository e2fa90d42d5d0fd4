package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestValidCSRF(t *testing.T) {
	t.Parallel()
	sess := &Session{CSRFToken: "tok-123"}
	tests := []struct {
		name  string
		sess  *Session
		token string
		want  bool
	}{
		{"OK", sess, "tok-123", true},
		{"ErrWrong", sess, "tok-124", false},
		{"ErrPrefix", sess, "tok-12", false},
		{"ErrEmpty", sess, "", false},
		{"ErrNoSession", nil, "tok-123", false},
		{"ErrSessionWithoutToken", &Session{}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidCSRF(tt.sess, tt.token); got != tt.want {
				t.Fatalf("ValidCSRF = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLoginCSRF(t *testing.T) {
	t.Parallel()
	c := mustCookies(t, []string{keyA}, false)

	t.Run("OK", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/login", nil)
		rec := httptest.NewRecorder()
		tok, err := c.LoginCSRFToken(rec, r)
		if err != nil || len(tok) < 40 {
			t.Fatalf("token %q, %v", tok, err)
		}
		if again, _ := c.LoginCSRFToken(rec, r); again != tok {
			t.Fatal("token changed within a request")
		}
		post := next(t, rec, nil)
		if !c.ValidLoginCSRF(post, tok) {
			t.Fatal("valid token refused")
		}
		// The next page shows the same token: several tabs keep working.
		if again, _ := c.LoginCSRFToken(httptest.NewRecorder(), fresh(post)); again != tok {
			t.Fatal("token changed between requests")
		}
	})

	t.Run("ErrWrongOrMissing", func(t *testing.T) {
		rec := httptest.NewRecorder()
		tok, _ := c.LoginCSRFToken(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
		post := next(t, rec, nil)
		for _, bad := range []string{"", tok + "x", newToken()} {
			if c.ValidLoginCSRF(fresh(post), bad) {
				t.Fatalf("token %q accepted", bad)
			}
		}
		// A token with no cookie, as an attacker's page would send it.
		if c.ValidLoginCSRF(httptest.NewRequest(http.MethodPost, "/login", nil), tok) {
			t.Fatal("token accepted without its cookie")
		}
	})
}
