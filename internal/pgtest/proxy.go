package pgtest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// Proxy is a TCP proxy in front of a cluster that can make chosen
// connections stall mid-statement, as a remote does when it stops answering
// (overloaded, hung, or a network that drops packets without a reset).
//
// A stalled connection stops forwarding in both directions: the client's
// query never reaches the server and nothing comes back. The connection is
// not closed, so keepalives and connect timeouts see a live peer. If the
// server closes its side (for example its backend is terminated), the
// client's side is closed too, unless KeepOpen was called: then a stalled
// connection's client side stays open until the client closes it or the
// proxy is closed, as behind a middlebox that acknowledges and never
// forwards, where the client's kernel keeps the socket open.
type Proxy struct {
	Port int

	target string
	ln     net.Listener

	mu      sync.Mutex
	app     string        // application_name prefix of connections to stall; "" stalls none
	marker  []byte        // a client message containing this stalls the connection
	slowApp string        // application_name prefix of connections to slow down
	delay   time.Duration // how long each of their statements is held
	stalled int
	keep    bool // stalled connections keep their client side open
	conns   map[net.Conn]struct{}
	closed  bool
}

// NewProxy listens on a free port of 127.0.0.1 and forwards to c.
func (c *Cluster) NewProxy() (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		Port:   ln.Addr().(*net.TCPAddr).Port,
		target: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)),
		ln:     ln,
		conns:  map[net.Conn]struct{}{},
	}
	go p.accept()
	return p, nil
}

// URL rewrites a URL of the proxied cluster to go through the proxy.
func (p *Proxy) URL(clusterURL string) string {
	_, port, _ := net.SplitHostPort(p.target)
	return string(bytes.Replace([]byte(clusterURL), []byte("127.0.0.1:"+port), []byte("127.0.0.1:"+strconv.Itoa(p.Port)), 1))
}

// Stall makes new connections whose application_name starts with appPrefix
// stall as soon as the client sends a message containing marker.
func (p *Proxy) Stall(appPrefix, marker string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.app, p.marker = appPrefix, []byte(marker)
}

// Slow makes new connections whose application_name starts with
// appPrefix slow: each statement they run (an Execute of the extended
// protocol, as pgx sends every query with arguments or a cached
// statement) is held d before it is forwarded, so it answers d late. A
// simple-protocol query (pgx's Ping) is not held. d 0 stops it for new
// connections.
func (p *Proxy) Slow(appPrefix string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.slowApp, p.delay = appPrefix, d
}

// KeepOpen makes connections that stall from now on keep their client side
// open after the server closes its side: the client sees a live peer that
// never answers, whatever happens to the server's end.
func (p *Proxy) KeepOpen() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keep = true
}

// Unstall lets new connections through untouched; stalled ones stay stalled.
func (p *Proxy) Unstall() { p.Stall("", "") }

// Stalled counts the connections that have stalled so far.
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
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	if !p.track(client) || !p.track(server) {
		return
	}
	// The first packets carry no type byte: an optional SSLRequest, then
	// the startup packet with application_name, or a CancelRequest.
	var app string
	for {
		pkt, err := readUntyped(client)
		if err != nil {
			return
		}
		if _, err := server.Write(pkt); err != nil {
			return
		}
		code := binary.BigEndian.Uint32(pkt[4:8])
		if code == 80877103 { // SSLRequest: relay the one-byte answer
			b := make([]byte, 1)
			if _, err := io.ReadFull(server, b); err != nil {
				return
			}
			if _, err := client.Write(b); err != nil {
				return
			}
			continue
		}
		if code == 196608 { // protocol 3.0 startup
			app = startupParam(pkt[8:], "application_name")
		}
		break
	}
	p.mu.Lock()
	stallApp, marker, keep := p.app, p.marker, p.keep
	slowApp, delay := p.slowApp, p.delay
	p.mu.Unlock()
	watch := stallApp != "" && len(app) >= len(stallApp) && app[:len(stallApp)] == stallApp
	slow := delay > 0 && slowApp != "" && len(app) >= len(slowApp) && app[:len(slowApp)] == slowApp

	var once sync.Once
	stall := make(chan struct{})
	stop := func() {
		once.Do(func() {
			close(stall)
			p.mu.Lock()
			p.stalled++
			p.mu.Unlock()
		})
	}
	stalled := func() bool {
		select {
		case <-stall:
			return true
		default:
			return false
		}
	}
	done := make(chan struct{}, 2)
	// Server to client: forward until stalled, then swallow; the server
	// closing its side closes the client's, unless the connection stalled
	// and keeps its client side open (the client to server side then
	// swallows until the client or the proxy closes it).
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 && !stalled() {
				if _, werr := client.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		if !(keep && stalled()) {
			client.Close()
		}
		done <- struct{}{}
	}()
	// Client to server: message by message, so the marker is seen before
	// the message is forwarded.
	go func() {
		for {
			msg, err := readTyped(client)
			if err != nil {
				break
			}
			if watch && len(marker) > 0 && bytes.Contains(msg, marker) {
				stop()
			}
			if stalled() {
				continue
			}
			if slow && msg[0] == 'E' {
				time.Sleep(delay)
			}
			if _, err := server.Write(msg); err != nil {
				break
			}
		}
		if !stalled() {
			server.Close()
		}
		done <- struct{}{}
	}()
	<-done
	<-done
}

func readUntyped(r io.Reader) ([]byte, error) {
	head := make([]byte, 4)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(head)
	if n < 8 || n > 1<<20 {
		return nil, errors.New("pgtest proxy: bad startup length")
	}
	pkt := make([]byte, n)
	copy(pkt, head)
	_, err := io.ReadFull(r, pkt[4:])
	return pkt, err
}

func readTyped(r io.Reader) ([]byte, error) {
	head := make([]byte, 5)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(head[1:])
	if n < 4 || n > 1<<30 {
		return nil, errors.New("pgtest proxy: bad message length")
	}
	msg := make([]byte, 1+n)
	copy(msg, head)
	_, err := io.ReadFull(r, msg[5:])
	return msg, err
}

// startupParam reads one parameter of a startup packet's key\0value\0 list.
func startupParam(body []byte, key string) string {
	parts := bytes.Split(body, []byte{0})
	for i := 0; i+1 < len(parts); i += 2 {
		if string(parts[i]) == key {
			return string(parts[i+1])
		}
	}
	return ""
}
