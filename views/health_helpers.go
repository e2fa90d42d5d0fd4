package views

import (
	"fmt"
	"strings"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
)

// checkedAgo says when a probe ran, e.g. "checked 12 s ago".
func checkedAgo(h links.LinkHealth, now time.Time) string {
	if h.CheckedAt.IsZero() {
		return "not checked yet"
	}
	d := h.Age(now)
	switch {
	case d < time.Second:
		return "checked just now"
	case d < 2*time.Minute:
		return fmt.Sprintf("checked %d s ago", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("checked %d min ago", int(d.Minutes()))
	}
	return "checked at " + When(h.CheckedAt)
}

// millis formats a round-trip time in milliseconds.
func millis(d time.Duration) string {
	ms := float64(d.Microseconds()) / 1000
	if ms < 10 {
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

func healthBadgeClass(s links.HealthState) string {
	switch s {
	case links.HealthHealthy:
		return "badge badge-green"
	case links.HealthBroken:
		return "badge badge-red"
	}
	return "badge badge-gray"
}

func healthState(h links.LinkHealth) string {
	if h.State == "" {
		return string(links.HealthUnknown)
	}
	return string(h.State)
}

// healthTitle is the badge's tooltip.
func healthTitle(h links.LinkHealth, now time.Time) string {
	switch h.State {
	case links.HealthHealthy:
		return "healthy, " + millis(h.RTT) + ", " + checkedAgo(h, now)
	case links.HealthBroken:
		return h.Reason + " (" + checkedAgo(h, now) + ")"
	}
	return "not checked yet: a probe runs in the background; reload in a few seconds"
}

// downBadge is a card's status badge for a database whose read failed:
// "unreachable" when it was not reached at all, else what it refused.
func downBadge(c fleet.Cause) string {
	if c == "" || c.Network() {
		return "unreachable"
	}
	return c.Words()
}

// failingLine is the line under a failing database's URL: its cause
// since when, and when pglinks asks again where that can help: "Not
// answering since ...; pglinks asks again in 10 s.", "Password refused
// since ...: asking again does not help until ...".
func failingLine(st links.DatabaseStatus) string {
	c := st.Cause
	if c == "" {
		c = fleet.CauseTimeout
	}
	w := c.Words()
	line := strings.ToUpper(w[:1]) + w[1:] + " since " + When(st.FailingSince)
	switch wait := secondsUntil(st.RetryAt); {
	case st.RetryAt.IsZero():
		return line + ": asking again does not help until its config var or the server changes."
	case wait > 0:
		return line + "; pglinks asks again in " + itoa(wait) + " s."
	}
	return line + "; pglinks is asking again now."
}

// timeNow is the clock of the views (badges' "checked N s ago").
var timeNow = time.Now
