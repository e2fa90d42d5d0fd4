package app

import (
	"context"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/prometheus/client_golang/prometheus"
)

// linkCollector exports each link's health (from the health monitor's
// cache, which the scrape keeps warm) and whether it is stale, so teams
// can alert on a link broken by a rotation or a failover.
type linkCollector struct {
	fleet   *fleet.Fleet
	links   *links.Service
	health  *links.Monitor
	labels  *metricLabels
	timeout time.Duration

	healthy, stale, rtt        *prometheus.Desc
	linkFailure, dbFailure     *prometheus.Desc
	conns, connsPeak, connsMax *prometheus.Desc
}

func newLinkCollector(f *fleet.Fleet, svc *links.Service, health *links.Monitor, ml *metricLabels) *linkCollector {
	labels := []string{"database", "link", "remote"}
	return &linkCollector{
		fleet: f, links: svc, health: health, labels: ml, timeout: f.Deadlines.Scrape,
		healthy: prometheus.NewDesc("pglinks_link_healthy",
			"1 when the last probe through the link worked, 0 when it failed; absent until the link is probed.", labels, nil),
		stale: prometheus.NewDesc("pglinks_link_stale",
			"1 when the link's server or user mapping differs from its remote's config var.", labels, nil),
		rtt: prometheus.NewDesc("pglinks_link_probe_seconds",
			"Round trip of the last successful probe through the link, remote connection included.", labels, nil),
		linkFailure: prometheus.NewDesc("pglinks_link_failure_reason",
			"1 while the link's last probe failed, labelled with why (the cause the link page names: password_refused, timeout, connection_refused, ...).", append(labels[:3:3], "reason"), nil),
		dbFailure: prometheus.NewDesc("pglinks_database_failure_reason",
			"1 while pglinks' last read of the fleet database failed, labelled with why (the cause its card names: password_refused, timeout, connection_refused, ...).", []string{"database", "reason"}, nil),
		conns: prometheus.NewDesc("pglinks_fleet_connections",
			"Connections pglinks holds open to fleet databases now, by class: user (pages and changes) or status (background reads and probes).", []string{"class"}, nil),
		connsPeak: prometheus.NewDesc("pglinks_fleet_connections_peak",
			"Most connections to fleet databases pglinks held at once since it started, by class.", []string{"class"}, nil),
		connsMax: prometheus.NewDesc("pglinks_fleet_connections_limit",
			"The class's share of PGLINKS_MAX_CONNECTIONS.", []string{"class"}, nil),
	}
}

func (lc *linkCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lc.healthy
	ch <- lc.stale
	ch <- lc.rtt
	ch <- lc.linkFailure
	ch <- lc.dbFailure
	ch <- lc.conns
	ch <- lc.connsPeak
	ch <- lc.connsMax
}

func (lc *linkCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), lc.timeout)
	defer cancel()
	out := lc.labels.scrape(ch)
	for _, c := range lc.fleet.Stats().Class {
		out.gauge(lc.conns, float64(c.InUse), string(c.Name))
		out.gauge(lc.connsPeak, float64(c.Peak), string(c.Name))
		out.gauge(lc.connsMax, float64(c.Limit), string(c.Name))
	}
	inv := lc.links.Inventory(ctx)
	health := lc.health.Lookup(inv)
	for _, st := range inv {
		if !st.Reachable && !st.Pending && st.DB.ConfigErr == nil {
			out.gauge(lc.dbFailure, 1, st.DB.ConfigVar, reasonLabel(st.Cause))
		}
		for _, l := range st.Links {
			labels := []string{st.DB.ConfigVar, l.Name, l.RemoteConfigVar}
			if r := l.Stale; r != nil {
				out.gauge(lc.stale, b2f(r.Stale()), labels...)
			}
			switch h := health[links.HealthKey(st.DB.ConfigVar, l.Name)]; h.State {
			case links.HealthHealthy:
				out.gauge(lc.healthy, 1, labels...)
				out.gauge(lc.rtt, h.RTT.Seconds(), labels...)
			case links.HealthBroken:
				out.gauge(lc.healthy, 0, labels...)
				out.gauge(lc.linkFailure, 1, append(labels, reasonLabel(h.Cause))...)
			}
		}
	}
}

// reasonLabel is a failure's cause as a label value ("other" when it was
// not classified).
func reasonLabel(c fleet.Cause) string {
	if c == "" {
		return string(fleet.CauseOther)
	}
	return string(c)
}
