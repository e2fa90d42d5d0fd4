// Package redistest starts throwaway redis-server processes for tests and
// the demo: on a free port of 127.0.0.1, in a temporary directory removed on
// Stop, plain or TLS-only with a certificate made for the run, and talks to
// them with a minimal RESP client. It also has the misbehaving peers the
// foreign data wrapper's tests need: a proxy that can inject duplicate SCAN
// keys or stop answering, and a listener that never answers.
package redistest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options tune a server.
type Options struct {
	// TLS serves TLS only (--port 0 --tls-port N) with a certificate for
	// 127.0.0.1 and localhost signed by a CA made for this server
	// (Server.CAFile); clients are not asked for certificates.
	TLS bool
	// CertHosts are the names and IP addresses the server certificate is
	// for; default 127.0.0.1, ::1 and localhost.
	CertHosts []string
	// Password is the default user's password (requirepass); the
	// server's own connections use it.
	Password string
	// Args are more redis-server arguments.
	Args []string
}

// Server is a running redis-server.
type Server struct {
	Port int
	TLS  bool
	Dir  string // working directory, removed by Stop
	// CAFile is the CA certificate (PEM) that signed the server's
	// certificate, and CAPEM its contents; empty without TLS.
	CAFile string
	CAPEM  string

	certHosts []string

	cmd      *exec.Cmd
	exited   chan struct{}
	stopOnce sync.Once

	mu        sync.Mutex
	admin     *Client
	adminAuth DialOptions // who the admin connection is, after AddUser closed default
}

// Binary finds redis-server: $PGLINKS_REDIS_SERVER, else on $PATH.
func Binary() (string, error) {
	if p := os.Getenv("PGLINKS_REDIS_SERVER"); p != "" {
		return p, nil
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return "", errors.New("redistest: redis-server not found (install the Debian package \"redis-server\": scripts/deps.sh test)")
	}
	return p, nil
}

// Start starts a server and waits until it answers PING.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	s := &Server{TLS: opts.TLS, adminAuth: DialOptions{Password: opts.Password}}
	if s.Dir, err = os.MkdirTemp("", "pglinks-redis-"); err != nil {
		return nil, err
	}
	if opts.TLS {
		hosts := opts.CertHosts
		if len(hosts) == 0 {
			hosts = []string{"127.0.0.1", "::1", "localhost"}
		}
		s.certHosts = hosts
		if err := s.writeCertificates(hosts); err != nil {
			os.RemoveAll(s.Dir)
			return nil, err
		}
	}
	// A free port can be taken between probing and binding; retry a few times.
	for attempt := 0; ; attempt++ {
		if s.Port, err = freePort(); err == nil {
			err = s.start(ctx, bin, opts)
		}
		if err == nil {
			return s, nil
		}
		if attempt == 4 || ctx.Err() != nil {
			os.RemoveAll(s.Dir)
			return nil, err
		}
	}
}

func (s *Server) start(ctx context.Context, bin string, opts Options) error {
	args := []string{
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.Dir,
		"--daemonize", "no",
		"--protected-mode", "no",
		// DEBUG SLEEP lets tests make a server stop answering for a while.
		"--enable-debug-command", "yes",
	}
	port := strconv.Itoa(s.Port)
	if s.TLS {
		args = append(args, "--port", "0", "--tls-port", port,
			"--tls-cert-file", filepath.Join(s.Dir, "server.crt"),
			"--tls-key-file", filepath.Join(s.Dir, "server.key"),
			"--tls-ca-cert-file", s.CAFile,
			"--tls-auth-clients", "no")
	} else {
		args = append(args, "--port", port)
	}
	if opts.Password != "" {
		args = append(args, "--requirepass", opts.Password)
	}
	args = append(args, opts.Args...)

	logf, err := os.Create(filepath.Join(s.Dir, "redis.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// A killed test binary takes its server with it; a terminal's Ctrl-C
	// does not reach it before its owner stops it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() {
		cmd.Wait()
		close(s.exited)
	}()

	deadline := time.Now().Add(15 * time.Second)
	for {
		attempt, cancel := context.WithTimeout(ctx, time.Second)
		c, err := s.Dial(attempt, s.adminAuth)
		if err == nil {
			_, err = c.Do(attempt, "PING")
			c.Close()
		}
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			log, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
			return fmt.Errorf("redistest: redis-server exited at start: %s", tail(string(log), 2000))
		case <-time.After(30 * time.Millisecond):
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.kill()
			return fmt.Errorf("redistest: redis-server not ready after 15s: %v", err)
		}
	}
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// TLSConfig verifies the server against its CA; nil without TLS.
func (s *Server) TLSConfig() *tls.Config {
	if !s.TLS {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(s.CAPEM))
	// Clients dial 127.0.0.1; verify against the certificate's first host.
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, ServerName: s.certHosts[0]}
}

// Dial opens a client connection (TLS when the server is TLS-only); opts.TLS
// is filled in.
func (s *Server) Dial(ctx context.Context, opts DialOptions) (*Client, error) {
	opts.TLS = s.TLSConfig()
	return Dial(ctx, s.Addr(), opts)
}

// Do runs one command on the server's shared admin connection (as the
// default user), reconnecting after a failure.
func (s *Server) Do(ctx context.Context, args ...any) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.adminConn(ctx); err != nil {
		return nil, err
	}
	v, err := s.admin.Do(ctx, args...)
	var rerr Error
	if err != nil && !errors.As(err, &rerr) {
		s.admin.Close()
		s.admin = nil
	}
	return v, err
}

// Pipeline runs many commands on the admin connection in one round trip.
func (s *Server) Pipeline(ctx context.Context, cmds [][]any) ([]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.adminConn(ctx); err != nil {
		return nil, err
	}
	v, err := s.admin.Pipeline(ctx, cmds)
	if err != nil {
		s.admin.Close()
		s.admin = nil
	}
	return v, err
}

// CommandCalls is INFO commandstats as calls per command (lower case).
func (s *Server) CommandCalls(ctx context.Context) (map[string]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.adminConn(ctx); err != nil {
		return nil, err
	}
	calls, err := s.admin.CommandCalls(ctx)
	if err != nil {
		s.admin.Close()
		s.admin = nil
	}
	return calls, err
}

// adminConn opens the admin connection if needed; s.mu is held.
func (s *Server) adminConn(ctx context.Context) error {
	if s.admin != nil {
		return nil
	}
	c, err := s.Dial(ctx, s.adminAuth)
	if err != nil {
		return err
	}
	s.admin = c
	return nil
}

// AddUser creates (or replaces) an ACL user with password and every
// permission, and turns the default user off when closeDefault is set, so
// that only authenticated clients get in.
func (s *Server) AddUser(ctx context.Context, user, password string, closeDefault bool) error {
	if _, err := s.Do(ctx, "ACL", "SETUSER", user, "reset", "on", ">"+password, "~*", "&*", "+@all"); err != nil {
		return fmt.Errorf("redistest: ACL SETUSER %s: %w", user, err)
	}
	if closeDefault {
		// The admin connection stays authenticated as default: switch it
		// to the new user first.
		if _, err := s.Do(ctx, "AUTH", user, password); err != nil {
			return err
		}
		s.mu.Lock()
		s.adminAuth = DialOptions{User: user, Password: password}
		s.mu.Unlock()
		if _, err := s.Do(ctx, "ACL", "SETUSER", "default", "off"); err != nil {
			return err
		}
	}
	return nil
}

// Pause stops the process (SIGSTOP): connections stay open and nothing
// answers, as with a hung server. Resume continues it.
func (s *Server) Pause() error  { return s.cmd.Process.Signal(syscall.SIGSTOP) }
func (s *Server) Resume() error { return s.cmd.Process.Signal(syscall.SIGCONT) }

func (s *Server) kill() {
	s.cmd.Process.Signal(syscall.SIGCONT)
	s.cmd.Process.Kill()
	<-s.exited
}

// Stop kills the server and removes its directory. Safe to call twice.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		if s.admin != nil {
			s.admin.Close()
		}
		s.mu.Unlock()
		if s.cmd != nil {
			s.kill()
		}
		os.RemoveAll(s.Dir)
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return strings.TrimSpace(s)
}
