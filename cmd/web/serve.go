package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pglinks/pglinks/internal/app"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/replication"
	"github.com/pglinks/pglinks/internal/state"
)

// config is everything serve reads from the environment.
type config struct {
	Addr            string
	StateURL        string
	SessionKeys     []string
	EphemeralKeys   bool
	TrustedProxies  []*net.IPNet
	TLSCert, TLSKey string
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	MetricsToken    string        // PGLINKS_METRICS_TOKEN: /metrics is off when empty
	InventoryMaxAge time.Duration // PGLINKS_INVENTORY_MAX_AGE: staleness bound of inventory snapshots
	MaxConns        int           // PGLINKS_MAX_CONNECTIONS: cap on connections to fleet databases
	LeaseTTL        time.Duration // PGLINKS_LEASE_TTL: how long the background lease lasts unrenewed
	SlotOrphanAfter time.Duration // PGLINKS_SLOT_ORPHAN_AFTER: how long a slot is inactive before it is a problem
	CPUProfile      string        // PGLINKS_CPU_PROFILE: file to write a CPU profile of the run to
	Env             []string

	// listener, when set, is bound already (the demo binds its port
	// before seeding, so a busy port costs nothing); open uses it.
	listener net.Listener
	// requestLogLevel is the level requests are logged at (Info; the
	// demo's are Debug, so its terminal keeps what it printed).
	requestLogLevel slog.Level
}

func configFromEnv(environ []string) (*config, error) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	port := env["PORT"]
	if port == "" {
		port = "8080"
	}
	cfg := &config{
		Addr:            net.JoinHostPort(env["HOST"], port),
		StateURL:        env["PGLINKS_STATE_URL"],
		TLSCert:         env["PGLINKS_TLS_CERT"],
		TLSKey:          env["PGLINKS_TLS_KEY"],
		MetricsToken:    strings.TrimSpace(env["PGLINKS_METRICS_TOKEN"]),
		CPUProfile:      env["PGLINKS_CPU_PROFILE"],
		InventoryMaxAge: fleet.DefaultSnapshotMaxAge,
		MaxConns:        fleet.DefaultMaxConns,
		LeaseTTL:        fleet.DefaultLeaseTTL,
		SlotOrphanAfter: replication.DefaultOrphanAfter,
		IdleTimeout:     auth.DefaultIdleTimeout,
		AbsoluteTimeout: auth.DefaultAbsoluteTimeout,
		Env:             environ,
	}
	if cfg.StateURL == "" {
		return nil, errors.New("PGLINKS_STATE_URL is not set: pglinks keeps its users, sessions and audit trail in that PostgreSQL database")
	}
	for _, k := range strings.Split(env["PGLINKS_SESSION_KEYS"], ",") {
		if k = strings.TrimSpace(k); k != "" {
			cfg.SessionKeys = append(cfg.SessionKeys, k)
		}
	}
	if len(cfg.SessionKeys) == 0 {
		cfg.SessionKeys = []string{auth.GenerateSessionKey()}
		cfg.EphemeralKeys = true
	}
	for _, s := range strings.Split(env["PGLINKS_TRUSTED_PROXIES"], ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			if strings.Contains(s, ":") {
				s += "/128"
			} else {
				s += "/32"
			}
		}
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("PGLINKS_TRUSTED_PROXIES: %q is not an address or CIDR", s)
		}
		if ones, _ := n.Mask.Size(); ones == 0 {
			// Every client would be believed about its own address, and
			// the sign-in limit counts per address.
			return nil, fmt.Errorf("PGLINKS_TRUSTED_PROXIES: %q trusts every client to say its own address: name the addresses of your proxies", s)
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, n)
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("set both PGLINKS_TLS_CERT and PGLINKS_TLS_KEY, or neither")
	}
	if v := env["PGLINKS_INVENTORY_MAX_AGE"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > time.Hour {
			return nil, fmt.Errorf("PGLINKS_INVENTORY_MAX_AGE: want a duration from 0s to 1h, like 30s")
		}
		cfg.InventoryMaxAge = d
	}
	if v := env["PGLINKS_SLOT_ORPHAN_AFTER"]; v != "" {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d < 0 || d > 7*24*time.Hour {
			return nil, fmt.Errorf("PGLINKS_SLOT_ORPHAN_AFTER: want a duration from 0s to 168h, like 5m")
		}
		cfg.SlotOrphanAfter = d
	}
	if v := env["PGLINKS_MAX_CONNECTIONS"]; v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < fleet.MinMaxConns || n > 10000 {
			return nil, fmt.Errorf("PGLINKS_MAX_CONNECTIONS: want a whole number from %d to 10000, like %d", fleet.MinMaxConns, fleet.DefaultMaxConns)
		}
		cfg.MaxConns = n
	}
	if v := env["PGLINKS_LEASE_TTL"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 3*time.Second || d > 10*time.Minute {
			return nil, fmt.Errorf("PGLINKS_LEASE_TTL: want a duration from 3s to 10m, like 15s")
		}
		cfg.LeaseTTL = d
	}
	for name, dst := range map[string]*time.Duration{"PGLINKS_IDLE_TIMEOUT": &cfg.IdleTimeout, "PGLINKS_ABSOLUTE_TIMEOUT": &cfg.AbsoluteTimeout} {
		if v := env[name]; v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Minute {
				return nil, fmt.Errorf("%s: want a duration of at least 1m, like 2h", name)
			}
			*dst = d
		}
	}
	return cfg, nil
}

// program is a running pglinks server.
type program struct {
	server *http.Server
	ln     net.Listener
	fleet  *fleet.Fleet
	links  *links.Service
	health *links.Monitor
	repl   *replication.Service
	state  *state.DB
	store  *auth.Store
	log    *slog.Logger
	// The background work: shared results, the lease, the sweep.
	shared *fleet.Shared
	lease  *fleet.Lease
	sweep  *fleet.Sweeper
	// standby reads, while another process holds the lease, the databases
	// whose snapshots nobody with this process's config vars keeps fresh.
	standby *fleet.Sweeper
}

// leaseName is the lease of the fleet's background work.
const leaseName = "background"

// holderID names this process in the lease: host, pid and a random
// part, unique across restarts.
func holderID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), auth.GenerateSessionKey()[:8])
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// HTTP server bounds. writeTimeout is above the app's request deadline
// (app.DefaultRequestTimeout), so a request that runs out of time still
// gets its answer.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 90 * time.Second
	idleTimeout       = 2 * time.Minute
)

// open wires everything, the one place where pglinks' parts are built and
// handed to each other, and binds the listener, without serving yet.
func open(ctx context.Context, cfg *config, log *slog.Logger) (*program, error) {
	fl, err := fleet.Load(cfg.Env)
	if err != nil {
		return nil, err
	}
	fl.Log = log
	fl.MaxConns = cfg.MaxConns
	fl.SnapshotMaxAge = cfg.InventoryMaxAge
	db, err := state.Open(ctx, cfg.StateURL)
	if err != nil {
		return nil, fmt.Errorf("state database %s: %w", fleet.MaskURLs(cfg.StateURL), err)
	}
	store := auth.NewStore(db)
	store.IdleTimeout, store.AbsoluteTimeout = cfg.IdleTimeout, cfg.AbsoluteTimeout
	svc := links.NewService(fl, log)
	svc.Registry = links.NewStateRegistry(db)
	health := links.NewMonitor(svc)
	repl := replication.New(fl)
	// Background results are shared through the state database: what any
	// process found is what every process shows.
	shared := fleet.NewShared(db.Shared(), log)
	// Each process shows only what was read with its own values of the
	// config vars (see fleet.Targets): the key is the session key every
	// process behind one address shares.
	shared.Target = fleet.Targets(fl, []byte(cfg.SessionKeys[0]))
	fleet.Share(shared, svc.Cards())
	fleet.Share(shared, repl.States())
	health.Share(shared)
	lctx, cancel := context.WithTimeout(ctx, state.DefaultCallTimeout)
	if err := shared.Load(lctx); err != nil {
		log.Warn("state database: read background results", "err", err)
	}
	cancel()
	lease := &fleet.Lease{Store: db.Leases(), Name: leaseName, Holder: holderID(), TTL: cfg.LeaseTTL, Log: log}
	repl.OrphanAfter = cfg.SlotOrphanAfter
	a, err := app.New(app.Config{
		Fleet: fl, Links: svc, Health: health, Replication: repl,
		Auth: store, Limiter: auth.NewLimiter(store, 0, 0, 0),
		Log: log, SessionKeys: cfg.SessionKeys, TrustedProxies: cfg.TrustedProxies, MetricsToken: cfg.MetricsToken,
		LeaseHeld:       lease.Held,
		RequestLogLevel: cfg.requestLogLevel,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	ln := cfg.listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			db.Close()
			return nil, err
		}
	}
	p := &program{
		server: &http.Server{
			Handler:           a.Handler(),
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		ln: ln, fleet: fl, links: svc, health: health, repl: repl, state: db, store: store, log: log,
		shared: shared, lease: lease,
		sweep: &fleet.Sweeper{Fleet: fl, Facets: []fleet.Facet{svc.Cards(), repl.States()}},
		standby: &fleet.Sweeper{Fleet: fl, Facets: []fleet.Facet{svc.Cards(), repl.States()},
			Workers: 2, Standby: max(fl.SnapshotMaxAge/2, cfg.LeaseTTL), Pause: lease.Held},
	}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("TLS: %w", err)
		}
		p.server.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		p.ln = tls.NewListener(ln, p.server.TLSConfig)
	}
	for _, d := range fl.Databases {
		log.Info("fleet database", "config_var", d.ConfigVar, "resource", d.ResourceName, "url", d.MaskedURL())
	}
	if cfg.EphemeralKeys {
		log.Warn("PGLINKS_SESSION_KEYS is not set: using a random key, so everyone is signed out when pglinks restarts")
	}
	return p, nil
}

// run serves until ctx ends, then shuts down gracefully.
func (p *program) run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- p.server.Serve(p.ln) }()
	stopBG := p.background(ctx)
	select {
	case err := <-errc:
		stopBG()
		p.close()
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := p.server.Shutdown(shutdown)
	stopBG()
	p.close()
	return err
}

// background starts the background work: every process applies the
// results the others share; the one holding the lease reads every
// database (oldest first) and probes every link. stop ends it, gives the
// lease up and writes what is left to share.
func (p *program) background(ctx context.Context) (stop func()) {
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	sharedCtx, stopShared := context.WithCancel(context.WithoutCancel(ctx))
	var sharedDone sync.WaitGroup
	sharedDone.Go(func() { p.shared.Run(sharedCtx) })
	wg.Go(func() {
		p.lease.Run(bg, func(ctx context.Context) {
			var work sync.WaitGroup
			if p.fleet.SnapshotMaxAge > 0 {
				// With SnapshotMaxAge 0 every page view reads every
				// database itself; there is nothing to sweep.
				work.Go(func() { p.sweep.Run(ctx) })
			}
			work.Go(func() { p.health.Run(ctx, 0) })
			work.Wait()
		})
	})
	if p.fleet.SnapshotMaxAge > 0 {
		wg.Go(func() { p.standby.Run(bg) })
	}
	wg.Go(func() { p.closeUnusedPools(bg) })
	return func() {
		cancel()
		wg.Wait()
		stopShared()
		sharedDone.Wait()
	}
}

// closeUnusedPools closes the pools nobody used for a while, every minute.
func (p *program) closeUnusedPools(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.fleet.CloseUnused()
		}
	}
}

func (p *program) close() {
	p.ln.Close()
	p.links.Close()
	p.fleet.Close()
	p.state.Close()
}

func serve(ctx context.Context, cfg *config, stdout io.Writer) error {
	log := newLogger(os.Stderr)
	p, err := open(ctx, cfg, log)
	if err != nil {
		return err
	}
	if cfg.CPUProfile != "" {
		stop, err := startCPUProfile(cfg.CPUProfile)
		if err != nil {
			p.close()
			return err
		}
		defer stop()
		log.Info("writing a CPU profile until exit", "file", cfg.CPUProfile)
	}
	log.Info("pglinks listening", "addr", p.ln.Addr().String())
	return p.run(ctx)
}

// startCPUProfile profiles the whole process into path (go tool pprof
// reads it) until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("PGLINKS_CPU_PROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("PGLINKS_CPU_PROFILE: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
