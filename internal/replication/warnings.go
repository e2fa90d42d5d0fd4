package replication

import (
	"fmt"
	"time"
)

// warningsOf words the problems of one settled database at now.
// incomplete says some fleet databases could not be read, which weakens
// "orphaned". States in transition ("starting", "stopping") and slots
// inactive for less than OrphanAfter are not problems.
func (s *Service) warningsOf(d *Database, incomplete bool, now time.Time) []Warning {
	var ws []Warning
	v := d.DB.ConfigVar
	add := func(kind, obj, format string, args ...any) {
		ws = append(ws, Warning{ConfigVar: v, Kind: kind, Object: obj, Message: fmt.Sprintf(format, args...)})
	}
	for _, sub := range d.Subscriptions {
		switch sub.State {
		case SubDisabled, SubStopping:
			if sub.SlotName == "" {
				add("disabled", sub.Name, "Subscription %s on %s is disabled: changes on its publisher are not applied. It has no slot, so nothing is retained on the publisher for it.", sub.Name, v)
			} else {
				add("disabled", sub.Name, "Subscription %s on %s is disabled: changes on its publisher are not applied, and its slot %s keeps WAL on the publisher until the subscription is enabled or dropped.", sub.Name, v, sub.SlotName)
			}
			if sub.State == SubStopping && !sub.StateSince.IsZero() && now.Sub(sub.StateSince) >= s.Settle {
				add("worker_stopping", sub.Name, "Subscription %s on %s was disabled %s ago, but its worker (process %d) is still running.", sub.Name, v, Approx(now.Sub(sub.StateSince)), sub.WorkerPID)
			}
		case SubStopped:
			add("worker_stopped", sub.Name, "Subscription %s on %s is enabled but its worker is not running: the publisher may be unreachable or the worker keeps failing (see the subscriber's server log).", sub.Name, v)
		}
	}
	for i := range d.Slots {
		sl := &d.Slots[i]
		held := ""
		if sl.RetainedBytes != nil {
			held = HumanBytes(*sl.RetainedBytes)
		}
		switch {
		case sl.State == SlotInvalidated:
			add("invalidated_slot", sl.Name, "%s", invalidatedMessage(sl, v))
		case sl.State == SlotIdle:
			since := inactiveWords(sl, now)
			limit := idleLimitWords(sl, now)
			if sl.Orphaned {
				maybe := ""
				if incomplete {
					maybe = " (some fleet databases could not be read, so a subscription there may still use it)"
				}
				if held != "" {
					add("orphaned_slot", sl.Name, "Slot %s on %s is orphaned: no subscription in the fleet uses it%s. It has been inactive %s and holds %s of WAL; the publisher's disk fills until it is dropped.%s", sl.Name, v, maybe, since, held, limit)
				} else {
					add("orphaned_slot", sl.Name, "Slot %s on %s is orphaned: no subscription in the fleet uses it%s, and it has been inactive %s.%s", sl.Name, v, maybe, since, limit)
				}
			} else if held != "" {
				add("inactive_slot", sl.Name, "Slot %s on %s has been inactive %s and holds %s of WAL for %s; the publisher's disk fills until it is dropped or its subscriber comes back.%s", sl.Name, v, since, held, sl.UsedBy, limit)
			}
		case sl.State == SlotActive && sl.Orphaned:
			add("orphaned_slot", sl.Name, "Slot %s on %s is in use by a process but no subscription in the fleet uses it.", sl.Name, v)
		}
		if sl.State == SlotInvalidated {
			continue
		}
		switch sl.WALStatus {
		case "extended":
			add("wal_status", sl.Name, "Slot %s on %s retains more WAL than max_wal_size (wal_status extended).", sl.Name, v)
		case "unreserved":
			add("wal_status", sl.Name, "Slot %s on %s will lose the WAL it needs at the next checkpoint (wal_status unreserved).", sl.Name, v)
		}
	}
	return ws
}

// inactiveWords says how long a slot has been inactive: "for 7 min", or
// "for at least 7 min" when pglinks only knows when it first saw it so.
func inactiveWords(sl *Slot, now time.Time) string {
	if sl.InactiveSinceSeen {
		return "for at least " + Approx(sl.InactiveFor(now))
	}
	return "for " + Approx(sl.InactiveFor(now))
}

// idleLimitWords says when the server itself invalidates an idle slot, ""
// when it does not.
func idleLimitWords(sl *Slot, now time.Time) string {
	if sl.InvalidatesAt == nil {
		return ""
	}
	if left := sl.InvalidatesAt.Sub(now); left > 0 {
		return fmt.Sprintf(" The server invalidates it in %s (idle_replication_slot_timeout), at its first checkpoint after that.", Approx(left))
	}
	return " Its idle_replication_slot_timeout has passed: the server invalidates it at its next checkpoint."
}

// InvalidationWords says why the server invalidated a slot, in words.
func (sl *Slot) InvalidationWords() string {
	switch sl.InvalidationReason {
	case "wal_removed":
		return "the WAL it needed was removed (it retained more than max_slot_wal_keep_size)"
	case "rows_removed":
		return "rows it needed were removed by VACUUM on the primary (a conflict with recovery)"
	case "wal_level_insufficient":
		return "wal_level on the primary was lowered below logical"
	case "idle_timeout":
		return "it was inactive for longer than idle_replication_slot_timeout"
	case "":
	default:
		return "invalidation_reason " + sl.InvalidationReason
	}
	if sl.Conflicting != nil && *sl.Conflicting {
		return "a conflict with recovery on this standby"
	}
	return "the WAL it needed was removed (wal_status lost)"
}

func invalidatedMessage(sl *Slot, v string) string {
	msg := fmt.Sprintf("Slot %s on %s is invalidated: %s. It can no longer be used.", sl.Name, v, sl.InvalidationWords())
	if sl.UsedBy != nil && !sl.UsedBy.SyncWorker {
		msg += fmt.Sprintf(" Subscription %s on %s uses it and cannot resume: PostgreSQL refuses to stream changes from an invalidated slot, and the changes it would have needed are gone. Drop the subscription and create it again (its tables are copied afresh), then drop this slot if it is still there.", sl.UsedBy.Subscription, sl.UsedBy.ConfigVar)
	} else {
		msg += " No subscription in the fleet uses it: drop it."
	}
	return msg
}
