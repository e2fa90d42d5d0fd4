package app

import (
	"fmt"
	"math"
	"net/http"

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
		a.auditAs(c, "", auth.ActionLoginFailed, in.Email, auth.OutcomeRefused, "too many failed attempts; throttled", "")
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
