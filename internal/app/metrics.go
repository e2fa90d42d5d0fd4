package app

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/replication"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// replicationCollector exports the fleet's replication as the background
// sweep read it (at most SnapshotMaxAge old), or, with SnapshotMaxAge 0,
// as read at each scrape; every read is bounded.
type replicationCollector struct {
	repl    *replication.Service
	labels  *metricLabels
	timeout time.Duration

	up, slotRetained, slotActive, subRunning, subEnabled         *prometheus.Desc
	slotInvalidated, slotInactive, subApplyErrors, subSyncErrors *prometheus.Desc
}

func newReplicationCollector(repl *replication.Service, labels *metricLabels) *replicationCollector {
	return &replicationCollector{
		repl:    repl,
		labels:  labels,
		timeout: repl.Fleet.Deadlines.Scrape,
		up: prometheus.NewDesc("pglinks_database_up",
			"1 when pglinks could read the fleet database's replication state.", []string{"database"}, nil),
		slotRetained: prometheus.NewDesc("pglinks_replication_slot_retained_wal_bytes",
			"WAL retained by the slot: pg_wal_lsn_diff(current WAL, restart_lsn).", []string{"database", "slot", "slot_type", "orphaned"}, nil),
		slotActive: prometheus.NewDesc("pglinks_replication_slot_active",
			"1 when a process is using the replication slot.", []string{"database", "slot", "slot_type", "orphaned"}, nil),
		subRunning: prometheus.NewDesc("pglinks_subscription_worker_running",
			"1 when the subscription's apply worker is running.", []string{"database", "subscription"}, nil),
		subEnabled: prometheus.NewDesc("pglinks_subscription_enabled",
			"1 when the subscription is enabled.", []string{"database", "subscription"}, nil),
		slotInvalidated: prometheus.NewDesc("pglinks_replication_slot_invalidated",
			"1 when the server has invalidated the slot (invalidation_reason, conflicting, or wal_status lost): it can no longer be used.", []string{"database", "slot", "slot_type"}, nil),
		slotInactive: prometheus.NewDesc("pglinks_replication_slot_inactive_seconds",
			"How long the slot has been inactive, 0 while active: from the server's inactive_since (PostgreSQL 17 and later), else since pglinks first saw it inactive.", []string{"database", "slot", "slot_type"}, nil),
		subApplyErrors: prometheus.NewDesc("pglinks_subscription_apply_errors_total",
			"Errors of the subscription's apply worker since its statistics were reset (pg_stat_subscription_stats, PostgreSQL 15 and later).", []string{"database", "subscription"}, nil),
		subSyncErrors: prometheus.NewDesc("pglinks_subscription_sync_errors_total",
			"Errors of the subscription's table sync workers since its statistics were reset (PostgreSQL 15 and later).", []string{"database", "subscription"}, nil),
	}
}

func (rc *replicationCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{rc.up, rc.slotRetained, rc.slotActive, rc.subRunning, rc.subEnabled, rc.slotInvalidated, rc.slotInactive, rc.subApplyErrors, rc.subSyncErrors} {
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (rc *replicationCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), rc.timeout)
	defer cancel()
	var o *replication.Overview
	if rc.repl.Fleet.SnapshotMaxAge > 0 {
		// What the background sweep read, at most SnapshotMaxAge old: a
		// scrape of each of several processes costs the fleet nothing.
		o = rc.repl.BackgroundOverview()
	} else {
		o = rc.repl.Overview(ctx)
	}
	out := rc.labels.scrape(ch)
	for _, d := range o.Databases {
		v := d.DB.ConfigVar
		out.gauge(rc.up, b2f(d.Reachable), v)
		for _, sl := range d.Slots {
			orphaned := "false"
			switch {
			case sl.Orphaned && o.Incomplete:
				// No fleet subscription that was read names it, but some
				// fleet databases could not be read: one there may.
				orphaned = "unknown"
			case sl.Orphaned:
				orphaned = "true"
			}
			if sl.RetainedBytes != nil {
				out.gauge(rc.slotRetained, float64(*sl.RetainedBytes), v, sl.Name, sl.Type, orphaned)
			}
			out.gauge(rc.slotActive, b2f(sl.Active), v, sl.Name, sl.Type, orphaned)
			out.gauge(rc.slotInvalidated, b2f(sl.Invalidated()), v, sl.Name, sl.Type)
			out.gauge(rc.slotInactive, sl.InactiveFor(o.ReadAt).Seconds(), v, sl.Name, sl.Type)
		}
		for _, s := range d.Subscriptions {
			out.gauge(rc.subRunning, b2f(s.WorkerRunning), v, s.Name)
			out.gauge(rc.subEnabled, b2f(s.Enabled), v, s.Name)
			if s.ApplyErrors != nil {
				out.counter(rc.subApplyErrors, float64(*s.ApplyErrors), v, s.Name)
				out.counter(rc.subSyncErrors, float64(*s.SyncErrors), v, s.Name)
			}
		}
	}
}

// metricsHandler serves /metrics: 404 unless a token is configured, then
// 401 unless the request carries it as a bearer token.
func (a *App) metricsHandler() echo.HandlerFunc {
	token := a.cfg.MetricsToken
	if token == "" {
		return func(c echo.Context) error { return echo.ErrNotFound }
	}
	reg := prometheus.NewRegistry()
	labels := newMetricLabels()
	reg.MustRegister(labels.around(newReplicationCollector(a.cfg.Replication, labels), newLinkCollector(a, labels)))
	// ContinueOnError: a series that cannot be gathered is left out (and
	// logged) rather than answering 500 for all the others. The handler's
	// own bound is past the collectors' (Deadlines.Scrape).
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		Timeout:       a.cfg.Fleet.Deadlines.Scrape + 5*time.Second,
	})
	want := []byte("Bearer " + token)
	return func(c echo.Context) error {
		got := []byte(strings.TrimSpace(c.Request().Header.Get(echo.HeaderAuthorization)))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="pglinks metrics"`)
			return c.String(http.StatusUnauthorized, "a bearer token is required\n")
		}
		h.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}
