package app

import (
	"context"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/prometheus/client_golang/prometheus"
)

// linkCollector exports each link's health (its one health record, as
// every page shows it) and whether it is stale, so teams can alert on a
// link broken by a rotation or a failover; and how the background work
// keeps up.
type linkCollector struct {
	fleet     *fleet.Fleet
	links     *links.Service
	health    *links.Monitor
	labels    *metricLabels
	timeout   time.Duration
	leaseHeld func() bool
	started   time.Time

	healthy, stale, rtt, checked    *prometheus.Desc
	linkFailure, dbFailure          *prometheus.Desc
	conns, connsPeak, connsMax      *prometheus.Desc
	lease, oldestCard, cardsNotRead *prometheus.Desc
}

func newLinkCollector(a *App, ml *metricLabels) *linkCollector {
	labels := []string{"database", "link", "remote"}
	f := a.cfg.Fleet
	return &linkCollector{
		fleet: f, links: a.cfg.Links, health: a.cfg.Health, labels: ml, timeout: f.Deadlines.Scrape,
		leaseHeld: a.cfg.LeaseHeld, started: a.started,
		lease: prometheus.NewDesc("pglinks_background_lease_held",
			"1 when this process holds the lease of the fleet's background work (reading every database, probing every link).", nil, nil),
		oldestCard: prometheus.NewDesc("pglinks_inventory_oldest_card_seconds",
			"Age of the oldest inventory card this process shows; a card not read yet counts from the process's start.", nil, nil),
		cardsNotRead: prometheus.NewDesc("pglinks_inventory_cards_not_read",
			"Inventory cards not read yet by any process.", nil, nil),
		healthy: prometheus.NewDesc("pglinks_link_healthy",
			"1 when the last probe through the link worked, 0 when it failed; absent until the link is probed.", labels, nil),
		stale: prometheus.NewDesc("pglinks_link_stale",
			"1 when the link's server or user mapping differs from its remote's config var.", labels, nil),
		rtt: prometheus.NewDesc("pglinks_link_probe_seconds",
			"Round trip of the last successful probe through the link, remote connection included.", labels, nil),
		checked: prometheus.NewDesc("pglinks_link_checked_timestamp_seconds",
			"When the link's last probe ran (Unix time): the link's one health record, the same in every process and on every page.", labels, nil),
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
	ch <- lc.checked
	ch <- lc.linkFailure
	ch <- lc.dbFailure
	ch <- lc.conns
	ch <- lc.connsPeak
	ch <- lc.connsMax
	ch <- lc.lease
	ch <- lc.oldestCard
	ch <- lc.cardsNotRead
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
	held := false
	if lc.leaseHeld != nil {
		held = lc.leaseHeld()
	}
	out.gauge(lc.lease, b2f(held))
	if lc.fleet.SnapshotMaxAge > 0 {
		age, unread := lc.links.Cards().Oldest(time.Now(), lc.started)
		out.gauge(lc.oldestCard, age.Seconds())
		out.gauge(lc.cardsNotRead, float64(unread))
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
			h := health[links.HealthKey(st.DB.ConfigVar, l.Name)]
			switch h.State {
			case links.HealthHealthy:
				out.gauge(lc.healthy, 1, labels...)
				out.gauge(lc.rtt, h.RTT.Seconds(), labels...)
			case links.HealthBroken:
				out.gauge(lc.healthy, 0, labels...)
				out.gauge(lc.linkFailure, 1, append(labels, reasonLabel(h.Cause))...)
			}
			if !h.CheckedAt.IsZero() {
				out.gauge(lc.checked, float64(h.CheckedAt.UnixMilli())/1000, labels...)
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
