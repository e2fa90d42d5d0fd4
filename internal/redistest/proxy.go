package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
)

// Proxy passes commands from clients to a plain (non-TLS) server one at a
// time, and can change what comes back or stop answering: the behaviours a
// real server shows only by chance (SCAN returning a key twice while its
// table is resized) or under failure (a server that hangs mid-scan).
type Proxy struct {
	Port int

	target string
	ln     net.Listener

	mu        sync.Mutex
	rewrite   func(cmd []string, reply any) any
	raw       func(cmd []string) []byte
	stallName string // stall when a connection sends its stallAt-th command of this name
	stallAt   int
	stalled   int
	conns     map[net.Conn]struct{}
	closed    bool
}

// NewProxy listens on a free port of 127.0.0.1 in front of s.
func NewProxy(s *Server) (*Proxy, error) {
	if s.TLS {
		return nil, errors.New("redistest: the proxy speaks plain RESP only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Port: ln.Addr().(*net.TCPAddr).Port, target: s.Addr(), ln: ln, conns: map[net.Conn]struct{}{}}
	go p.accept()
	return p, nil
}

// Rewrite makes every reply pass through f (nil: as it is). cmd is the
// command as sent, its name upper-cased.
func (p *Proxy) Rewrite(f func(cmd []string, reply any) any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rewrite = f
}

// RewriteRaw makes the proxy answer with f's bytes instead of the server's
// reply when f returns some (nil: the reply as usual), to send what no
// Redis would: malformed or absurd RESP.
func (p *Proxy) RewriteRaw(f func(cmd []string) []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.raw = f
}

// StallAt makes a connection stop answering when it sends its n-th command
// named name (upper case), e.g. ("SCAN", 2) answers the first SCAN and
// hangs on the second. The connection stays open; nothing more is passed on
// in either direction.
func (p *Proxy) StallAt(name string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stallName, p.stallAt = name, n
}

// Stalled is how many connections have stalled.
func (p *Proxy) Stalled() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stalled
}

// Close stops listening and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(client)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer client.Close()
	upstream, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer upstream.Close()
	if !p.track(client) || !p.track(upstream) {
		return
	}
	cr := bufio.NewReader(client)
	ur := bufio.NewReader(upstream)
	counts := map[string]int{}
	for {
		cmd, err := readCommand(cr)
		if err != nil {
			return
		}
		name := strings.ToUpper(cmd[0])
		counts[name]++
		p.mu.Lock()
		stall := p.stallName == name && counts[name] == p.stallAt
		if stall {
			p.stalled++
		}
		rewrite, raw := p.rewrite, p.raw
		p.mu.Unlock()
		if stall {
			// Hold both sides open until the client or Close ends them.
			io.Copy(io.Discard, cr)
			return
		}
		buf, err := appendCommand(nil, toAny(cmd))
		if err != nil {
			return
		}
		if _, err := upstream.Write(buf); err != nil {
			return
		}
		reply, err := readValue(ur, true)
		var rerr Error
		if errors.As(err, &rerr) {
			reply, err = rerr, nil
		}
		if err != nil {
			return
		}
		cmd[0] = name
		if raw != nil {
			if b := raw(cmd); b != nil {
				if _, err := client.Write(b); err != nil {
					return
				}
				continue
			}
		}
		if rewrite != nil {
			reply = rewrite(cmd, reply)
		}
		if _, err := client.Write(appendValue(nil, reply)); err != nil {
			return
		}
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// readCommand reads a client command: an array of bulk strings.
func readCommand(r *bufio.Reader) ([]string, error) {
	v, err := readValue(r, false)
	if err != nil {
		return nil, err
	}
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return nil, fmt.Errorf("redistest: proxy: not a command: %v", v)
	}
	out := make([]string, len(arr))
	for i, a := range arr {
		if out[i], ok = a.(string); !ok {
			return nil, fmt.Errorf("redistest: proxy: not a command: %v", v)
		}
	}
	return out, nil
}

// appendValue encodes a value as readValue(r, true) returns it.
func appendValue(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, "$-1\r\n"...)
	case Status:
		return append(append(append(buf, '+'), x...), '\r', '\n')
	case Error:
		return append(append(append(buf, '-'), x...), '\r', '\n')
	case int64:
		return append(strconv.AppendInt(append(buf, ':'), x, 10), '\r', '\n')
	case string:
		buf = strconv.AppendInt(append(buf, '$'), int64(len(x)), 10)
		buf = append(append(buf, '\r', '\n'), x...)
		return append(buf, '\r', '\n')
	case []any:
		buf = append(strconv.AppendInt(append(buf, '*'), int64(len(x)), 10), '\r', '\n')
		for _, e := range x {
			buf = appendValue(buf, e)
		}
		return buf
	}
	panic(fmt.Sprintf("redistest: cannot encode %T", v))
}

// SilentListener accepts TCP connections on a free port of 127.0.0.1 and
// never answers: a server that hangs before its first reply, or a network
// that takes packets and forwards none. Close ends it and its connections.
type SilentListener struct {
	Port int
	ln   net.Listener

	mu    sync.Mutex
	conns []net.Conn
}

// NewSilentListener starts one.
func NewSilentListener() (*SilentListener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &SilentListener{Port: ln.Addr().(*net.TCPAddr).Port, ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.mu.Lock()
			l.conns = append(l.conns, c)
			l.mu.Unlock()
		}
	}()
	return l, nil
}

// Close stops listening and closes every connection.
func (l *SilentListener) Close() {
	l.ln.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
}
