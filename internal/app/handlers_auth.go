package app

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/views"
)

func (a *App) loginForm(c echo.Context) error {
	next := safeNext(c.QueryParam("next"))
	if session(c) != nil {
		return c.Redirect(http.StatusSeeOther, next)
	}
	return a.renderLogin(c, http.StatusOK, views.LoginPage{Next: next})
}

// renderLogin shows the sign-in form with a fresh login CSRF token: there is
// no session to bind one to yet, so it lives in the signed cookie.
func (a *App) renderLogin(c echo.Context, status int, p views.LoginPage) error {
	token, err := a.cookieCodec(c).LoginCSRFToken(c.Response(), c.Request())
	if err != nil {
		return err
	}
	p.Page = a.page(c, "Sign in", "")
	p.CSRF = token
	return Render(c, status, views.LoginView(p))
}

func (a *App) login(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return errs.E(errs.Invalid, "The form could not be read.")
	}
	in := decodeLoginForm(form)
	ctx := c.Request().Context()
	ip := c.RealIP()
	fail := func(status int, msg string) error {
		return a.renderLogin(c, status, views.LoginPage{Email: in.Email, Next: in.Next, Error: msg})
	}
	if !a.cookieCodec(c).ValidLoginCSRF(c.Request(), form.Get("csrf")) {
		return fail(http.StatusForbidden, "The sign-in form expired. Please try again.")
	}
	attempt, wait, err := a.cfg.Limiter.Allow(ctx, ip, in.Email)
	if err != nil {
		return err
	}
	if attempt == nil {
		if a.throttled.first(ip, in.Email, time.Now()) {
			a.auditAs(c, "", auth.ActionLoginFailed, in.Email, auth.OutcomeRefused, "too many failed attempts; throttled (further throttled sign-ins of this account or address in the next 15 min are not recorded)", "")
		}
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(wait.Seconds()))))
		return fail(http.StatusTooManyRequests, "Too many failed sign-in attempts. Try again in "+views.Plural(int(math.Ceil(wait.Minutes())), "minute", "minutes")+".")
	}
	s, err := a.cfg.Auth.SignIn(ctx, in.Email, in.Password)
	if err != nil {
		if !errs.Is(err, errs.Unauthorized) && !errs.Is(err, errs.Invalid) {
			// The password was not checked: neither a failure nor a
			// success, and never a reset of the account's failures.
			if aerr := a.cfg.Limiter.Abandon(ctx, attempt); aerr != nil {
				a.log.Warn("sign-in limit: abandoning an attempt", "err", aerr)
			}
			return err
		}
		// Unrecorded, the guess would not count: answer that sign-in
		// cannot be checked rather than "wrong password".
		if err := a.cfg.Limiter.Failure(ctx, attempt); err != nil {
			return err
		}
		a.auditAs(c, "", auth.ActionLoginFailed, in.Email, auth.OutcomeRefused, "invalid email or password", "")
		return fail(http.StatusUnauthorized, "Invalid email or password.")
	}
	if err := a.cfg.Limiter.Success(ctx, attempt); err != nil {
		// The session exists; only the account's old failures stay.
		a.log.Warn("sign-in limit: recording a success", "err", err)
	}
	// A fresh session on every sign-in; any session the browser had ends.
	if old := session(c); old != nil {
		if err := a.cfg.Auth.DeleteSession(ctx, old.ID); err != nil {
			return err
		}
	}
	if err := a.cookieCodec(c).SetSessionID(c.Response(), c.Request(), s.ID); err != nil {
		return err
	}
	c.Set(sessionKey, s)
	if err := a.cfg.Auth.RecordSignIn(ctx, s.User.ID); err != nil {
		a.log.Warn("recording sign-in time", "err", err)
	}
	a.audit(c, auth.ActionLogin, s.User.Email, auth.OutcomeOK, "", "")
	return redirect(c, in.Next)
}

func (a *App) logout(c echo.Context) error {
	s := session(c)
	if err := a.cfg.Auth.DeleteSession(c.Request().Context(), s.ID); err != nil {
		return err
	}
	a.audit(c, auth.ActionLogout, s.User.Email, auth.OutcomeOK, "", "")
	codec := a.cookieCodec(c)
	if err := codec.Clear(c.Response(), c.Request()); err != nil {
		return err
	}
	a.flash(c, flashOK, "You have signed out.")
	return redirect(c, "/login")
}

// throttledSignIns remembers, for a failure window, the addresses and
// accounts whose throttled sign-in was audited: a throttled sign-in checks
// no password and costs nothing to send, so each one must not cost a row
// in the audit trail (never pruned, in the state database). One row per
// lock is kept: a new address of a locked account, or a new account from
// a locked address, is not recorded again within the window.
type throttledSignIns struct {
	mu     sync.Mutex
	seen   map[string]time.Time // "ip:..." or "email:..." -> when last seen
	pruned time.Time
}

// maxThrottledKeys bounds what throttledSignIns remembers: past it (a
// flood from that many addresses), it forgets and records again.
const maxThrottledKeys = 100_000

// first reports whether a throttled sign-in from ip for email is the
// first of its lock in this process, and notes it.
func (t *throttledSignIns) first(ip, email string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seen == nil || len(t.seen) >= maxThrottledKeys {
		t.seen = map[string]time.Time{}
	}
	if now.Sub(t.pruned) > time.Minute {
		for k, at := range t.seen {
			if now.Sub(at) > auth.DefaultFailureWindow {
				delete(t.seen, k)
			}
		}
		t.pruned = now
	}
	ipKey, emailKey := "ip:"+ip, "email:"+strings.ToLower(strings.TrimSpace(email))
	_, ipSeen := t.seen[ipKey]
	_, emailSeen := t.seen[emailKey]
	t.seen[ipKey], t.seen[emailKey] = now, now
	return !ipSeen && !emailSeen
}
