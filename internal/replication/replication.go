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

	recentMu sync.Mutex
	recent   *Overview
	flight   singleflight.Group
	bg       background
}

// RecentOverview is Overview at most maxAge old (0: read now), shared by
// concurrent callers: the inventory shows replication warnings on every
// card without asking every database on every page view. An older one is
// returned as it is while it is read again in the background; only the
// first caller waits. pglinks' own replication changes are visible at once.
func (s *Service) RecentOverview(ctx context.Context, maxAge time.Duration) *Overview {
	s.recentMu.Lock()
	o := s.recent
	s.recentMu.Unlock()
	read := func() (any, error) {
		o := s.Overview(context.WithoutCancel(ctx))
		s.recentMu.Lock()
		s.recent = o
		s.recentMu.Unlock()
		return o, nil
	}
	if o != nil && maxAge > 0 {
		if time.Since(o.ReadAt) >= maxAge {
			// Served as it is while it is read again: a page view never
			// waits for the whole fleet's replication state.
			s.flight.DoChan("overview", read)
		}
		return o
	}
	ch := s.flight.DoChan("overview", read)
	select {
	case r := <-ch:
		return r.Val.(*Overview)
	case <-ctx.Done():
		return &Overview{ReadAt: time.Now()}
	}
}

func (s *Service) forgetOverview() {
	s.recentMu.Lock()
	s.recent = nil
	s.recentMu.Unlock()
}

// New returns a Service over the fleet f.
func New(f *fleet.Fleet) *Service {
	return &Service{Fleet: f}
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

	// UsedBy names the fleet subscription using the slot ("VAR/name").
	UsedBy string
	// Orphaned: a logical slot no subscription of the fleet uses.
	Orphaned bool
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
}

// CanManageSubscriptions reports whether pglinks' role may change
// subscriptions here.
func (d *Database) CanManageSubscriptions() bool { return d.Reachable && d.ManageReason == "" }

// CanDropSlots reports whether pglinks' role may drop slots here.
func (d *Database) CanDropSlots() bool { return d.Reachable && d.DropSlotReason == "" }

// Warning is a problem in words, tied to a database and an object.
type Warning struct {
	ConfigVar string
	Kind      string // inactive_slot | orphaned_slot | worker_stopped | disabled | wal_status
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
