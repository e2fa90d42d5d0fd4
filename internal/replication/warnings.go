package replication

import "fmt"

// warningsOf words the problems of one database. incomplete says some
// fleet databases could not be read, which weakens "orphaned".
func warningsOf(d *Database, incomplete bool) []Warning {
	var ws []Warning
	v := d.DB.ConfigVar
	add := func(kind, obj, format string, args ...any) {
		ws = append(ws, Warning{ConfigVar: v, Kind: kind, Object: obj, Message: fmt.Sprintf(format, args...)})
	}
	for _, sub := range d.Subscriptions {
		switch {
		case !sub.Enabled:
			if sub.SlotName == "" {
				add("disabled", sub.Name, "Subscription %s on %s is disabled: changes on its publisher are not applied. It has no slot, so nothing is retained on the publisher for it.", sub.Name, v)
			} else {
				add("disabled", sub.Name, "Subscription %s on %s is disabled: changes on its publisher are not applied, and its slot %s keeps WAL on the publisher until the subscription is enabled or dropped.", sub.Name, v, sub.SlotName)
			}
		case !sub.WorkerRunning:
			add("worker_stopped", sub.Name, "Subscription %s on %s is enabled but its worker is not running: the publisher may be unreachable or the worker keeps failing (see the subscriber's server log).", sub.Name, v)
		}
	}
	for _, sl := range d.Slots {
		held := ""
		if sl.RetainedBytes != nil {
			held = HumanBytes(*sl.RetainedBytes)
		}
		switch {
		case sl.Orphaned && !sl.Active:
			maybe := ""
			if incomplete {
				maybe = " (some fleet databases could not be read, so a subscription there may still use it)"
			}
			if held != "" {
				add("orphaned_slot", sl.Name, "Slot %s on %s is orphaned: no subscription in the fleet uses it%s. It is inactive and holds %s of WAL; the publisher's disk fills until it is dropped.", sl.Name, v, maybe, held)
			} else {
				add("orphaned_slot", sl.Name, "Slot %s on %s is orphaned: no subscription in the fleet uses it%s, and it is inactive.", sl.Name, v, maybe)
			}
		case !sl.Active && held != "":
			add("inactive_slot", sl.Name, "Slot %s on %s is inactive and holds %s of WAL; the publisher's disk fills until it is dropped or its subscriber comes back.", sl.Name, v, held)
		case sl.Orphaned:
			add("orphaned_slot", sl.Name, "Slot %s on %s is in use by a process but no subscription in the fleet uses it.", sl.Name, v)
		}
		switch sl.WALStatus {
		case "extended":
			add("wal_status", sl.Name, "Slot %s on %s retains more WAL than max_wal_size (wal_status extended).", sl.Name, v)
		case "unreserved":
			add("wal_status", sl.Name, "Slot %s on %s will lose the WAL it needs at the next checkpoint (wal_status unreserved).", sl.Name, v)
		case "lost":
			add("wal_status", sl.Name, "Slot %s on %s has lost WAL it needed and can no longer be used (wal_status lost); drop it and set its subscriber up again.", sl.Name, v)
		}
	}
	return ws
}
