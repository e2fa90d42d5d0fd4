// Package redis is pglinks' own small Redis client: one connection, RESP2,
// plain TCP or TLS, AUTH (with an ACL user or without) and SELECT. Every
// call is bounded by its context (a context without a deadline gets
// DefaultTimeout), and nothing it returns holds the password: an AUTH
// that is refused says only Redis' error code.
package redis

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds a call whose context has no deadline.
const DefaultTimeout = 10 * time.Second

// Options say how to reach and authenticate to a Redis.
type Options struct {
	Addr string      // host:port
	TLS  *tls.Config // nil: plain TCP
	// User is an ACL user ("" with a Password: AUTH password, the
	// default user).
	User, Password string
	DB             int // SELECT it when not 0
	// Dial opens the TCP connection; nil: a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Limits bound replies; zero: DefaultLimits.
	Limits Limits
}

// Conn is one connection to a Redis, for one goroutine at a time.
type Conn struct {
	c      net.Conn
	r      *bufio.Reader
	lim    Limits
	broken bool
}

// AuthError is an AUTH that Redis refused; Code is its error code
// ("WRONGPASS", or "ERR" from a Redis without a password).
type AuthError struct{ Code string }

func (e *AuthError) Error() string { return "redis: AUTH refused (" + e.Code + ")" }

// Dial connects, completes TLS, and authenticates and selects the
// database in one round trip, all within ctx.
func Dial(ctx context.Context, o Options) (*Conn, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	dial := o.Dial
	if dial == nil {
		d := &net.Dialer{KeepAlive: 15 * time.Second}
		dial = d.DialContext
	}
	raw, err := dial(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, err
	}
	nc := raw
	if o.TLS != nil {
		tc := tls.Client(raw, o.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		nc = tc
	}
	c := &Conn{c: nc, r: bufio.NewReaderSize(nc, 32<<10), lim: o.Limits}
	if c.lim == (Limits{}) {
		c.lim = DefaultLimits
	}
	var cmds [][]string
	if o.Password != "" {
		if o.User != "" {
			cmds = append(cmds, []string{"AUTH", o.User, o.Password})
		} else {
			cmds = append(cmds, []string{"AUTH", o.Password})
		}
	} else if o.User != "" {
		c.c.Close()
		return nil, errors.New("redis: an ACL user needs a password")
	}
	if o.DB != 0 {
		cmds = append(cmds, []string{"SELECT", strconv.Itoa(o.DB)})
	}
	if len(cmds) == 0 {
		return c, nil
	}
	replies, err := c.Pipeline(ctx, cmds...)
	if err != nil {
		c.c.Close()
		return nil, err
	}
	i := 0
	if o.Password != "" {
		if e, ok := replies[0].(Error); ok {
			c.c.Close()
			return nil, &AuthError{Code: e.Code()}
		}
		i++
	}
	if o.DB != 0 {
		if e, ok := replies[i].(Error); ok {
			c.c.Close()
			return nil, fmt.Errorf("redis: SELECT %d refused: %w", o.DB, e)
		}
	}
	return c, nil
}

// bound gives ctx DefaultTimeout when it has no deadline.
func bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultTimeout)
}

// Do sends one command and reads its reply. An error reply is returned as
// the error (an Error); a connection that failed is closed.
func (c *Conn) Do(ctx context.Context, args ...string) (any, error) {
	replies, err := c.Pipeline(ctx, args)
	if err != nil {
		return nil, err
	}
	if e, ok := replies[0].(Error); ok {
		return nil, e
	}
	return replies[0], nil
}

// Pipeline sends commands in one write and reads their replies in order;
// error replies are returned in place. It ends when ctx does: a call cut
// short leaves the connection closed.
func (c *Conn) Pipeline(ctx context.Context, cmds ...[]string) ([]any, error) {
	if c.broken {
		return nil, net.ErrClosed
	}
	ctx, cancel := bound(ctx)
	defer cancel()
	dl, _ := ctx.Deadline()
	c.c.SetDeadline(dl)
	// A cancel before the deadline ends the wait too.
	stop := context.AfterFunc(ctx, func() { c.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var buf []byte
	for _, cmd := range cmds {
		buf = AppendCommand(buf, cmd...)
	}
	fail := func(err error) ([]any, error) {
		c.broken = true
		c.c.Close()
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("%w (%w)", cerr, err)
		}
		// The socket's deadline is the context's: it may pass a moment
		// before the context says so.
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && !time.Now().Before(dl) {
			return nil, fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
		}
		return nil, err
	}
	if _, err := c.c.Write(buf); err != nil {
		return fail(err)
	}
	out := make([]any, len(cmds))
	for i := range cmds {
		v, err := ReadReply(c.r, c.lim)
		if err != nil {
			return fail(err)
		}
		out[i] = v
	}
	return out, nil
}

// Close says QUIT (so Redis closes its end first, within a moment) and
// closes the connection.
func (c *Conn) Close() error {
	if !c.broken {
		c.c.SetDeadline(time.Now().Add(250 * time.Millisecond))
		if _, err := c.c.Write(AppendCommand(nil, "QUIT")); err == nil {
			ReadReply(c.r, c.lim)
		}
	}
	c.broken = true
	return c.c.Close()
}

// ParseInfo reads INFO's "key:value" lines into a map (sections and
// comments skipped).
func ParseInfo(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = v
		}
	}
	return out
}
