package app

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// metricLabels keeps one odd name from costing a whole scrape: a label
// value that is not valid UTF-8 (a subscription named in a SQL_ASCII
// database) has each invalid byte written as \xNN, and a series whose
// labels repeat one already sent in this scrape is left out. Both are
// counted in metrics of their own.
type metricLabels struct {
	replaced, dropped prometheus.Counter
}

func newMetricLabels() *metricLabels {
	return &metricLabels{
		replaced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pglinks_metrics_label_values_replaced_total",
			Help: "Label values that were not valid UTF-8, exported with each invalid byte written as \\xNN.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pglinks_metrics_series_dropped_total",
			Help: "Series left out of a scrape because their labels repeated another series' (or could not be exported).",
		}),
	}
}

// around is one collector running inner (concurrently, as a registry
// would) and then the two counters, so a scrape reports its own
// replacements.
func (m *metricLabels) around(inner ...prometheus.Collector) prometheus.Collector {
	return &guarded{m: m, inner: inner}
}

type guarded struct {
	m     *metricLabels
	inner []prometheus.Collector
}

func (g *guarded) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range g.inner {
		c.Describe(ch)
	}
	g.m.replaced.Describe(ch)
	g.m.dropped.Describe(ch)
}

func (g *guarded) Collect(ch chan<- prometheus.Metric) {
	var wg sync.WaitGroup
	for _, c := range g.inner {
		wg.Go(func() { c.Collect(ch) })
	}
	wg.Wait()
	g.m.replaced.Collect(ch)
	g.m.dropped.Collect(ch)
}

// scrape is one Collect call's sink.
func (m *metricLabels) scrape(ch chan<- prometheus.Metric) *metricSink {
	return &metricSink{m: m, ch: ch, seen: map[string]bool{}}
}

type metricSink struct {
	m    *metricLabels
	ch   chan<- prometheus.Metric
	seen map[string]bool
}

// gauge sends one gauge, its labels made valid first.
func (s *metricSink) gauge(desc *prometheus.Desc, v float64, labels ...string) {
	s.send(desc, prometheus.GaugeValue, v, labels)
}

// counter sends one counter (a count a server keeps), as gauge does.
func (s *metricSink) counter(desc *prometheus.Desc, v float64, labels ...string) {
	s.send(desc, prometheus.CounterValue, v, labels)
}

func (s *metricSink) send(desc *prometheus.Desc, vt prometheus.ValueType, v float64, labels []string) {
	for i, l := range labels {
		if !utf8.ValidString(l) {
			labels[i] = escapeInvalidUTF8(l)
			s.m.replaced.Inc()
		}
	}
	key := desc.String() + "\x00" + strings.Join(labels, "\x00")
	if s.seen[key] {
		s.m.dropped.Inc()
		return
	}
	s.seen[key] = true
	metric, err := prometheus.NewConstMetric(desc, vt, v, labels...)
	if err != nil {
		s.m.dropped.Inc()
		return
	}
	s.ch <- metric
}

// escapeInvalidUTF8 keeps valid runes and writes every other byte as \xNN,
// so distinct byte strings stay distinct.
func escapeInvalidUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			fmt.Fprintf(&b, `\x%02X`, s[i])
			i++
			continue
		}
		b.WriteString(s[i : i+size])
		i += size
	}
	return b.String()
}
