package auth

import (
	"crypto/subtle"
	"net/http"
)

// ValidCSRF reports whether token is the CSRF token of sess. The token lives
// server-side with the session, so unlike a double-submit cookie an attacker
// cannot pick a matching pair. The comparison is constant-time, and an empty
// token or a session without one never matches.
func ValidCSRF(sess *Session, token string) bool {
	if sess == nil || sess.CSRFToken == "" || token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(sess.CSRFToken), []byte(token)) == 1
}

// loginCSRFKey holds, in the cookie, the CSRF token of forms shown before
// there is a session: the login form.
const loginCSRFKey = "login_csrf"

// LoginCSRFToken returns the token to put in the login form, creating it
// (and writing the cookie) on first use. Without it an attacker's page
// could sign a victim in to the attacker's account. The cookie is signed
// and encrypted, so the pair cannot be forged the way a double-submit
// cookie can.
func (c *Cookies) LoginCSRFToken(w http.ResponseWriter, r *http.Request) (string, error) {
	sess := c.session(r)
	if tok, ok := sess.Values[loginCSRFKey].(string); ok && tok != "" {
		return tok, nil
	}
	tok := newToken()
	sess.Values[loginCSRFKey] = tok
	return tok, c.save(w, r, sess)
}

// ValidLoginCSRF reports whether token matches the login CSRF token in the
// request's cookie, in constant time; false when either is missing.
func (c *Cookies) ValidLoginCSRF(r *http.Request, token string) bool {
	want, _ := c.session(r).Values[loginCSRFKey].(string)
	if want == "" || token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(token)) == 1
}
