package app

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/views"
)

// statusOf is the one place an error kind becomes an HTTP status.
func statusOf(kind errs.Kind) int {
	switch kind {
	case errs.Invalid:
		return http.StatusUnprocessableEntity
	case errs.NotFound:
		return http.StatusNotFound
	case errs.Conflict:
		return http.StatusConflict
	case errs.Forbidden:
		return http.StatusForbidden
	case errs.Unauthorized:
		return http.StatusUnauthorized
	case errs.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// handleError renders every error that reaches Echo: the domain message
// for errors users can act on, "Internal error" and a request id otherwise.
func (a *App) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if strings.HasPrefix(c.Request().URL.Path, "/api/") {
		a.apiError(err, c)
		return
	}
	status := http.StatusInternalServerError
	msg := ""
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		status = he.Code
		msg = http.StatusText(status)
		if m, ok := he.Message.(string); ok && status < 500 {
			msg = m
		}
	case errs.KindOf(err) != errs.Internal:
		status = statusOf(errs.KindOf(err))
		msg = errs.MessageOf(err)
	}
	rid := c.Response().Header().Get(echo.HeaderXRequestID)
	if status >= 500 && msg == "" || status == http.StatusInternalServerError {
		a.log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "request_id", rid, "err", err)
		msg = "Internal error. If it persists, give your administrator this request id."
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	p := views.ErrorPage{Page: a.page(c, http.StatusText(status), ""), Status: status, Message: msg, RequestID: rid}
	if err := Render(c, status, views.ErrorView(p)); err != nil {
		a.log.Error("rendering error page", "err", err)
	}
}
