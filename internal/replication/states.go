package replication

import (
	"fmt"
	"time"
)

// SubState is what a subscription is doing, in the words the page shows.
type SubState string

const (
	SubRunning  SubState = "running"
	SubStarting SubState = "starting" // enabled moments ago, its worker not started yet
	SubStopped  SubState = "worker stopped"
	SubStopping SubState = "stopping" // disabled, its worker still finishing
	SubDisabled SubState = "disabled"
)

// SlotState is what a replication slot is doing, in the words the page
// shows.
type SlotState string

const (
	SlotActive SlotState = "active"
	// SlotStarting: inactive, but the fleet subscription that uses it is
	// starting: it is about to be used.
	SlotStarting SlotState = "starting"
	// SlotInactive: inactive for less than OrphanAfter; not a problem yet.
	SlotInactive SlotState = "inactive"
	// SlotIdle: inactive for longer than OrphanAfter: it holds WAL for
	// nobody.
	SlotIdle        SlotState = "idle"
	SlotInvalidated SlotState = "invalidated"
)

// DropOffered reports whether pglinks offers to drop the slot: only when
// acting on it is safe, that is, an invalidated slot, or one inactive for
// longer than the threshold; never one the server syncs from a primary.
func (sl *Slot) DropOffered() bool {
	return !sl.Synced && !sl.Temporary && (sl.State == SlotIdle || sl.State == SlotInvalidated)
}

// Breaks names the fleet subscription that dropping the slot breaks, ""
// when none does.
func (sl *Slot) Breaks() string {
	if sl.UsedBy == nil {
		return ""
	}
	return sl.UsedBy.ConfigVar + "/" + sl.UsedBy.Subscription
}

// settle words each subscription's and slot's state at now: transitions
// pglinks made or saw moments ago are named as such, and a slot becomes a
// problem only after OrphanAfter of inactivity. o must be correlated.
func (s *Service) settle(o *Overview, now time.Time) {
	mem := s.memory()
	subs := map[string]*Subscription{} // "VAR/name"
	for i := range o.Databases {
		d := &o.Databases[i]
		if !d.Reachable {
			continue
		}
		names := make([]string, 0, len(d.Subscriptions))
		for j := range d.Subscriptions {
			sub := &d.Subscriptions[j]
			names = append(names, sub.Name)
			s.subscriptionState(mem, d.DB.ConfigVar, sub, now)
			subs[d.DB.ConfigVar+"/"+sub.Name] = sub
		}
		if !d.subscriptionsPartial {
			mem.Retain(d.DB.ConfigVar, kindSubscription, names)
		}
	}
	for i := range o.Databases {
		d := &o.Databases[i]
		if !d.Reachable {
			continue
		}
		names := make([]string, 0, len(d.Slots))
		for j := range d.Slots {
			sl := &d.Slots[j]
			names = append(names, sl.Name)
			var user *Subscription
			if sl.UsedBy != nil {
				user = subs[sl.UsedBy.ConfigVar+"/"+sl.UsedBy.Subscription]
			}
			s.slotState(mem, d, sl, user, now)
		}
		if !d.slotsPartial {
			mem.Retain(d.DB.ConfigVar, kindSlot, names)
		}
	}
}

func (s *Service) subscriptionState(mem Memory, db string, sub *Subscription, now time.Time) {
	state := "disabled"
	if sub.Enabled {
		state = "enabled"
	}
	seen := mem.Observe(Key{db, kindSubscription, sub.Name}, state, now)
	// Only a change pglinks made or saw is a transition: a subscription
	// seen for the first time has been in its state for who knows how long.
	if !seen.First {
		sub.StateSince = seen.Since
	}
	recent := !seen.First && now.Sub(seen.Since) < s.Settle
	switch {
	case sub.Enabled && sub.WorkerRunning:
		sub.State = SubRunning
	case sub.Enabled && recent:
		sub.State = SubStarting
	case sub.Enabled:
		sub.State = SubStopped
	case sub.WorkerRunning:
		sub.State = SubStopping
	default:
		sub.State = SubDisabled
	}
}

func (s *Service) slotState(mem Memory, d *Database, sl *Slot, user *Subscription, now time.Time) {
	key := Key{d.DB.ConfigVar, kindSlot, sl.Name}
	if sl.Active {
		mem.Observe(key, "active", now)
		sl.InactiveSince, sl.InactiveSinceSeen = nil, false
	} else if sl.InactiveSince == nil {
		// Before 17 the server does not say; pglinks' own first sight is
		// a lower bound.
		seen := mem.Observe(key, "inactive", now)
		since := seen.Since
		sl.InactiveSince, sl.InactiveSinceSeen = &since, true
	}
	if d.IdleSlotTimeout != nil && *d.IdleSlotTimeout > 0 && sl.InactiveSince != nil && !sl.InactiveSinceSeen {
		at := sl.InactiveSince.Add(*d.IdleSlotTimeout)
		sl.InvalidatesAt = &at
	}
	switch {
	case sl.Invalidated():
		sl.State = SlotInvalidated
	case sl.Active:
		sl.State = SlotActive
	case user != nil && user.Enabled && !user.StateSince.IsZero() && now.Sub(user.StateSince) < s.Settle:
		// Its subscription was enabled moments ago: the worker is about
		// to use the slot, or connecting to do so.
		sl.State = SlotStarting
	case now.Sub(*sl.InactiveSince) < s.OrphanAfter:
		sl.State = SlotInactive
	default:
		sl.State = SlotIdle
	}
}

// InactiveFor is how long the slot has been inactive at now (at least, when
// InactiveSinceSeen); 0 while active.
func (sl *Slot) InactiveFor(now time.Time) time.Duration {
	if sl.InactiveSince == nil {
		return 0
	}
	return max(0, now.Sub(*sl.InactiveSince))
}

// Approx words a duration the way people say it: "40 s", "7 min",
// "3 h 20 min", "2 days".
func Approx(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%d h", h)
		}
		return fmt.Sprintf("%d h %d min", h, m)
	default:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
}
