// Package replication is the logical-replication side of a fleet:
// subscriptions, publications and the replication slots that feed them,
// with warnings about slots that retain WAL and the safe ways to enable,
// disable and drop. It shares the fleet's connections (fleet.Fleet) and
// knows nothing of HTTP or HTML.
package replication

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
	"golang.org/x/sync/singleflight"
)

// Service reads and changes logical replication across the fleet.
type Service struct {
	// Fleet holds the databases and pglinks' connections to them; its
	// Deadlines bound every read (Status), probe (ReplicationProbe) and
	// change (ReplicationStatement).
	Fleet *fleet.Fleet

	// OrphanAfter is how long a slot must have been inactive before
	// pglinks calls it a problem (the "disk fills" alarm, the Drop slot
	// offer): a slot inactive for less may be about to be used again
	// (PGLINKS_SLOT_ORPHAN_AFTER).
	OrphanAfter time.Duration
	// Settle is how long a change takes to show on the servers: a
	// subscription enabled (or created) that long ago without its worker
	// yet is "starting", a disabled one whose worker still runs is
	// "stopping". The launcher starts a worker at once unless the last
	// start was within wal_retrieve_retry_interval (5 s by default), and
	// the worker then connects to its publisher (connect_timeout 5 s in
	// the subscriptions pglinks creates).
	Settle time.Duration
	// Now is the clock the thresholds are measured with; tests move it
	// instead of waiting.
	Now func() time.Time
	// Memory dates what the servers do not (see Memory).
	Memory Memory

	recentMu  sync.Mutex
	recent    *Overview
	recentGen uint64 // bumped by every change pglinks makes
	flight    singleflight.Group
	bg        background
}

// Defaults of the thresholds.
const (
	DefaultOrphanAfter = 5 * time.Minute
	DefaultSettle      = 30 * time.Second
)

func (s *Service) memory() Memory {
	s.recentMu.Lock()
	defer s.recentMu.Unlock()
	if s.Memory == nil {
		s.Memory = NewProcessMemory()
	}
	return s.Memory
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// RecentOverview is Overview at most maxAge old (0: read now), shared by
// concurrent callers: the inventory shows replication warnings on every
// card without asking every database on every page view. An older one is
// returned as it is while it is read again in the background; only the
// first caller waits. pglinks' own replication changes are visible at
// once: after one, no overview read (or begun) before it is served.
func (s *Service) RecentOverview(ctx context.Context, maxAge time.Duration) *Overview {
	s.recentMu.Lock()
	o, gen := s.recent, s.recentGen
	s.recentMu.Unlock()
	read := func() (any, error) {
		o := s.Overview(context.WithoutCancel(ctx))
		s.recentMu.Lock()
		if s.recentGen == gen {
			s.recent = o
		}
		s.recentMu.Unlock()
		return o, nil
	}
	// A read begun before a change is not joined after it.
	key := fmt.Sprintf("overview-%d", gen)
	if o != nil && maxAge > 0 {
		if s.now().Sub(o.ReadAt) >= maxAge {
			// Served as it is while it is read again: a page view never
			// waits for the whole fleet's replication state.
			s.flight.DoChan(key, read)
		}
		return o
	}
	ch := s.flight.DoChan(key, read)
	select {
	case r := <-ch:
		return r.Val.(*Overview)
	case <-ctx.Done():
		return &Overview{ReadAt: s.now()}
	}
}

// changed forgets the shared overview after a change pglinks made, so
// the next one is read after it.
func (s *Service) changed() {
	s.recentMu.Lock()
	s.recent = nil
	s.recentGen++
	s.recentMu.Unlock()
}

// New returns a Service over the fleet f with production defaults.
func New(f *fleet.Fleet) *Service {
	return &Service{Fleet: f, OrphanAfter: DefaultOrphanAfter, Settle: DefaultSettle, Memory: NewProcessMemory()}
}

// TableStates counts a subscription's tables by sync state
// (pg_subscription_rel.srsubstate).
type TableStates struct {
	Init, DataCopy, Finished, Synced, Ready int
}

// Total is the number of tables of the subscription.
func (t TableStates) Total() int { return t.Init + t.DataCopy + t.Finished + t.Synced + t.Ready }

// Subscription is one subscription of a fleet database.
type Subscription struct {
	OID          uint32
	Name         string
	Owner        string
	Enabled      bool
	Publications []string
	SlotName     string // "" when the subscription has no slot (slot_name = NONE)

	// ConnInfoReadable is false when pglinks' role may not read
	// subconninfo (superusers only on PostgreSQL 15).
	ConnInfoReadable bool
	Publisher        Endpoint // parsed from subconninfo, when readable
	PublisherVar     string   // fleet config var of the publisher, when it matches one
	PublisherShown   string   // host, port, dbname and user; never the password
	// SlotOn is the fleet database holding a slot of the subscription's
	// slot name, when its publisher is not known otherwise.
	SlotOn string

	WorkerRunning  bool
	WorkerPID      int
	LastMsgReceipt *time.Time
	LatestEndLSN   string
	LatestEndTime  *time.Time
	Tables         TableStates

	// ApplyErrors and SyncErrors count errors of the subscription's
	// workers (pg_stat_subscription_stats, PostgreSQL 15 and later; nil
	// before).
	ApplyErrors, SyncErrors *int64

	// PasswordRequired and RunAsOwner are the subscription's options of
	// those names (PostgreSQL 16 and later; nil before, when only
	// superusers own subscriptions and the apply worker runs as its
	// owner). Failover is its failover option (17 and later).
	PasswordRequired, RunAsOwner, Failover *bool

	// State is what the subscription is doing, transitions included;
	// StateSince is since when, where pglinks knows it.
	State      SubState
	StateSince time.Time

	// LagBytes is how far the subscription's slot on the publisher is
	// behind the publisher's WAL (confirmed_flush_lsn), when the publisher
	// is a readable fleet database.
	LagBytes *int64
}

// Endpoint is where a subscription connects.
type Endpoint struct {
	Host, Port, DBName, User string
}

func (e Endpoint) String() string {
	if e.Host == "" && e.DBName == "" {
		return ""
	}
	s := fmt.Sprintf("host=%s port=%s dbname=%s", e.Host, e.Port, e.DBName)
	if e.User != "" {
		s += " user=" + e.User
	}
	return s
}

// Publication is one publication of a fleet database.
type Publication struct {
	Name      string
	AllTables bool
	Tables    []string // schema-qualified, quoted where needed
	Insert    bool
	Update    bool
	Delete    bool
	Truncate  bool
}

// Operations lists the operations published, in words.
func (p Publication) Operations() []string {
	var ops []string
	for _, o := range []struct {
		on   bool
		name string
	}{{p.Insert, "insert"}, {p.Update, "update"}, {p.Delete, "delete"}, {p.Truncate, "truncate"}} {
		if o.on {
			ops = append(ops, o.name)
		}
	}
	return ops
}

// Slot is a replication slot as seen from a fleet database: the logical
// slots of that database and the server's physical slots.
type Slot struct {
	Name      string
	Type      string // logical | physical
	Plugin    string
	Active    bool
	ActivePID int
	Temporary bool
	// RetainedBytes is pg_wal_lsn_diff(current WAL, restart_lsn): the WAL
	// the server keeps for this slot. Nil when the slot has no restart_lsn.
	RetainedBytes *int64
	WALStatus     string // reserved | extended | unreserved | lost ("" before PostgreSQL 13)
	SafeWALSize   *int64
	LagBytes      *int64 // behind confirmed_flush_lsn (logical slots)

	// Facts newer servers report: Conflicting (16; nil before),
	// InvalidationReason, Failover and Synced (17). WALStatus "lost" says
	// a slot was invalidated on every supported version.
	Conflicting        *bool
	InvalidationReason string
	Failover, Synced   bool

	// InactiveSince is since when the slot has been inactive: the
	// server's inactive_since (17 and later), else when pglinks first saw
	// it inactive (InactiveSinceSeen), so "at least" that long. Nil while
	// active.
	InactiveSince     *time.Time
	InactiveSinceSeen bool

	// UsedBy is the fleet subscription (or table sync worker) using the
	// slot, nil when none.
	UsedBy *SlotUser
	// Orphaned: a logical slot no subscription of the fleet uses.
	Orphaned bool

	// State is the slot's state in words, transitions and thresholds
	// applied; Offer says whether pglinks offers to drop it.
	State SlotState
	// InvalidatesAt is when the server invalidates the slot for being
	// idle (idle_replication_slot_timeout, 18 and later): at its first
	// checkpoint after that moment. Nil when no such timeout applies.
	InvalidatesAt *time.Time
}

// SlotUser is what uses a replication slot.
type SlotUser struct {
	ConfigVar    string // the subscriber
	Subscription string
	// SyncWorker: a table sync slot of a known subscription.
	SyncWorker bool
}

func (u *SlotUser) String() string {
	if u == nil {
		return ""
	}
	if u.SyncWorker {
		return "a table sync worker of " + u.ConfigVar + "/" + u.Subscription
	}
	return u.ConfigVar + "/" + u.Subscription
}

// Invalidated reports whether the server has invalidated the slot: it can
// no longer be used.
func (sl *Slot) Invalidated() bool {
	return sl.InvalidationReason != "" || (sl.Conflicting != nil && *sl.Conflicting) || sl.WALStatus == "lost"
}

// Database is what pglinks could read about one fleet database.
type Database struct {
	DB        *fleet.Database `json:"-"` // this process's own, never kept in the state database
	Reachable bool
	Error     string // why it could not be read

	Version     int // server_version_num
	Role        string
	Superuser   bool
	Replication bool // the role has REPLICATION

	// MaxSlotWALKeep is max_slot_wal_keep_size in bytes, nil when
	// unlimited (-1). IdleSlotTimeout is idle_replication_slot_timeout
	// (PostgreSQL 18 and later; nil before, 0 when off).
	MaxSlotWALKeep  *int64
	IdleSlotTimeout *time.Duration

	Subscriptions []Subscription
	Publications  []Publication
	Slots         []Slot

	// Notes say what could not be read and why, in words.
	Notes []string
	// ManageReason, when set, says why pglinks' role cannot enable,
	// disable or drop this database's subscriptions.
	ManageReason string
	// DropSlotReason, when set, says why it cannot drop slots here.
	DropSlotReason string

	// subscriptionsPartial and slotsPartial: some of them could not be
	// read, so what is missing is not known to be gone.
	subscriptionsPartial, slotsPartial bool
}

// CanManageSubscriptions reports whether pglinks' role may change
// subscriptions here.
func (d *Database) CanManageSubscriptions() bool { return d.Reachable && d.ManageReason == "" }

// CanDropSlots reports whether pglinks' role may drop slots here.
func (d *Database) CanDropSlots() bool { return d.Reachable && d.DropSlotReason == "" }

// Empty reports whether a readable database has no subscriptions,
// publications or slots and nothing to say about them.
func (d *Database) Empty() bool {
	return d.Reachable && len(d.Subscriptions)+len(d.Publications)+len(d.Slots)+len(d.Notes) == 0
}

// Warning is a problem in words, tied to a database and an object.
type Warning struct {
	ConfigVar string
	Kind      string // inactive_slot | orphaned_slot | invalidated_slot | worker_stopped | worker_stopping | disabled | wal_status
	Object    string // slot or subscription name
	Message   string
}

// Overview is the fleet's replication at one moment.
type Overview struct {
	Databases []Database
	Warnings  []Warning
	ReadAt    time.Time
	// Incomplete is set when some databases could not be read: a slot
	// called orphaned may then be used by a subscription there.
	Incomplete bool
}

// WarningsFor returns the warnings of one database.
func (o *Overview) WarningsFor(configVar string) []Warning {
	var out []Warning
	for _, w := range o.Warnings {
		if w.ConfigVar == configVar {
			out = append(out, w)
		}
	}
	return out
}

// HasReplication reports whether any database has a subscription,
// publication or slot.
func (o *Overview) HasReplication() bool {
	for _, d := range o.Databases {
		if len(d.Subscriptions)+len(d.Publications)+len(d.Slots) > 0 {
			return true
		}
	}
	return false
}

// HumanBytes formats a byte count as PostgreSQL's pg_size_pretty does in
// spirit: 1024-based, one decimal from kB up.
func HumanBytes(n int64) string {
	if n < 0 {
		return "-" + HumanBytes(-n)
	}
	if n < 1024 {
		return fmt.Sprintf("%d bytes", n)
	}
	units := []string{"kB", "MB", "GB", "TB", "PB"}
	v := float64(n) / 1024
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}
