package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// pglinks holds at most MaxConns connections to the fleet's databases at
// once, whatever the fleet's size: a budget split in two classes, so the
// inventory's background reads (and health probes) never take the
// connections a person's page view or change needs, and the reverse.
//
// A connection takes a token from its class when it is dialled and gives
// it back when its socket closes, so the count is of real connections,
// pooled or not. When a class has no token left, the dial closes an idle
// connection of the same class in another database's pool (least recently
// used first) and takes its token; when none is idle, it waits for one,
// within the connect timeout. Cancel requests (a separate short connection
// PostgreSQL needs to stop a running statement) are not counted: they
// must never wait behind the cap they would free.

// DefaultMaxConns is the default cap on connections to fleet databases.
const DefaultMaxConns = 32

// ErrConnCap is wrapped in the error of a dial that found every connection
// of its class in use until its deadline: pglinks is busy, the database may
// be fine.
var ErrConnCap = errors.New("pglinks' connections to the fleet are all in use")

type connClass struct {
	name    Class
	tokens  chan struct{} // a token per open connection
	idle    chan struct{} // a connection went back to a pool (edge, not count)
	peak    atomic.Int64
	waiting atomic.Int32
}

func newConnClass(name Class, n int) *connClass {
	return &connClass{name: name, tokens: make(chan struct{}, n), idle: make(chan struct{}, 1)}
}

func (c *connClass) inUse() int { return len(c.tokens) }

// short reports whether a dial of the class is waiting for a token now:
// a caller whose own deadline ended first learns it waited for the cap,
// not for the database.
func (c *connClass) short() bool { return c.waiting.Load() > 0 }

func (c *connClass) notePeak() {
	n := int64(len(c.tokens))
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// released signals waiters that an idle connection may be evictable now.
func (c *connClass) released() {
	select {
	case c.idle <- struct{}{}:
	default:
	}
}

// connBudget is the cap, split into classes.
type connBudget struct {
	max   int
	class map[Class]*connClass
	// evict closes one idle connection of a class; false when none is idle.
	evict func(class Class) bool
}

// MinMaxConns is the smallest cap: two connections per class.
const MinMaxConns = 4

// newConnBudget splits n (at least MinMaxConns) between the status class
// (a quarter, at least 2) and the user class (the rest).
func newConnBudget(n int, evict func(Class) bool) *connBudget {
	n = max(n, MinMaxConns)
	status := max(n/4, 2)
	return &connBudget{
		max:   n,
		evict: evict,
		class: map[Class]*connClass{
			ClassStatus: newConnClass(ClassStatus, status),
			ClassUser:   newConnClass(ClassUser, n-status),
		},
	}
}

// take gets a token of class, evicting idle connections of the class as
// needed, until ctx ends.
func (b *connBudget) take(ctx context.Context, class Class) error {
	c := b.class[class]
	var poll *time.Ticker
	for {
		select {
		case c.tokens <- struct{}{}:
			c.notePeak()
			return nil
		default:
		}
		if b.evict != nil && b.evict(class) {
			continue // its token comes back when its socket closes
		}
		if poll == nil {
			// Eviction is also retried now and then: an idle signal can
			// be taken by another waiter.
			poll = time.NewTicker(50 * time.Millisecond)
			defer poll.Stop()
			c.waiting.Add(1)
			defer c.waiting.Add(-1)
		}
		select {
		case c.tokens <- struct{}{}:
			c.notePeak()
			return nil
		case <-c.idle:
		case <-poll.C:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrConnCap, ctx.Err())
		}
	}
}

func (b *connBudget) give(class Class) { <-b.class[class].tokens }

func classPurpose(class Class) string {
	if class == ClassStatus {
		return "the inventory's background reads"
	}
	return "pages and changes"
}

type dialClassKey struct{}

// withDialClass marks ctx so that connections dialled under it count
// against class. A dial without the mark is a cancel request.
func withDialClass(ctx context.Context, class Class) context.Context {
	return context.WithValue(ctx, dialClassKey{}, class)
}

// dialFunc wraps base so that every counted dial holds a token of its
// class for as long as its socket is open.
func (b *connBudget) dialFunc(base pgconn.DialFunc) pgconn.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		class, _ := ctx.Value(dialClassKey{}).(Class)
		if b.class[class] == nil {
			return base(ctx, network, addr)
		}
		if err := b.take(ctx, class); err != nil {
			return nil, err
		}
		conn, err := base(ctx, network, addr)
		if err != nil {
			b.give(class)
			return nil, err
		}
		return &budgetConn{Conn: conn, release: func() { b.give(class) }}, nil
	}
}

// budgetConn gives its token back once, when it is closed and the server
// has closed its end too (or closeWait passed): PostgreSQL lists a backend
// until it exits, so a token given back at once would let pglinks hold one
// more connection than the cap while the old one winds down.
type budgetConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// closeWait bounds waiting for the server's end of a closed connection.
const closeWait = 250 * time.Millisecond

func (c *budgetConn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		// pgx has sent Terminate; the server closes its end when the
		// backend exits.
		c.Conn.SetReadDeadline(time.Now().Add(closeWait))
		io.Copy(io.Discard, c.Conn)
		err = c.Conn.Close()
		c.release()
	})
	return err
}

// Stats is pglinks' use of its connection cap, per class.
type Stats struct {
	Max   int
	Class []ConnClassStats
}

// ConnClassStats is one class: its share of the cap, the connections open
// now, and the most ever open at once.
type ConnClassStats struct {
	Name         Class
	Limit, InUse int
	Peak         int
}

// Stats reports the cap's use, for /metrics.
func (f *Fleet) Stats() Stats {
	b := f.connBudget()
	out := Stats{Max: b.max}
	for _, name := range []Class{ClassUser, ClassStatus} {
		c := b.class[name]
		out.Class = append(out.Class, ConnClassStats{Name: name, Limit: cap(c.tokens), InUse: c.inUse(), Peak: int(c.peak.Load())})
	}
	return out
}
