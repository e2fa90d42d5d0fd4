package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/errs"
)

const (
	sessionKey        = "pglinks.session"
	deadlinePassedKey = "pglinks.deadline_passed"
)

// session is the signed-in session of the request, or nil.
func session(c echo.Context) *auth.Session {
	s, _ := c.Get(sessionKey).(*auth.Session)
	return s
}

// isHTTPS reports whether the browser talks to us over TLS, directly or
// through a trusted proxy that says so.
func (a *App) isHTTPS(c echo.Context) bool {
	r := c.Request()
	if r.TLS != nil {
		return true
	}
	return a.fromTrustedProxy(r) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (a *App) fromTrustedProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	for _, n := range a.cfg.TrustedProxies {
		if ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

// cookieCodec picks the cookie settings for this request: Secure whenever
// the browser is on HTTPS.
func (a *App) cookieCodec(c echo.Context) *auth.Cookies {
	if a.isHTTPS(c) {
		return a.cookiesHTTPS
	}
	return a.cookies
}

func (a *App) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if !strings.HasPrefix(c.Request().URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		if a.isHTTPS(c) {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		return next(c)
	}
}

func (a *App) cacheStatic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		return next(c)
	}
}

func (a *App) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

func (a *App) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		r := c.Request()
		if r.URL.Path != "/healthz" && !strings.HasPrefix(r.URL.Path, "/static/") {
			attrs := []any{"method", r.Method, "path", r.URL.Path, "status", c.Response().Status,
				"ms", time.Since(start).Milliseconds(), "ip", c.RealIP(), "request_id", c.Response().Header().Get(echo.HeaderXRequestID)}
			// Say when the answer never reached anyone: the client went
			// away or the request ran out of time.
			switch {
			case c.Get(deadlinePassedKey) != nil:
				attrs = append(attrs, "ended", "request deadline passed")
			case errors.Is(r.Context().Err(), context.Canceled):
				attrs = append(attrs, "ended", "client went away")
			}
			a.log.Log(r.Context(), a.cfg.RequestLogLevel, "request", attrs...)
		}
		return nil
	}
}

// requestDeadline bounds every request, so no handler outlives the
// server's write timeout and a cancelled request cancels its database work.
func (a *App) requestDeadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		d := a.cfg.RequestTimeout
		if d <= 0 {
			d = DefaultRequestTimeout
		}
		orig := c.Request()
		ctx, cancel := context.WithTimeout(orig.Context(), d)
		defer cancel()
		c.SetRequest(orig.WithContext(ctx))
		err := next(c)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			c.Set(deadlinePassedKey, true)
		}
		// The error page is rendered after this returns: give it the
		// request's own context, not the one just cancelled.
		c.SetRequest(orig)
		return err
	}
}

// rejectNUL refuses a NUL byte anywhere in the path, the query or a form
// field with a clear 400: PostgreSQL cannot store one in text, and no
// name, email or filter legitimately holds one.
func (a *App) rejectNUL(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		bad := strings.Contains(r.URL.Path, "\x00") || strings.Contains(r.URL.RawQuery, "%00") || strings.Contains(r.URL.RawPath, "%00")
		if !bad && r.Method == http.MethodPost {
			if form, err := c.FormParams(); err == nil {
				bad = hasNUL(form)
			}
		}
		if !bad {
			bad = hasNUL(c.QueryParams())
		}
		if bad {
			return echo.NewHTTPError(http.StatusBadRequest, "The request holds a NUL byte (a control character), which no name, email or filter may contain. Nothing was done.")
		}
		return next(c)
	}
}

func hasNUL(v url.Values) bool {
	for k, vs := range v {
		if strings.ContainsRune(k, 0) {
			return true
		}
		for _, s := range vs {
			if strings.ContainsRune(s, 0) {
				return true
			}
		}
	}
	return false
}

// loadSession resolves the session cookie against the state database. An
// unknown, expired or logged-out session clears the cookie.
func (a *App) loadSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		codec := a.cookieCodec(c)
		id := codec.SessionID(c.Request())
		if id == "" {
			return next(c)
		}
		s, err := a.cfg.Auth.LookupSession(c.Request().Context(), id)
		switch {
		case err == nil:
			c.Set(sessionKey, s)
		case errs.Is(err, errs.Unauthorized):
			if err := codec.Clear(c.Response(), c.Request()); err != nil {
				a.log.Warn("clearing session cookie", "err", err)
			}
			a.flash(c, flashErr, errs.MessageOf(err))
		default:
			return err
		}
		return next(c)
	}
}

func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// checkOrigin refuses state changes that a browser marks as cross-site.
// It also covers the sign-in form, which has no session to bind a token to.
func (a *App) checkOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if isSafeMethod(r.Method) {
			return next(c)
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			return errs.E(errs.Forbidden, "Cross-site request refused.")
		}
		if origin := r.Header.Get("Origin"); origin != "" && origin != "null" {
			u, err := url.Parse(origin)
			if err != nil || !strings.EqualFold(u.Host, r.Host) {
				return errs.E(errs.Forbidden, "Cross-site request refused.")
			}
		}
		return next(c)
	}
}

// checkCSRF requires the session's own token on every state change by a
// signed-in user. The token is bound to the server-side session, so a
// token from another session (or made up) never passes.
func (a *App) checkCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if isSafeMethod(c.Request().Method) {
			return next(c)
		}
		if c.Path() == "/login" {
			return next(c) // no session yet: the handler checks the login token
		}
		s := session(c)
		if s == nil {
			return errs.E(errs.Forbidden, "Your session has ended or the form is stale. Sign in and try again.")
		}
		token := c.FormValue("csrf")
		if token == "" {
			token = c.Request().Header.Get("X-CSRF-Token")
		}
		if !auth.ValidCSRF(s, token) {
			a.audit(c, auth.ActionDenied, c.Request().URL.Path, auth.OutcomeRefused, "missing or wrong CSRF token", "")
			return errs.E(errs.Forbidden, "The form's security token is missing or wrong. Reload the page and try again.")
		}
		return next(c)
	}
}

// requireUser sends anonymous visitors to the sign-in page, remembering
// where they were going.
func (a *App) requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if session(c) != nil {
			return next(c)
		}
		r := c.Request()
		if !isSafeMethod(r.Method) {
			return errs.E(errs.Forbidden, "Sign in first.")
		}
		return c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(r.URL.RequestURI()))
	}
}

// requireAdmin guards every admin page and every change, whatever the
// page rendered: viewers get 403.
func (a *App) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s := session(c); s == nil || !s.User.IsAdmin() {
			if !isSafeMethod(c.Request().Method) {
				a.audit(c, auth.ActionDenied, c.Request().URL.Path, auth.OutcomeRefused, "admin role required", "")
			}
			return errs.E(errs.Forbidden, "Only admins may do this. Ask an admin to change your role.")
		}
		return next(c)
	}
}

// safeNext keeps a post-login redirect on this site: a path, never a
// scheme, host or protocol-relative URL.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, `/\`) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.ContainsAny(next, "\r\n\t\\") {
		return "/"
	}
	if u.Path == "/login" || u.Path == "/logout" || strings.Contains(u.Path, `\`) {
		return "/"
	}
	// The answer is what goes into Location, re-encoded from the decoded
	// path: "/%2Fevil.example/|" comes back as "//evil.example/%7C", which
	// a browser reads as another host. Judge what is sent.
	out := u.RequestURI()
	if !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") || strings.HasPrefix(out, `/\`) {
		return "/"
	}
	return out
}
