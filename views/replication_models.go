package views

import (
	"strings"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/pgversion"
	"github.com/pglinks/pglinks/internal/replication"
)

// ReplicationPage is the fleet's subscriptions, publications and slots.
type ReplicationPage struct {
	Page
	Overview *replication.Overview
	// Query is the search (?q=), as on the inventory; Shown are the
	// matching databases that hold something (or could not be read),
	// Empty the matching ones folded into one line.
	Query        string
	Shown, Empty []replication.Database
	// OrphanAfter is how long a slot must be inactive to be a problem.
	OrphanAfter time.Duration
}

// Fleet is how many databases the fleet has.
func (p ReplicationPage) Fleet() int { return len(p.Overview.Databases) }

// Matches is how many databases match the search.
func (p ReplicationPage) Matches() int { return len(p.Shown) + len(p.Empty) }

// Warnings are the warnings of the databases shown.
func (p ReplicationPage) Warnings() []replication.Warning {
	if p.Query == "" {
		return p.Overview.Warnings
	}
	var out []replication.Warning
	for _, d := range p.Shown {
		out = append(out, p.Overview.WarningsFor(d.DB.ConfigVar)...)
	}
	return out
}

// emptyList names the folded databases, at most foldedNames of them.
func (p ReplicationPage) emptyList() string {
	var names []string
	for i, d := range p.Empty {
		if i == foldedNames {
			return strings.Join(names, ", ") + ", and " + itoa(len(p.Empty)-i) + " more (search to find one)."
		}
		names = append(names, d.DB.ResourceName+" ("+d.DB.ConfigVar+")")
	}
	return strings.Join(names, ", ") + "."
}

// foldedNames bounds the names on the folded line, whatever the fleet's
// size; a search finds the others.
const foldedNames = 40

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

// subscriptionOptions words the options newer servers give a
// subscription: password_required and run_as_owner (16), failover (17).
func subscriptionOptions(s replication.Subscription) string {
	var parts []string
	if s.PasswordRequired != nil {
		if *s.PasswordRequired {
			parts = append(parts, "password required")
		} else {
			parts = append(parts, "password not required (password_required = false)")
		}
	}
	if s.RunAsOwner != nil {
		if *s.RunAsOwner {
			parts = append(parts, "applies as its owner (run_as_owner)")
		} else {
			parts = append(parts, "applies as each table's owner")
		}
	}
	if s.Failover != nil && *s.Failover {
		parts = append(parts, "failover slot")
	}
	return strings.Join(parts, " · ")
}

// slotLimit says how much longer the server keeps a slot valid: the WAL it
// may still retain under max_slot_wal_keep_size, and when an idle slot
// meets idle_replication_slot_timeout (PostgreSQL 18).
func slotLimit(d replication.Database, sl replication.Slot, now time.Time) string {
	if sl.Invalidated() {
		return ""
	}
	var parts []string
	if d.MaxSlotWALKeep != nil && sl.SafeWALSize != nil {
		parts = append(parts, replication.HumanBytes(max(0, *sl.SafeWALSize))+" more before max_slot_wal_keep_size ("+replication.HumanBytes(*d.MaxSlotWALKeep)+") invalidates it")
	}
	switch {
	case sl.InvalidatesAt != nil && sl.InvalidatesAt.After(now):
		parts = append(parts, "idle timeout: invalidated in "+replication.Approx(sl.InvalidatesAt.Sub(now))+" (at the first checkpoint after "+When(*sl.InvalidatesAt)+")")
	case sl.InvalidatesAt != nil:
		parts = append(parts, "idle timeout passed: invalidated at the next checkpoint")
	case sl.Active && d.IdleSlotTimeout != nil && *d.IdleSlotTimeout > 0:
		parts = append(parts, "invalidated once inactive for "+replication.Approx(*d.IdleSlotTimeout))
	}
	return strings.Join(parts, "; ")
}

// slotLimits words what a server does to slots that retain too much or
// idle too long, and says so where it does nothing.
func slotLimits(d replication.Database) string {
	keep := "max_slot_wal_keep_size is unlimited: a slot keeps its WAL until it is used or dropped"
	if d.MaxSlotWALKeep != nil {
		keep = "max_slot_wal_keep_size " + replication.HumanBytes(*d.MaxSlotWALKeep) + ": a slot that retains more is invalidated"
	}
	var idle string
	switch {
	case d.IdleSlotTimeout == nil:
		idle = "PostgreSQL " + pgversion.Label(d.Version) + " has no idle_replication_slot_timeout (18 and later): an inactive slot is never invalidated for idling"
	case *d.IdleSlotTimeout == 0:
		idle = "idle_replication_slot_timeout is off: an inactive slot is never invalidated for idling"
	default:
		idle = "idle_replication_slot_timeout " + replication.Approx(*d.IdleSlotTimeout) + ": a slot inactive that long is invalidated at the next checkpoint"
	}
	dated := ""
	if !pgversion.AtLeast(d.Version, 17) {
		dated = ". PostgreSQL " + pgversion.Label(d.Version) + " does not say since when a slot is inactive (17 does): pglinks counts from when it first saw it so"
	}
	return keep + "; " + idle + dated + "."
}

// superuserWhy says why pglinks needs a superuser where it manages
// subscriptions on a server older than 16, "" elsewhere.
func superuserWhy(d replication.Database) string {
	if !d.Superuser || len(d.Subscriptions) == 0 || pgversion.AtLeast(d.Version, 16) {
		return ""
	}
	return "pglinks connects here as a superuser because on PostgreSQL " + pgversion.Label(d.Version) +
		" only superusers create, own and change subscriptions; from 16 a role granted pg_create_subscription does, and pglinks manages its subscriptions as that role."
}
