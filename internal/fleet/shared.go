package fleet

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sync"
	"time"
)

// Several pglinks processes behind one address share what the background
// work found: the lease holder (lease.go) keeps each snapshot it reads in
// the state database, and every process applies the records it finds
// there, so all show the same snapshots with the same ages. A person's
// action (Refresh, Check now, a create) is read by the process that serves
// it and shared the same way.

// SharedRecord is one snapshot (or link health) as the state database
// keeps it.
type SharedRecord struct {
	Kind, Key string
	// Target fingerprints the config var Key as the process that read it
	// had it (see Targets); "" for records that do not depend on it.
	Target string
	// AsOf orders records: a record older than the one kept is ignored,
	// here and in the state database.
	AsOf                  time.Time
	Took                  time.Duration
	FailingSince, RetryAt time.Time
	Down                  string
	Cause                 Cause
	// Body is the value as JSON; nil marks the record deleted.
	Body []byte
	// Seq increases with every write to the state database.
	Seq int64
}

// SharedStore is the state database's side (state.Shared).
type SharedStore interface {
	// Save keeps recs, each unless a newer one is kept already.
	Save(ctx context.Context, recs []SharedRecord) error
	// Since returns up to limit records written after seq, in seq order.
	Since(ctx context.Context, seq int64, limit int) ([]SharedRecord, error)
}

// Shared publishes what this process keeps and applies what every
// process kept.
type Shared struct {
	Store SharedStore
	Log   *slog.Logger
	// Poll is how often the records other processes wrote are read
	// (DefaultSharedPoll when 0).
	Poll time.Duration
	// Target fingerprints this process's value of a config var (Targets);
	// nil: every record applies.
	Target func(configVar string) string

	mu      sync.Mutex
	apply   map[string]func(SharedRecord)
	pending map[[2]string]SharedRecord
	kick    chan struct{}
	seq     int64
	polls   int
}

// DefaultSharedPoll is how often every process reads what the others kept.
const DefaultSharedPoll = time.Second

// Batching of writes: at most every flushEvery, at most flushBatch
// records a statement; every fullEvery polls the whole table is read
// again, for a write whose sequence number was taken before and committed
// after one already read.
const (
	flushEvery = 100 * time.Millisecond
	flushBatch = 500
	sinceBatch = 2000
	fullEvery  = 30
)

// NewShared shares through store.
func NewShared(store SharedStore, log *slog.Logger) *Shared {
	if log == nil {
		log = slog.Default()
	}
	return &Shared{Store: store, Log: log, apply: map[string]func(SharedRecord){}, pending: map[[2]string]SharedRecord{}, kick: make(chan struct{}, 1)}
}

// Register applies the records of kind with fn.
func (sh *Shared) Register(kind string, fn func(SharedRecord)) {
	sh.mu.Lock()
	sh.apply[kind] = fn
	sh.mu.Unlock()
}

// Put queues rec for the state database; a newer record of the same kind
// and key replaces it in the queue.
func (sh *Shared) Put(rec SharedRecord) {
	sh.mu.Lock()
	k := [2]string{rec.Kind, rec.Key}
	if cur, ok := sh.pending[k]; !ok || !cur.AsOf.After(rec.AsOf) {
		sh.pending[k] = rec
	}
	n := len(sh.pending)
	sh.mu.Unlock()
	if n >= flushBatch {
		select {
		case sh.kick <- struct{}{}:
		default:
		}
	}
}

func (sh *Shared) target(configVar string) string {
	if sh.Target == nil {
		return ""
	}
	return sh.Target(configVar)
}

// Targets fingerprints each of f's config vars as this process has it:
// HMAC-SHA256 under key of its URL, password included. A snapshot read
// with another value of a config var (by a process started before a
// rotation or a failover, or after it) says nothing true about this
// process's: Share applies only the records of its own values. key is
// what every process behind one address shares already
// (PGLINKS_SESSION_KEYS), so the state database holds no plain hash of a
// password.
func Targets(f *Fleet, key []byte) func(configVar string) string {
	m := make(map[string]string, len(f.Databases))
	for _, d := range f.Databases {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(d.url))
		m[d.ConfigVar] = hex.EncodeToString(mac.Sum(nil)[:16])
	}
	return func(v string) string { return m[v] }
}

// Share publishes the snapshots s keeps and applies the records of its
// kind to it: only those read with this process's value of their config
// var (Shared.Target).
func Share[T any](sh *Shared, s *Snapshots[T]) {
	s.Publish(func(configVar string, sn Snapshot[T]) {
		body, err := json.Marshal(sn.Val)
		if err != nil {
			sh.Log.Error("share snapshot", "kind", s.kind, "database", configVar, "err", err)
			return
		}
		sh.Put(SharedRecord{Kind: s.kind, Key: configVar, Target: sh.target(configVar), AsOf: sn.AsOf, Took: sn.Took, FailingSince: sn.FailingSince, RetryAt: sn.RetryAt, Down: sn.Down, Cause: sn.Cause, Body: body})
	})
	sh.Register(s.kind, func(r SharedRecord) {
		if r.Body == nil || r.Target != sh.target(r.Key) {
			return
		}
		var v T
		if err := json.Unmarshal(r.Body, &v); err != nil {
			sh.Log.Warn("shared snapshot unreadable", "kind", r.Kind, "database", r.Key, "err", err)
			return
		}
		s.Apply(r.Key, Snapshot[T]{Val: v, AsOf: r.AsOf, Took: r.Took, FailingSince: r.FailingSince, RetryAt: r.RetryAt, Down: r.Down, Cause: r.Cause})
	})
}

// Flush writes the queued records now.
func (sh *Shared) Flush(ctx context.Context) error {
	sh.mu.Lock()
	if len(sh.pending) == 0 {
		sh.mu.Unlock()
		return nil
	}
	batch := make([]SharedRecord, 0, len(sh.pending))
	for _, r := range sh.pending {
		batch = append(batch, r)
	}
	sh.pending = map[[2]string]SharedRecord{}
	sh.mu.Unlock()
	var err error
	for len(batch) > 0 {
		n := min(len(batch), flushBatch)
		if err = sh.Store.Save(ctx, batch[:n]); err != nil {
			break
		}
		batch = batch[n:]
	}
	if err != nil {
		// Kept for the next flush, unless newer ones came meanwhile.
		for _, r := range batch {
			sh.Put(r)
		}
	}
	return err
}

// Load applies every record written since the last Load (all of them the
// first time, and every fullEvery calls).
func (sh *Shared) Load(ctx context.Context) error {
	sh.mu.Lock()
	seq := sh.seq
	sh.polls++
	if sh.polls%fullEvery == 0 {
		seq = 0
	}
	sh.mu.Unlock()
	for {
		recs, err := sh.Store.Since(ctx, seq, sinceBatch)
		if err != nil {
			return err
		}
		for _, r := range recs {
			sh.mu.Lock()
			fn := sh.apply[r.Kind]
			sh.seq = max(sh.seq, r.Seq)
			sh.mu.Unlock()
			if fn != nil {
				fn(r)
			}
			seq = r.Seq
		}
		if len(recs) < sinceBatch {
			return nil
		}
	}
}

// Run writes queued records and applies others' until ctx ends, then
// writes what is left.
func (sh *Shared) Run(ctx context.Context) {
	poll := sh.Poll
	if poll <= 0 {
		poll = DefaultSharedPoll
	}
	flush := time.NewTicker(flushEvery)
	defer flush.Stop()
	load := time.NewTicker(poll)
	defer load.Stop()
	call := func(fn func(context.Context) error, what string) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := fn(cctx); err != nil {
			sh.Log.Warn("state database: "+what, "err", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			call(sh.Flush, "write background results")
			return
		case <-flush.C:
			call(sh.Flush, "write background results")
		case <-sh.kick:
			call(sh.Flush, "write background results")
		case <-load.C:
			call(sh.Load, "read background results")
		}
	}
}
