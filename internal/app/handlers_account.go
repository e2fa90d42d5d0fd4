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

// account is the signed-in user's own page.
func (a *App) account(c echo.Context) error {
	return a.renderAccount(c, http.StatusOK, views.AccountPage{})
}

// changePassword lets a user change their own password. The current
// password is required and wrong guesses count against the same limits as
// signing in, so a borrowed session cannot be used to guess it.
func (a *App) changePassword(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return errs.E(errs.Invalid, "The form could not be read.")
	}
	current, next := form.Get("current"), form.Get("new")
	s := session(c)
	ip := c.RealIP()
	fail := func(status int, formErrs views.FormErrors) error {
		return a.renderAccount(c, status, views.AccountPage{Errors: formErrs})
	}
	ctx := c.Request().Context()
	attempt, wait, err := a.cfg.Limiter.Allow(ctx, ip, s.User.Email)
	if err != nil {
		return err
	}
	if attempt == nil {
		a.audit(c, auth.ActionPasswordChange, s.User.Email, auth.OutcomeRefused, "too many failed attempts; throttled", "")
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(wait.Seconds()))))
		return fail(http.StatusTooManyRequests, views.FormErrors{"": "Too many wrong passwords. Try again in " + views.Plural(int(math.Ceil(wait.Minutes())), "minute", "minutes") + "."})
	}
	err = a.cfg.Auth.ChangeOwnPassword(ctx, s.User.ID, current, next, s.ID)
	kind := errs.KindOf(err)
	switch {
	case err == nil || kind == errs.Invalid || kind == errs.Conflict:
		// The current password was right, or never in question.
		if err := a.cfg.Limiter.Success(ctx, attempt); err != nil {
			a.log.Warn("sign-in limit: recording a success", "err", err)
		}
	case kind == errs.Unauthorized:
		if err := a.cfg.Limiter.Failure(ctx, attempt); err != nil {
			return err
		}
	default:
		if err := a.cfg.Limiter.Abandon(ctx, attempt); err != nil {
			a.log.Warn("sign-in limit: abandoning an attempt", "err", err)
		}
	}
	if err != nil {
		if kind == errs.Internal {
			return err
		}
		a.audit(c, auth.ActionPasswordChange, s.User.Email, auth.OutcomeRefused, errs.MessageOf(err), "")
		status := statusOf(kind)
		if kind == errs.Unauthorized {
			status = http.StatusUnprocessableEntity // signed in; the form was wrong
		}
		return fail(status, views.FormErrors{errs.FieldOf(err): errs.MessageOf(err)})
	}
	a.audit(c, auth.ActionPasswordChange, s.User.Email, auth.OutcomeOK, "other sessions signed out", "")
	a.flash(c, flashOK, "Your password is changed. Your other sessions are signed out.")
	return redirect(c, "/account")
}

// otherUserFromParam is the user an admin acts on from the Users page;
// nil (after queueing a redirect to the account page) when it is the admin,
// who changes their own password there instead.
func (a *App) otherUserFromParam(c echo.Context) (*auth.User, error) {
	u, err := a.userFromParam(c)
	if err != nil {
		return nil, err
	}
	if u.ID == session(c).User.ID {
		a.flash(c, flashErr, "Change your own password on your account page.")
		return nil, redirect(c, "/account")
	}
	return u, nil
}

// confirmResetPassword asks before resetting a user's password.
func (a *App) confirmResetPassword(c echo.Context) error {
	u, err := a.otherUserFromParam(c)
	if u == nil {
		return err
	}
	return Render(c, http.StatusOK, views.ResetPasswordView(views.ResetPasswordPage{Page: a.page(c, "Reset password of "+u.Email, "users"), User: *u}))
}

// resetPassword gives another user a new generated password. The password
// goes into the admin's encrypted cookie, for this session only, and the
// browser is sent to the page that shows it once (post/redirect/get): a
// reload neither resets again nor shows it again, and it never appears in a
// URL or a log.
func (a *App) resetPassword(c echo.Context) error {
	u, err := a.otherUserFromParam(c)
	if u == nil {
		return err
	}
	password := auth.GeneratePassword()
	if err := a.cfg.Auth.SetPassword(c.Request().Context(), u.Email, password); err != nil {
		if errs.KindOf(err) == errs.Internal {
			return err
		}
		a.audit(c, auth.ActionPasswordReset, u.Email, auth.OutcomeRefused, errs.MessageOf(err), "")
		a.flash(c, flashErr, errs.MessageOf(err))
		return redirect(c, "/users")
	}
	a.audit(c, auth.ActionPasswordReset, u.Email, auth.OutcomeOK, "generated; their sessions signed out", "")
	if err := a.cookieCodec(c).PutOnce(c.Response(), c.Request(), newPasswordSlot(u.ID), password); err != nil {
		return err
	}
	return redirect(c, views.UserNewPasswordPath(u.ID))
}

// newPassword shows a reset's password the first time it is visited by the
// session that made it, and a note that it was shown once afterwards.
func (a *App) newPassword(c echo.Context) error {
	u, err := a.otherUserFromParam(c)
	if u == nil {
		return err
	}
	password, shown, err := a.cookieCodec(c).TakeOnce(c.Response(), c.Request(), newPasswordSlot(u.ID))
	if err != nil {
		return err
	}
	p := views.NewPasswordPage{Page: a.page(c, "New password for "+u.Email, "users"), User: *u, Shown: shown}
	if shown {
		p.Notice = views.PasswordNotice(u.Email, password, false)
	}
	return Render(c, http.StatusOK, views.NewPasswordView(p))
}

func newPasswordSlot(userID int64) string { return fmt.Sprintf("new-password:%d", userID) }

// confirmRemoveUser asks before removing a user.
func (a *App) confirmRemoveUser(c echo.Context) error {
	u, err := a.userFromParam(c)
	if err != nil {
		return err
	}
	if u.ID == session(c).User.ID {
		a.flash(c, flashErr, "You cannot remove yourself.")
		return redirect(c, "/users")
	}
	return Render(c, http.StatusOK, views.RemoveUserView(views.RemoveUserPage{Page: a.page(c, "Remove "+u.Email, "users"), User: *u}))
}
