package app

import (
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/views"
)

// Render writes a templ component with a status.
func Render(c echo.Context, status int, comp templ.Component) error {
	buf := templ.GetBuffer()
	defer templ.ReleaseBuffer(buf)
	if err := comp.Render(c.Request().Context(), buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// RenderBounded writes page(0), the full page, or when that would weigh
// more than max bytes the first of page(1), page(2), ... (each leaner than
// the one before) that does not, or the last of levels.
func RenderBounded(c echo.Context, status, max, levels int, page func(level int) templ.Component) error {
	buf := templ.GetBuffer()
	defer templ.ReleaseBuffer(buf)
	for level := 0; level < levels; level++ {
		buf.Reset()
		if err := page(level).Render(c.Request().Context(), buf); err != nil {
			return err
		}
		if buf.Len() <= max {
			break
		}
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// page builds the layout model: who is signed in and any flash messages.
func (a *App) page(c echo.Context, title, nav string) views.Page {
	p := views.Page{Title: title, Nav: nav}
	if s := session(c); s != nil {
		p.Viewer = &views.Viewer{Email: s.User.Email, IsAdmin: s.User.IsAdmin(), CSRF: s.CSRFToken}
	}
	flashes, err := a.cookieCodec(c).Flashes(c.Response(), c.Request())
	if err != nil {
		a.log.Warn("reading flashes", "err", err)
	}
	for _, f := range flashes {
		p.Flashes = append(p.Flashes, views.Flash{Kind: f.Kind, Message: f.Message})
	}
	return p
}

// flash queues a message for the page after the redirect.
func (a *App) flash(c echo.Context, kind, msg string) {
	// A flash rides in a cookie (4 KB at most, encrypted): a message longer
	// than a person reads is cut, and one that still does not fit is
	// replaced, so the result of an action is never lost without a word.
	err := a.cookieCodec(c).AddFlash(c.Response(), c.Request(), kind, fleet.Clip(msg, maxFlashChars))
	if err != nil {
		a.log.Warn("writing flash", "err", err)
		err = a.cookieCodec(c).AddFlash(c.Response(), c.Request(), kind, "The result is too long to show here: the audit trail has it.")
	}
	if err != nil {
		a.log.Warn("writing flash", "err", err)
	}
}

// maxFlashChars bounds a flash message.
const maxFlashChars = 1000

// redirect answers a POST with 303 See Other.
func redirect(c echo.Context, to string) error { return c.Redirect(http.StatusSeeOther, to) }

var flashOK, flashErr = auth.FlashSuccess, auth.FlashError
