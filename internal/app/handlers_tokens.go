package app

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/views"
)

// API tokens are made and revoked on the Account page; admins revoke
// anyone's on the Users page. A new token goes into the user's encrypted
// cookie and is shown once on the page the create redirects to
// (post/redirect/get), like a reset password: a reload neither makes
// another nor shows it again, and it is in no URL and no log.

const newTokenSlot = "new-api-token"

// accountPage is the Account page for the signed-in user, with their
// tokens and the one just made, if this is the page its create led to.
func (a *App) accountPage(c echo.Context, p views.AccountPage) (views.AccountPage, error) {
	s := session(c)
	p.Page = a.page(c, "Your account", "account")
	tokens, err := a.cfg.Auth.ListTokens(c.Request().Context(), s.User.ID)
	if err != nil {
		return p, err
	}
	p.Tokens = tokens
	if p.TokenExpiry == "" && p.TokenErrors == nil {
		p.TokenExpiry = views.TokenExpiries[0].Days
	}
	if !isSafeMethod(c.Request().Method) {
		return p, nil
	}
	kept, shown, err := a.cookieCodec(c).TakeOnce(c.Response(), c.Request(), newTokenSlot)
	if err != nil || !shown {
		return p, err
	}
	id, secret, _ := strings.Cut(kept, "\x00")
	for _, t := range tokens {
		if strconv.FormatInt(t.ID, 10) == id {
			p.NewToken, p.NewTokenName = secret, t.Name
		}
	}
	return p, nil
}

// tokenExpiry reads the create form's expiry: days from now, or never.
func tokenExpiry(v string, now time.Time) (time.Time, error) {
	for _, x := range views.TokenExpiries {
		if x.Days == v {
			if v == "" {
				return time.Time{}, nil
			}
			days, _ := strconv.Atoi(v)
			return now.AddDate(0, 0, days), nil
		}
	}
	return time.Time{}, errs.E(errs.Invalid, "Choose when the token expires from the list.").OnField("expires")
}

func (a *App) createToken(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return errs.E(errs.Invalid, "The form could not be read.")
	}
	name, expiry := field(form, "name"), form.Get("expires")
	s := session(c)
	expires, err := tokenExpiry(expiry, time.Now())
	var tok *auth.APIToken
	var secret string
	if err == nil {
		tok, secret, err = a.cfg.Auth.CreateToken(c.Request().Context(), s.User.ID, name, expires)
	}
	if err != nil {
		if errs.KindOf(err) == errs.Internal {
			return err
		}
		a.audit(c, auth.ActionTokenCreate, s.User.Email, auth.OutcomeRefused, errs.MessageOf(err), "")
		p, perr := a.accountPage(c, views.AccountPage{TokenName: name, TokenExpiry: expiry, TokenErrors: views.FormErrors{errs.FieldOf(err): errs.MessageOf(err)}})
		if perr != nil {
			return perr
		}
		return Render(c, statusOf(errs.KindOf(err)), views.AccountView(p))
	}
	detail := fmt.Sprintf("token %s (%s…), expires never", tok.Name, tok.Prefix)
	if !tok.ExpiresAt.IsZero() {
		detail = fmt.Sprintf("token %s (%s…), expires %s", tok.Name, tok.Prefix, views.When(tok.ExpiresAt))
	}
	a.audit(c, auth.ActionTokenCreate, s.User.Email, auth.OutcomeOK, detail, "")
	if err := a.cookieCodec(c).PutOnce(c.Response(), c.Request(), newTokenSlot, strconv.FormatInt(tok.ID, 10)+"\x00"+secret); err != nil {
		return err
	}
	return redirect(c, "/account#tokens")
}

// revokeOwnToken revokes one of the signed-in user's tokens.
func (a *App) revokeOwnToken(c echo.Context) error {
	return a.revokeToken(c, session(c).User.ID, "/account#tokens")
}

// revokeUserToken revokes a user's token, as an admin.
func (a *App) revokeUserToken(c echo.Context) error {
	u, err := a.userFromParam(c)
	if err != nil {
		return err
	}
	return a.revokeToken(c, u.ID, "/users")
}

func (a *App) revokeToken(c echo.Context, ownerID int64, back string) error {
	param := "id"
	if c.Param("tid") != "" {
		param = "tid"
	}
	id, err := strconv.ParseInt(c.Param(param), 10, 64)
	if err != nil || id <= 0 {
		return errs.E(errs.NotFound, "There is no such token.")
	}
	tok, err := a.cfg.Auth.RevokeToken(c.Request().Context(), id, ownerID)
	if err != nil {
		if errs.KindOf(err) == errs.Internal {
			return err
		}
		a.flash(c, flashErr, errs.MessageOf(err))
		return redirect(c, back)
	}
	by := ""
	if tok.Email != session(c).User.Email {
		by = "; revoked by an admin"
	}
	a.audit(c, auth.ActionTokenRevoke, tok.Email, auth.OutcomeOK, fmt.Sprintf("token %s (%s…)%s", tok.Name, tok.Prefix, by), "")
	a.flash(c, flashOK, fmt.Sprintf("Token %s of %s revoked: it no longer works.", tok.Name, tok.Email))
	return redirect(c, back)
}

// renderAccount renders the Account page with a status.
func (a *App) renderAccount(c echo.Context, status int, p views.AccountPage) error {
	p, err := a.accountPage(c, p)
	if err != nil {
		return err
	}
	return Render(c, status, views.AccountView(p))
}
