package redistest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Error is an error reply from Redis ("ERR ...", "WRONGPASS ...").
type Error string

func (e Error) Error() string { return string(e) }

// Client is a minimal RESP2 client: one connection, one command at a time.
// It exists to set up and inspect test servers, not as a product client.
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
	buf = append(buf, '*')
	buf = strconv.AppendInt(buf, int64(len(args)), 10)
	buf = append(buf, '\r', '\n')
	for _, a := range args {
		var s string
		switch v := a.(type) {
		case string:
			s = v
		case []byte:
			s = string(v)
		case int:
			s = strconv.Itoa(v)
		case int64:
			s = strconv.FormatInt(v, 10)
		default:
			return nil, fmt.Errorf("redistest: unsupported argument type %T", a)
		}
		buf = append(buf, '$')
		buf = strconv.AppendInt(buf, int64(len(s)), 10)
		buf = append(buf, '\r', '\n')
		buf = append(buf, s...)
		buf = append(buf, '\r', '\n')
	}
	return buf, nil
}

// Status is a status reply ("+OK"), kept apart from bulk strings only where
// replies are passed on (the proxy).
type Status string

// readReply reads one RESP2 value; an error reply comes back as Error.
func readReply(r *bufio.Reader) (any, error) { return readValue(r, false) }

// readValue reads one RESP2 value; with keepStatus, status replies are
// Status rather than string.
func readValue(r *bufio.Reader, keepStatus bool) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("redistest: malformed reply line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+':
		if keepStatus {
			return Status(body), nil
		}
		return body, nil
	case '-':
		return nil, Error(body)
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		return string(b[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		out := make([]any, n)
		for i := range out {
			v, err := readValue(r, keepStatus)
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
	return nil, fmt.Errorf("redistest: unknown reply type %q", line[0])
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
