// Package app is the HTTP side of pglinks: Echo routes, middleware and thin
// handlers that parse a request, call internal/links or internal/auth, and
// render a templ component or redirect.
package app

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/replication"
	"github.com/pglinks/pglinks/static"
)

// Config wires the app; cmd/web builds every part of it (and tests do
// the same). New refuses a Config missing one.
type Config struct {
	// Fleet is the databases and pglinks' connections to them; its
	// Deadlines bound what the handlers ask of them.
	Fleet *fleet.Fleet
	Links *links.Service
	// Health caches link probes.
	Health *links.Monitor
	// Replication reads and changes logical replication.
	Replication *replication.Service
	Auth        *auth.Store
	// Limiter throttles sign-in attempts.
	Limiter *auth.Limiter
	Log     *slog.Logger
	// SessionKeys sign and encrypt cookies, newest first.
	SessionKeys []string
	// TrustedProxies are the CIDRs of reverse proxies whose
	// X-Forwarded-For and X-Forwarded-Proto headers are believed. Empty:
	// the direct peer address is the client.
	TrustedProxies []*net.IPNet
	// RequestTimeout bounds every request (default DefaultRequestTimeout);
	// it must stay below the HTTP server's write timeout.
	RequestTimeout time.Duration
	// MetricsToken turns /metrics on; requests must carry it as a bearer
	// token. Empty: /metrics is off.
	MetricsToken string
	// LeaseHeld says whether this process holds the lease of the fleet's
	// background work (/metrics); nil: it does not.
	LeaseHeld func() bool
	// APIRate and APIBurst are each API token's rate limit: requests a
	// second, and the burst (DefaultAPIRate, DefaultAPIBurst when 0).
	APIRate  float64
	APIBurst int
	// RequestLogLevel is the level requests are logged at: Info (the zero
	// value) for `web serve`; the demo logs them at Debug, below its
	// logger's level, so its terminal keeps what it printed for people.
	RequestLogLevel slog.Level
}

// DefaultRequestTimeout bounds a request: above the longest operation
// (a create is bounded by fleet.Deadlines.Write, 60 s), below the
// server's write timeout.
const DefaultRequestTimeout = 75 * time.Second

// App is the web application.
type App struct {
	cfg          Config
	throttled    throttledSignIns // which throttled sign-ins were audited
	started      time.Time
	echo         *echo.Echo
	log          *slog.Logger
	cards        *cardCache    // the inventory's rendered cards
	cookies      *auth.Cookies // Secure=false, for plain HTTP
	cookiesHTTPS *auth.Cookies // Secure=true, for TLS or a trusted proxy saying https
	apiLimit     *apiLimiter
}

// New builds the app and its routes.
func New(cfg Config) (*App, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	for name, missing := range map[string]bool{
		"Fleet": cfg.Fleet == nil, "Links": cfg.Links == nil, "Health": cfg.Health == nil,
		"Replication": cfg.Replication == nil, "Auth": cfg.Auth == nil, "Limiter": cfg.Limiter == nil,
	} {
		if missing {
			return nil, fmt.Errorf("app: Config.%s is not set", name)
		}
	}
	plain, err := auth.NewCookies(cfg.SessionKeys, false)
	if err != nil {
		return nil, err
	}
	secure, err := auth.NewCookies(cfg.SessionKeys, true)
	if err != nil {
		return nil, err
	}
	if d := cfg.Auth.AbsoluteTimeout; d > 0 {
		plain.SetMaxAge(d)
		secure.SetMaxAge(d)
	}
	a := &App{cfg: cfg, log: cfg.Log, cookies: plain, cookiesHTTPS: secure, started: time.Now(), cards: newCardCache(), apiLimit: newAPILimiter(cfg.APIRate, cfg.APIBurst)}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = a.handleError
	e.IPExtractor = ipExtractor(cfg.TrustedProxies)
	a.echo = e
	a.routes()
	return a, nil
}

// Handler is the http.Handler serving the app.
func (a *App) Handler() http.Handler { return a.echo }

func (a *App) routes() {
	e := a.echo
	e.Pre(middleware.RemoveTrailingSlash())
	e.Use(middleware.RequestID())
	e.Use(a.logRequests)
	e.Use(a.recoverPanics)
	e.Use(a.securityHeaders)
	e.Use(middleware.BodyLimit("64K"))
	e.Use(a.requestDeadline)
	e.Use(a.rejectNUL)

	e.GET("/healthz", a.healthz)
	e.GET("/static/favicon.svg", a.favicon)
	e.GET("/static/*", a.staticFile, a.cacheStatic)
	e.GET("/static", a.staticFile)
	e.GET("/metrics", a.metricsHandler()) // bearer token, no session or CSRF
	a.apiRoutes()                         // /api/v1: API tokens only, no session or CSRF

	// Everything below knows who is asking; state changes need a token.
	s := e.Group("", a.loadSession, a.checkOrigin, a.checkCSRF)
	s.GET("/login", a.loginForm)
	s.POST("/login", a.login)

	u := s.Group("", a.requireUser)
	u.POST("/logout", a.logout)
	u.GET("/", a.inventory)
	u.GET("/databases/:db/links/:name", a.showLink)
	u.GET("/databases/:db/links/:name/connect/message", a.connectMessage)
	u.POST("/databases/:db/refresh", a.refreshDatabase)
	u.GET("/replication", a.replicationPage)
	u.POST("/databases/:db/links/:name/check", a.checkLink)
	u.GET("/databases/:db/connection", a.connInfo)
	u.GET("/account", a.account)
	u.POST("/account/password", a.changePassword)
	u.POST("/account/tokens", a.createToken)
	u.POST("/account/tokens/:id/revoke", a.revokeOwnToken)

	adm := u.Group("", a.requireAdmin)
	adm.GET("/links/new", a.newLinkForm)
	adm.POST("/links", a.createLink)
	adm.GET("/databases/:db/links/:name/destroy", a.confirmDestroy)
	adm.POST("/databases/:db/links/:name/destroy", a.destroyLink)
	adm.GET("/databases/:db/links/:name/repair", a.confirmRepair)
	adm.POST("/databases/:db/links/:name/repair", a.repairLink)
	adm.GET("/databases/:db/links/:name/connections/end", a.confirmEndConnections)
	adm.POST("/databases/:db/links/:name/connections/end", a.endConnections)
	adm.GET("/databases/:db/links/:name/refresh", a.confirmRefresh)
	adm.POST("/databases/:db/links/:name/refresh", a.refreshLink)
	adm.GET("/databases/:db/links/:name/import", a.importForm)
	adm.POST("/databases/:db/links/:name/import", a.importTables)
	adm.GET("/audit", a.auditTrail)
	adm.GET("/users", a.users)
	adm.POST("/users", a.addUser)
	adm.GET("/users/:id/role", a.confirmDemoteSelf)
	adm.POST("/users/:id/role", a.setUserRole)
	adm.POST("/users/:id/delete", a.removeUser)
	adm.POST("/replication/subscriptions/enable", a.replicationChange(a.setSubscriptionEnabled(true)))
	adm.POST("/replication/subscriptions/disable", a.replicationChange(a.setSubscriptionEnabled(false)))
	adm.GET("/replication/subscriptions/drop", a.confirmDropSubscription)
	adm.POST("/replication/subscriptions/drop", a.replicationChange(a.dropSubscription))
	adm.GET("/replication/slots/drop", a.confirmDropSlot)
	adm.POST("/replication/slots/drop", a.replicationChange(a.dropSlot))
	adm.GET("/replication/publications/new", a.newPublicationForm)
	adm.POST("/replication/publications", a.replicationChange(a.createPublication))
	adm.GET("/replication/subscriptions/new", a.newSubscriptionForm)
	adm.POST("/replication/subscriptions", a.replicationChange(a.createSubscription))
	adm.GET("/users/:id/remove", a.confirmRemoveUser)
	adm.GET("/users/:id/password", a.confirmResetPassword)
	adm.POST("/users/:id/password", a.resetPassword)
	adm.GET("/users/:id/password/new", a.newPassword)
	adm.GET("/audit.csv", a.auditCSV)
	adm.POST("/users/:id/tokens/:tid/revoke", a.revokeUserToken)
	a.queryRoutes(u, adm)
}

// ipExtractor uses the direct peer unless trusted proxies are configured:
// Echo's default believes X-Forwarded-For from anyone, which would let a
// client pick the address the sign-in limiter sees.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// staticFile serves an embedded asset. Directories and unknown paths are
// 404: Echo's static handler redirects a directory to its slash form, which
// the trailing-slash remover sends back, in a loop.
func (a *App) staticFile(c echo.Context) error {
	name := strings.TrimPrefix(c.Param("*"), "/")
	if name == "" || !fs.ValidPath(name) {
		return echo.ErrNotFound
	}
	fi, err := fs.Stat(static.FS, name)
	if err != nil || fi.IsDir() {
		return echo.ErrNotFound
	}
	http.ServeFileFS(c.Response(), c.Request(), static.FS, name)
	return nil
}

// healthzTimeout bounds /healthz's ping of the state database.
const healthzTimeout = 2 * time.Second

// healthz answers 200 while the state database answers, so a load balancer
// takes out an instance that cannot sign anyone in.
func (a *App) healthz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), healthzTimeout)
	defer cancel()
	if err := a.cfg.Auth.Pool().Ping(ctx); err != nil {
		a.log.Warn("health check: state database", "err", err)
		return c.String(http.StatusServiceUnavailable, "state database unavailable\n")
	}
	return c.String(http.StatusOK, "ok\n")
}

const faviconSVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#3366ff"/><text x="16" y="21" font-family="system-ui,sans-serif" font-size="14" font-weight="700" fill="#fff" text-anchor="middle">pl</text></svg>`

func (a *App) favicon(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=86400")
	return c.Blob(http.StatusOK, "image/svg+xml", []byte(faviconSVG))
}
