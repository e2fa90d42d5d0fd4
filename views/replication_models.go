package views

import (
	"strings"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/replication"
)

// ReplicationPage is the fleet's subscriptions, publications and slots.
type ReplicationPage struct {
	Page
	Overview *replication.Overview
}

// DropSubscriptionPage is the typed-name confirmation for a subscription.
type DropSubscriptionPage struct {
	Page
	Plan    *replication.DropPlan
	Confirm string
	Errors  FormErrors
}

// DropSlotPage is the typed-name confirmation for a slot.
type DropSlotPage struct {
	Page
	Plan    *replication.SlotPlan
	Confirm string
	Errors  FormErrors
}

func bytesOrDash(n *int64) string {
	if n == nil {
		return "—"
	}
	return replication.HumanBytes(*n)
}

func whenOrDash(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return When(*t)
}

func joinOr(xs []string, none string) string {
	if len(xs) == 0 {
		return none
	}
	return strings.Join(xs, ", ")
}

// tableStates words a subscription's table sync states.
func tableStates(t replication.TableStates) string {
	if t.Total() == 0 {
		return "no tables"
	}
	var parts []string
	for _, s := range []struct {
		n    int
		name string
	}{{t.Ready, "ready"}, {t.Synced, "synchronized"}, {t.Finished, "copied"}, {t.DataCopy, "copying data"}, {t.Init, "initializing"}} {
		if s.n > 0 {
			parts = append(parts, itoa(s.n)+" "+s.name)
		}
	}
	return strings.Join(parts, ", ")
}

func warningTestID(w replication.Warning) string { return "warning-" + w.Kind }

func ternary(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

// NewPublicationPage is the create-publication form and its preflight.
type NewPublicationPage struct {
	Page
	Databases []*fleet.Database
	DB        string
	Tables    []replication.Table
	Name      string
	AllTables bool
	Chosen    map[string]bool
	Preflight *replication.Preflight
	Errors    FormErrors
}

// NewSubscriptionPage is the create-subscription form and its preflight.
type NewSubscriptionPage struct {
	Page
	Databases    []*fleet.Database
	Publisher    string
	Subscriber   string
	Publications []string
	Publication  string
	Name         string
	CopyData     bool
	Preflight    *replication.Preflight
	Errors       FormErrors
}

func errorCount(counts ...*int64) int {
	n := 0
	for _, c := range counts {
		if c != nil {
			n += int(*c)
		}
	}
	return n
}
