package views

import (
	"fmt"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
)

// EndConnectionsPage confirms ending the connections local sessions hold
// through a link, on its remote.
type EndConnectionsPage struct {
	Page
	Local *fleet.Database
	Conns *links.RemoteConnections
}

// keepConnectionsWords says what the link's keep_connections means for
// the connections listed.
func keepConnectionsWords(rc *links.RemoteConnections) string {
	switch {
	case !rc.KeepSupported:
		return fmt.Sprintf("not available on PostgreSQL %d (postgres_fdw has it from 14): every local session keeps its connection through the link until the session ends.", rc.LocalMajor)
	case rc.KeepConnectionsOn() && rc.KeepConnections == "":
		return "on (PostgreSQL's default): a local session keeps its connection through the link open between transactions, until the session ends."
	case rc.KeepConnectionsOn():
		return "on: a local session keeps its connection through the link open between transactions, until the session ends."
	}
	return "off: each connection through the link closes at the end of the transaction that opened it."
}

// connAge is how long ago t was, in whole seconds or minutes.
func connAge(t time.Time, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	if d < 2*time.Minute {
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	}
	return When(t)
}
