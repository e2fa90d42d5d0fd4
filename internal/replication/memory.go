package replication

import (
	"sync"
	"time"
)

// Memory keeps what pglinks saw of replication objects over time, for the
// facts servers do not date themselves: since when a slot has been
// inactive (before PostgreSQL 17, which reports inactive_since), and since
// when a subscription has been enabled or disabled. The Service holds it
// behind this interface so it can move to the state database, shared by
// every pglinks process; ProcessMemory keeps it in this process only.
type Memory interface {
	// Observe records that key is in state at now and says since when it
	// has been, as far as this memory knows.
	Observe(key Key, state string, now time.Time) Seen
	// Mark records a change pglinks made itself, at the moment it made it.
	Mark(key Key, state string, at time.Time)
	// Retain forgets the keys of db and kind not in names: objects that
	// are gone, so a new one of the same name starts afresh.
	Retain(db, kind string, names []string)
}

// Key names a replication object of a fleet database.
type Key struct {
	DB   string // config var
	Kind string // kindSlot | kindSubscription
	Name string
}

const (
	kindSlot         = "slot"
	kindSubscription = "subscription"
)

// Seen is what a Memory knows of an object's current state.
type Seen struct {
	// Since is when the object was first recorded in its current state.
	Since time.Time
	// First: the memory had no record of the object before, so Since is
	// only when pglinks first looked, not when the state began.
	First bool
}

// ProcessMemory is a Memory kept in this process: a restart forgets it,
// and each pglinks process has its own.
type ProcessMemory struct {
	mu   sync.Mutex
	seen map[Key]record
}

type record struct {
	state string
	since time.Time
	first bool
}

// NewProcessMemory returns an empty ProcessMemory.
func NewProcessMemory() *ProcessMemory { return &ProcessMemory{seen: map[Key]record{}} }

// Observe implements Memory.
func (m *ProcessMemory) Observe(key Key, state string, now time.Time) Seen {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.seen[key]
	switch {
	case !ok:
		r = record{state: state, since: now, first: true}
		m.seen[key] = r
	case r.state != state:
		r = record{state: state, since: now}
		m.seen[key] = r
	}
	return Seen{Since: r.since, First: r.first}
}

// Mark implements Memory.
func (m *ProcessMemory) Mark(key Key, state string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen[key] = record{state: state, since: at}
}

// Retain implements Memory.
func (m *ProcessMemory) Retain(db, kind string, names []string) {
	keep := make(map[string]bool, len(names))
	for _, n := range names {
		keep[n] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.seen {
		if k.DB == db && k.Kind == kind && !keep[k.Name] {
			delete(m.seen, k)
		}
	}
}
