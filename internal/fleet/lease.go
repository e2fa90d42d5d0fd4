package fleet

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// The background work (the sweep of every database, link health probes)
// runs once per fleet, however many pglinks processes serve it: the one
// holding the lease does it. The lease is a row in the state database
// with an expiry set by the database's own clock, so processes on
// machines whose clocks disagree agree on it. Its holder renews it every
// TTL/3; a holder that dies (SIGKILL, a lost machine, a network that
// drops it) stops renewing, and another process takes the lease over once
// it expired: within TTL + TTL/3 of the last renewal. A process that stops
// cleanly gives the lease up at once. A holder that cannot renew (the
// state database does not answer) stops its background work once the
// lease it last got would have expired, so two processes never both
// believe they hold it for longer than a renewal.

// DefaultLeaseTTL is how long a lease lasts without renewal.
const DefaultLeaseTTL = 15 * time.Second

// LeaseStore is the state database's side (state.Leases).
type LeaseStore interface {
	// TryAcquire takes the lease name for holder for ttl when it is free,
	// expired or holder's already (a renewal); true when holder has it.
	TryAcquire(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// Release gives the lease up if holder has it.
	Release(ctx context.Context, name, holder string) error
}

// Lease runs work while this process holds the lease.
type Lease struct {
	Store  LeaseStore
	Name   string
	Holder string
	TTL    time.Duration
	Log    *slog.Logger

	held     atomic.Bool
	acquired atomic.Int64 // times taken (not renewals)
}

// Held reports whether this process holds the lease now.
func (l *Lease) Held() bool { return l.held.Load() }

// Acquired counts the times this process took the lease.
func (l *Lease) Acquired() int64 { return l.acquired.Load() }

func (l *Lease) ttl() time.Duration {
	if l.TTL > 0 {
		return l.TTL
	}
	return DefaultLeaseTTL
}

func (l *Lease) log() *slog.Logger {
	if l.Log != nil {
		return l.Log
	}
	return slog.Default()
}

// Run holds the lease whenever it can and runs work while it does: work's
// context ends when the lease is lost or ctx ends, and Run returns once
// work returned and the lease was given up.
func (l *Lease) Run(ctx context.Context, work func(ctx context.Context)) {
	ttl := l.ttl()
	renew := ttl / 3
	var (
		stop       context.CancelFunc
		workDone   chan struct{}
		validUntil time.Time
	)
	end := func(why string) {
		if stop == nil {
			return
		}
		l.log().Info("background work stops", "lease", l.Name, "why", why)
		stop()
		<-workDone
		stop, workDone = nil, nil
		l.held.Store(false)
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			end("shutting down")
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			if err := l.Store.Release(rctx, l.Name, l.Holder); err != nil {
				l.log().Warn("lease: give up", "err", err)
			}
			cancel()
			return
		case <-t.C:
		}
		attempt := time.Now()
		actx, cancel := context.WithTimeout(ctx, renew)
		ok, err := l.Store.TryAcquire(actx, l.Name, l.Holder, ttl)
		cancel()
		switch {
		case err != nil:
			if ctx.Err() == nil {
				l.log().Warn("lease: renew", "err", err)
			}
			if stop != nil && time.Now().After(validUntil) {
				end("the lease could not be renewed before it expired")
			}
		case ok:
			validUntil = attempt.Add(ttl)
			if stop == nil {
				l.acquired.Add(1)
				l.held.Store(true)
				l.log().Info("background work starts: this process holds the lease", "lease", l.Name, "holder", l.Holder)
				stop, workDone = start(ctx, work)
			}
		default:
			end("another process holds the lease")
		}
		t.Reset(renew)
	}
}

// start runs work in the background until stop is called.
func start(ctx context.Context, work func(context.Context)) (stop context.CancelFunc, done chan struct{}) {
	wctx, cancel := context.WithCancel(ctx)
	done = make(chan struct{})
	go func() {
		defer close(done)
		work(wctx)
	}()
	return cancel, done
}
