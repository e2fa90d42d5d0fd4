package main

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// demoListen binds the demo's address before anything is seeded, so a
// port in use fails at once, naming a free one, rather than after the
// clusters' seeding with a bare "address already in use".
func demoListen(host, port string) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err == nil {
		return ln, nil
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("demo: listening on %s: %w", net.JoinHostPort(host, port), err)
	}
	if free := freePortAfter(host, port); free != 0 {
		return nil, fmt.Errorf("port %s is in use; run PORT=%d make demo", port, free)
	}
	return nil, fmt.Errorf("port %s is in use; run PORT=<a free port> make demo", port)
}

// freePortAfter is the first port free on host among port+10, port+20, ...
// up to port+100 (8080 suggests 8090), or 0.
func freePortAfter(host, port string) int {
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 {
		return 0
	}
	for next := p + 10; next <= p+100 && next <= 65535; next += 10 {
		if ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(next))); err == nil {
			ln.Close()
			return next
		}
	}
	return 0
}
