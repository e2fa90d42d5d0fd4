package app

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/views"
)

func (a *App) usersPage(c echo.Context, p views.UsersPage) (views.UsersPage, error) {
	users, err := a.cfg.Auth.ListUsers(c.Request().Context())
	if err != nil {
		return p, err
	}
	tokens, err := a.cfg.Auth.ListTokens(c.Request().Context(), 0)
	if err != nil {
		return p, err
	}
	p.Tokens = map[int64][]auth.APIToken{}
	for _, t := range tokens {
		p.Tokens[t.UserID] = append(p.Tokens[t.UserID], t)
	}
	p.Page = a.page(c, "Users", "users")
	p.Users = users
	return p, nil
}

func (a *App) users(c echo.Context) error {
	p, err := a.usersPage(c, views.UsersPage{})
	if err != nil {
		return err
	}
	// A user just added: their password, this once (see addUser).
	kept, ok, err := a.cookieCodec(c).TakeOnce(c.Response(), c.Request(), addedUserSlot)
	if err != nil {
		return err
	}
	if email, password, cut := strings.Cut(kept, "\x00"); ok && cut {
		p.Notice = views.PasswordNotice(email, password, true)
	}
	return Render(c, http.StatusOK, views.UsersView(p))
}

// addedUserSlot keeps a new user's email and generated password from the
// add to the Users page it redirects to, shown there once, as a reset's is.
const addedUserSlot = "added-user"

func (a *App) addUser(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return errs.E(errs.Invalid, "The form could not be read.")
	}
	email, roleText := field(form, "email"), field(form, "role")
	in := views.UsersPage{Email: email, Role: roleText}
	role, err := auth.ParseRole(roleText)
	var user *auth.User
	password := auth.GeneratePassword()
	if err == nil {
		user, err = a.cfg.Auth.AddUser(c.Request().Context(), email, role, password)
	}
	if err != nil {
		if errs.KindOf(err) == errs.Internal {
			return err
		}
		a.audit(c, auth.ActionUserAdd, email, auth.OutcomeRefused, errs.MessageOf(err), "")
		f := errs.FieldOf(err)
		if f == "" && errs.Is(err, errs.Conflict) {
			f = "email"
		}
		in.Errors = views.FormErrors{f: errs.MessageOf(err)}
		p, perr := a.usersPage(c, in)
		if perr != nil {
			return perr
		}
		return Render(c, statusOf(errs.KindOf(err)), views.UsersView(p))
	}
	a.audit(c, auth.ActionUserAdd, user.Email, auth.OutcomeOK, "role "+string(user.Role), "")
	// The password is never stored in clear: the encrypted session cookie
	// carries it to the next view of the Users page only, so a reload
	// neither adds again nor shows it again.
	if err := a.cookieCodec(c).PutOnce(c.Response(), c.Request(), addedUserSlot, user.Email+"\x00"+password); err != nil {
		return err
	}
	return redirect(c, "/users")
}

func (a *App) userFromParam(c echo.Context) (*auth.User, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, errs.E(errs.NotFound, "There is no such user.")
	}
	return a.cfg.Auth.GetUser(c.Request().Context(), id)
}

// setUserRole changes a user's role in one click, except the admin's own:
// demoting yourself goes through a confirmation first.
func (a *App) setUserRole(c echo.Context) error {
	u, err := a.userFromParam(c)
	if err != nil {
		return err
	}
	role, err := auth.ParseRole(c.FormValue("role"))
	self := u.ID == session(c).User.ID
	if err == nil && self && role != u.Role && c.FormValue("confirm") != "yes" {
		return redirect(c, views.DemoteSelfPath(u.ID))
	}
	if err == nil {
		err = a.cfg.Auth.SetRole(c.Request().Context(), u.Email, role)
	}
	if err != nil {
		if errs.KindOf(err) == errs.Internal {
			return err
		}
		a.audit(c, auth.ActionUserSetRole, u.Email, auth.OutcomeRefused, errs.MessageOf(err), "")
		a.flash(c, flashErr, errs.MessageOf(err))
		return redirect(c, "/users")
	}
	a.audit(c, auth.ActionUserSetRole, u.Email, auth.OutcomeOK, fmt.Sprintf("%s -> %s", u.Role, role), "")
	if self && role != u.Role {
		// The Users page is an admin's; land where a viewer may be.
		a.flash(c, flashOK, "You are now a viewer. Another admin can make you an admin again.")
		return redirect(c, "/")
	}
	a.flash(c, flashOK, fmt.Sprintf("%s is now %s.", u.Email, role))
	return redirect(c, "/users")
}

// confirmDemoteSelf asks an admin making themself a viewer, saying what
// they lose. Only that change needs asking; anything else goes back to
// the Users page.
func (a *App) confirmDemoteSelf(c echo.Context) error {
	u, err := a.userFromParam(c)
	if err != nil {
		return err
	}
	if u.ID != session(c).User.ID || c.QueryParam("role") != string(auth.RoleViewer) || u.Role != auth.RoleAdmin {
		return c.Redirect(http.StatusSeeOther, "/users")
	}
	return Render(c, http.StatusOK, views.DemoteSelfView(views.DemoteSelfPage{Page: a.page(c, "Make yourself a viewer", "users"), User: *u}))
}

func (a *App) removeUser(c echo.Context) error {
	u, err := a.userFromParam(c)
	if err != nil {
		return err
	}
	if u.ID == session(c).User.ID {
		a.flash(c, flashErr, "You cannot remove yourself.")
		return redirect(c, "/users")
	}
	if err := a.cfg.Auth.RemoveUser(c.Request().Context(), u.Email); err != nil {
		if errs.KindOf(err) == errs.Internal {
			return err
		}
		a.audit(c, auth.ActionUserRemove, u.Email, auth.OutcomeRefused, errs.MessageOf(err), "")
		a.flash(c, flashErr, errs.MessageOf(err))
		return redirect(c, "/users")
	}
	a.audit(c, auth.ActionUserRemove, u.Email, auth.OutcomeOK, "", "")
	a.flash(c, flashOK, fmt.Sprintf("Removed %s.", u.Email))
	return redirect(c, "/users")
}
