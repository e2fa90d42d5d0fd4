package app

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/errs"
)

// The JSON API at /api/v1 is for scripts and the CLI. It authenticates by
// personal API token only (Authorization: Bearer pgl_...): it never reads
// the session cookie, so a page on another site cannot make a signed-in
// browser call it (no CSRF), and a browser session cannot use it at all.
// Every change runs through the same domain calls, locks, role checks and
// audit as the pages; errors have one JSON shape (apiError).

const apiCallerKey = "pglinks.api_caller"

// apiCaller is the token and user of an API request, or nil.
func apiCaller(c echo.Context) *auth.TokenUse {
	u, _ := c.Get(apiCallerKey).(*auth.TokenUse)
	return u
}

// actor names who is asking, for the audit trail and the domain's logs:
// the session's user, or the token's user and the token's name.
func actor(c echo.Context) string {
	if s := session(c); s != nil {
		return s.User.Email
	}
	if u := apiCaller(c); u != nil {
		return u.Actor()
	}
	return ""
}

func (a *App) apiRoutes() {
	e := a.echo
	e.GET("/api/v1/openapi.json", a.apiOpenAPI) // documentation, no token needed

	v1 := e.Group("/api/v1", a.apiAuth, a.apiRateLimit)
	v1.GET("/me", a.apiMe)
	v1.GET("/databases", a.apiDatabases)
	v1.GET("/databases/:db", a.apiDatabase)
	v1.POST("/databases/:db/refresh", a.apiRefreshDatabase)
	v1.GET("/databases/:db/links", a.apiLinks)
	v1.GET("/databases/:db/links/:name", a.apiLink)
	v1.POST("/databases/:db/links/:name/check", a.apiCheckLink)
	v1.GET("/databases/:db/links/:name/query", a.apiQueryChecks)
	v1.GET("/databases/:db/links/:name/query/:id", a.apiQueryCheck)
	v1.GET("/databases/:db/links/:name/performance", a.apiPerformance)
	v1.GET("/databases/:db/links/:name/connections", a.apiConnections)
	v1.GET("/replication", a.apiReplication)

	adm := v1.Group("", a.apiRequireAdmin)
	adm.POST("/databases/:db/links", a.apiCreateLink)
	adm.GET("/databases/:db/links/:name/destroy", a.apiPlanDestroy)
	adm.POST("/databases/:db/links/:name/destroy", a.apiDestroyLink)
	adm.GET("/databases/:db/links/:name/refresh", a.apiPlanRefresh)
	adm.POST("/databases/:db/links/:name/refresh", a.apiRefreshLink)
	adm.GET("/databases/:db/links/:name/import", a.apiPlanImport)
	adm.POST("/databases/:db/links/:name/import", a.apiImportTables)
	adm.GET("/databases/:db/links/:name/repair", a.apiPlanRepair)
	adm.POST("/databases/:db/links/:name/repair", a.apiRepairLink)
	adm.POST("/databases/:db/links/:name/query", a.apiRunQueryCheck)
	adm.GET("/databases/:db/links/:name/options", a.apiPlanOption)
	adm.POST("/databases/:db/links/:name/options", a.apiChangeOption)
	adm.POST("/databases/:db/links/:name/analyze", a.apiAnalyzeTables)
	adm.GET("/databases/:db/links/:name/connections/end", a.apiPlanEndConnections)
	adm.POST("/databases/:db/links/:name/connections/end", a.apiEndConnections)
	adm.POST("/replication/subscriptions/enable", a.apiSetSubscriptionEnabled(true))
	adm.POST("/replication/subscriptions/disable", a.apiSetSubscriptionEnabled(false))
	adm.GET("/replication/subscriptions/drop", a.apiPlanDropSubscription)
	adm.POST("/replication/subscriptions/drop", a.apiDropSubscription)
	adm.GET("/replication/slots/drop", a.apiPlanDropSlot)
	adm.POST("/replication/slots/drop", a.apiDropSlot)
	adm.POST("/replication/publications", a.apiCreatePublication)
	adm.POST("/replication/subscriptions", a.apiCreateSubscription)
	adm.GET("/audit", a.apiAudit)
}

// apiAuth resolves the bearer token. A request without one (a browser's,
// cookies and all) or with one that is unknown, revoked or expired is 401.
func (a *App) apiAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return errs.E(errs.Unauthorized, "The API needs a personal API token: send Authorization: Bearer <token>. Create one on your Account page.")
		}
		use, err := a.cfg.Auth.LookupToken(c.Request().Context(), strings.TrimSpace(token))
		if err != nil {
			return err
		}
		c.Set(apiCallerKey, use)
		return next(c)
	}
}

// apiRateLimit spends one request of the token's bucket; an empty bucket
// is 429 with Retry-After.
func (a *App) apiRateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ok, wait := a.apiLimit.allow(apiCaller(c).Token.ID, time.Now())
		if !ok {
			c.Response().Header().Set("Retry-After", retryAfter(wait))
			return echo.NewHTTPError(http.StatusTooManyRequests, "Too many requests with this token: wait "+retryAfter(wait)+" s (Retry-After), then go on.")
		}
		return next(c)
	}
}

// apiRequireAdmin guards every change and every plan, as requireAdmin
// does for pages: a viewer's token gets 403, and a refused change is
// audited.
func (a *App) apiRequireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !apiCaller(c).User.IsAdmin() {
			if !isSafeMethod(c.Request().Method) {
				a.audit(c, auth.ActionDenied, c.Request().URL.Path, auth.OutcomeRefused, "admin role required", "")
			}
			return errs.E(errs.Forbidden, "Only admins may do this; this token's user is a viewer. Ask an admin to change your role.")
		}
		return next(c)
	}
}

// apiMe says whose token this is.
func (a *App) apiMe(c echo.Context) error {
	u := apiCaller(c)
	return writeJSON(c, http.StatusOK, apiMeJSON{
		Email: u.User.Email, Role: string(u.User.Role),
		Token: apiTokenJSON{Name: u.Token.Name, Prefix: u.Token.Prefix, CreatedAt: u.Token.CreatedAt, ExpiresAt: timePtr(u.Token.ExpiresAt), LastUsedAt: timePtr(u.Token.LastUsedAt)},
	})
}

type apiMeJSON struct {
	Email string       `json:"email"`
	Role  string       `json:"role"`
	Token apiTokenJSON `json:"token"`
}

type apiTokenJSON struct {
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// timePtr is nil for a zero time, so JSON says null rather than year 1.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
