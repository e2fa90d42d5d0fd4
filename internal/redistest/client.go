package redistest

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

	"github.com/pglinks/pglinks/internal/redis"
)

// Error is an error reply from Redis ("ERR ...", "WRONGPASS ..."); the
// RESP protocol itself is internal/redis'.
type Error = redis.Error

// Client is a minimal RESP2 client: one connection, one command at a time,
// no bounds but the context's. It exists to set up and inspect test
// servers; pglinks' own client is internal/redis.
type Client struct {
	conn net.Conn
	r    *bufio.Reader
}

// DialOptions say how to reach and authenticate to a server.
type DialOptions struct {
	TLS      *tls.Config // nil: plain TCP
	User     string      // "" with Password: AUTH password
	Password string      // "": no AUTH
}

// Dial connects to addr (host:port) and authenticates when opts say so.
func Dial(ctx context.Context, addr string, opts DialOptions) (*Client, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	var conn net.Conn
	var err error
	if opts.TLS != nil {
		td := tls.Dialer{NetDialer: &d, Config: opts.TLS}
		conn, err = td.DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	c := &Client{conn: conn, r: bufio.NewReaderSize(conn, 64*1024)}
	if opts.Password != "" {
		args := []any{"AUTH", opts.Password}
		if opts.User != "" {
			args = []any{"AUTH", opts.User, opts.Password}
		}
		if _, err := c.Do(ctx, args...); err != nil {
			c.Close()
			return nil, fmt.Errorf("redistest: AUTH: %w", err)
		}
	}
	return c, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Do sends one command and returns its reply: string (bulk or status),
// int64, []any, nil (nil reply), or an Error for an error reply. Arguments
// may be string, []byte or integers.
func (c *Client) Do(ctx context.Context, args ...any) (any, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	c.conn.SetDeadline(deadline)
	buf, err := appendCommand(nil, args)
	if err != nil {
		return nil, err
	}
	if _, err := c.conn.Write(buf); err != nil {
		return nil, err
	}
	return readReply(c.r)
}

// Pipeline sends many commands in one write and reads their replies in
// order; error replies are returned in place, not as the error.
func (c *Client) Pipeline(ctx context.Context, cmds [][]any) ([]any, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(60 * time.Second)
	}
	c.conn.SetDeadline(deadline)
	var buf []byte
	for _, cmd := range cmds {
		var err error
		if buf, err = appendCommand(buf, cmd); err != nil {
			return nil, err
		}
	}
	if _, err := c.conn.Write(buf); err != nil {
		return nil, err
	}
	out := make([]any, len(cmds))
	for i := range cmds {
		v, err := readReply(c.r)
		var rerr Error
		if errors.As(err, &rerr) {
			out[i] = rerr
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func appendCommand(buf []byte, args []any) ([]byte, error) {
	strs := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			strs[i] = v
		case []byte:
			strs[i] = string(v)
		case int:
			strs[i] = strconv.Itoa(v)
		case int64:
			strs[i] = strconv.FormatInt(v, 10)
		default:
			return nil, fmt.Errorf("redistest: unsupported argument type %T", a)
		}
	}
	return redis.AppendCommand(buf, strs...), nil
}

// Status is a status reply ("+OK"), kept apart from bulk strings only where
// replies are passed on (the proxy).
type Status = redis.Status

// limits are Redis' own (proto-max-bulk-len): tests move megabytes.
var limits = redis.Limits{MaxBulk: 512 << 20, MaxArray: 1 << 24}

// readReply reads one RESP2 value; an error reply comes back as Error.
func readReply(r *bufio.Reader) (any, error) { return readValue(r, false) }

// readValue reads one RESP2 value as the tests use them: status replies
// as string (Status with keepStatus), an error reply as the error (inside
// an array, as an Error value).
func readValue(r *bufio.Reader, keepStatus bool) (any, error) {
	v, err := redis.ReadReply(r, limits)
	if err != nil {
		return nil, err
	}
	if e, ok := v.(Error); ok {
		return nil, e
	}
	return plain(v, keepStatus), nil
}

func plain(v any, keepStatus bool) any {
	switch x := v.(type) {
	case Status:
		if keepStatus {
			return x
		}
		return string(x)
	case []any:
		for i := range x {
			x[i] = plain(x[i], keepStatus)
		}
	}
	return v
}

// CommandCalls parses INFO commandstats into calls per command name
// (lower case, e.g. "get", "mget", "scan").
func (c *Client) CommandCalls(ctx context.Context) (map[string]int64, error) {
	v, err := c.Do(ctx, "INFO", "commandstats")
	if err != nil {
		return nil, err
	}
	s, _ := v.(string)
	calls := map[string]int64{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":")
		if !ok || !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if n, ok := strings.CutPrefix(kv, "calls="); ok {
				calls[name], _ = strconv.ParseInt(n, 10, 64)
			}
		}
	}
	return calls, nil
}
