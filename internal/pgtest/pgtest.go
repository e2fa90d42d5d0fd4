// Package pgtest starts throwaway PostgreSQL clusters for tests and for the
// demo. Each cluster lives in its own temporary directory, listens on
// 127.0.0.1 with scram-sha-256 password authentication (so postgres_fdw user
// mappings behave as on hosted plans) and is removed on Stop.
//
// initdb refuses to run as root, so when the process is root the server
// binaries run as the "postgres" OS user.
//
// A cluster runs the default PostgreSQL (Debian's, the newest installed)
// or a chosen major (Options.Major): Debian's when installed, else the
// server binaries scripts/deps.sh fetches into .cache/pg/<major>.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Options tune a cluster.
type Options struct {
	// Logical sets wal_level=logical so logical replication can be used.
	Logical bool
	// Major is the PostgreSQL major version to run (14, 16, ...); 0 runs
	// the default one (see BinDir).
	Major int
	// Settings are more postgresql.conf lines, e.g.
	// "shared_preload_libraries = 'pg_stat_statements'".
	Settings []string
	// ForTests makes a cluster for tests, cheaper to use in two ways that
	// change nothing a test can see through SQL or the wire:
	//   - its files live in memory (/dev/shm when that is a tmpfs with
	//     room, see clusterRoot), where CREATE DATABASE's thousand file
	//     creations cost a fraction of what they cost on a disk;
	//   - the passwords pgtest sets (the superuser's, the owners' of
	//     CreateDatabase, the intruder's) are scram-sha-256 secrets of one
	//     PBKDF2 iteration instead of PostgreSQL's 4,096: the same
	//     exchange, but under the race detector a client's handshake
	//     costs about 25 ms less, and tests make thousands.
	// The demo and the benchmarks keep PostgreSQL's defaults.
	ForTests bool
}

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	Dir  string // data and socket directory, removed by Stop
	Port int

	superPassword string
	fastAuth      bool
	bin           string
	major         int
	cred          *syscall.Credential
	stopOnce      sync.Once
	proc          *exec.Cmd
	exited        chan struct{}

	templatesMu sync.Mutex
	templates   map[string]error // Template's, by name
}

// BinDir finds the directory holding initdb and pg_ctl: $PGLINKS_PG_BINDIR,
// else the newest /usr/lib/postgresql/*/bin, else the directory of initdb on
// $PATH.
func BinDir() (string, error) {
	if d := os.Getenv("PGLINKS_PG_BINDIR"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("pgtest: PostgreSQL server binaries not found (install the Debian package \"postgresql\" or set PGLINKS_PG_BINDIR)")
}

// sweepStale removes cluster directories left by processes that were
// killed: no running postmaster (no postmaster.pid) and older than any
// start could take.
func sweepStale() {
	dirs, _ := filepath.Glob("/tmp/pglinks-pg-*")
	inMemory, _ := filepath.Glob(filepath.Join(memoryRoot, "pglinks-pg-*"))
	dirs = append(dirs, inMemory...)
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil || time.Since(fi.ModTime()) < 10*time.Minute {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "data", "postmaster.pid")); os.IsNotExist(err) {
			os.RemoveAll(d)
		}
	}
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// MajorBinDir finds the server binaries of one PostgreSQL major:
// $PGLINKS_PG<major>_BINDIR (e.g. PGLINKS_PG16_BINDIR), else Debian's
// /usr/lib/postgresql/<major>/bin, else <cache>/<major>/bin where cache is
// $PGLINKS_PG_CACHE or the .cache/pg that scripts/deps.sh fills, found in
// the working directory or one above it (tests run in their package's
// directory). 0 is BinDir.
func MajorBinDir(major int) (string, error) {
	if major == 0 {
		return BinDir()
	}
	if d := os.Getenv(fmt.Sprintf("PGLINKS_PG%d_BINDIR", major)); d != "" {
		return d, nil
	}
	tried := []string{fmt.Sprintf("/usr/lib/postgresql/%d/bin", major)}
	caches := []string{}
	if d := os.Getenv("PGLINKS_PG_CACHE"); d != "" {
		caches = append(caches, d)
	} else if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			caches = append(caches, filepath.Join(d, ".cache", "pg"))
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, c := range caches {
		tried = append(tried, filepath.Join(c, strconv.Itoa(major), "bin"))
	}
	for _, d := range tried {
		if fi, err := os.Stat(filepath.Join(d, "postgres")); err == nil && !fi.IsDir() {
			return d, nil
		}
	}
	return "", fmt.Errorf("pgtest: PostgreSQL %d not found (looked in %s and .cache/pg/%d/bin above %s): run scripts/deps.sh test, which fetches 14, 16, 17 and 18 into .cache/pg, or set PGLINKS_PG%d_BINDIR",
		major, tried[0], major, workDir(), major)
}

func workDir() string {
	wd, _ := os.Getwd()
	return wd
}

// Start creates and starts a new cluster.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bin, err := MajorBinDir(opts.Major)
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, superPassword: RandomToken(12), fastAuth: opts.ForTests}
	if c.cred, err = serverCred(); err != nil {
		return nil, err
	}
	sweepStale()
	// Short path: the unix socket path must stay under 107 bytes.
	c.Dir, err = os.MkdirTemp(clusterRoot(opts), "pglinks-pg-")
	if err != nil {
		return nil, err
	}
	if err := c.chown(c.Dir); err != nil {
		c.removeDir()
		return nil, err
	}
	own := c.superPassword
	if err := c.initdb(ctx, opts); err != nil {
		c.removeDir()
		return nil, err
	}
	// A free port can be taken between probing and binding; retry a few times.
	for attempt := 0; ; attempt++ {
		c.Port, err = freePort()
		if err == nil {
			err = c.start(ctx)
		}
		if err == nil && opts.Major != 0 && c.major != opts.Major {
			c.Stop()
			return nil, fmt.Errorf("pgtest: asked for PostgreSQL %d, but %s runs %d", opts.Major, bin, c.major)
		}
		if err == nil {
			// The template's password becomes the cluster's own (hashed
			// as passwordLiteral says).
			if err := c.Exec(ctx, "postgres", fmt.Sprintf("ALTER ROLE postgres PASSWORD '%s'", c.passwordLiteral(own))); err != nil {
				c.Stop()
				return nil, err
			}
			c.superPassword = own
		}
		if err == nil {
			return c, nil
		}
		if attempt == 4 || ctx.Err() != nil {
			c.removeDir()
			return nil, err
		}
	}
}

// serverCred is who the server binaries run as: the "postgres" OS user when
// the process is root (initdb refuses root), else nil (this process's user).
func serverCred() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root needs the \"postgres\" OS user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (c *Cluster) dataDir() string { return filepath.Join(c.Dir, "data") }

// initdb makes c's data directory, a copy of the template of its binaries,
// and sets it up for c. Until Start gives the superuser c's own password,
// the template's opens it.
func (c *Cluster) initdb(ctx context.Context, opts Options) error {
	t, err := c.dataTemplate(ctx, templateRoot)
	if err != nil {
		return err
	}
	if err := c.copyTemplate(ctx, t); err != nil {
		return err
	}
	c.superPassword = t.password
	conf := []string{
		"listen_addresses = '127.0.0.1'",
		fmt.Sprintf("unix_socket_directories = '%s'", c.Dir),
		"fsync = off",
		"synchronous_commit = off",
		"full_page_writes = off",
		"max_connections = 200",
		"shared_buffers = 32MB",
		"log_min_messages = warning",
	}
	if opts.Logical {
		conf = append(conf, "wal_level = logical", "max_replication_slots = 20", "max_wal_senders = 20")
	}
	conf = append(conf, opts.Settings...)
	f, err := os.OpenFile(filepath.Join(c.dataDir(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString("\n" + strings.Join(conf, "\n") + "\n")
	return err
}

// start runs the postmaster as a direct child (not daemonized by pg_ctl)
// with a parent-death signal, so a test binary that is killed takes its
// clusters with it instead of leaving them running.
func (c *Cluster) start(ctx context.Context) error {
	return c.startUntil(ctx, func(conn *pgx.Conn, err error) bool {
		if err == nil {
			c.major = majorOf(conn.PgConn().ParameterStatus("server_version"))
		}
		return err == nil
	})
}

// startUntil starts the postmaster and waits until ready says a connection
// attempt (conn when it worked, err when not) shows the server as wanted.
func (c *Cluster) startUntil(ctx context.Context, ready func(conn *pgx.Conn, err error) bool) error {
	logf, err := os.Create(filepath.Join(c.Dir, "server.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(c.bin, "postgres"), "-D", c.dataDir(), "-p", strconv.Itoa(c.Port))
	cmd.Dir = c.Dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "LC_ALL=C.UTF-8"}
	cmd.Stdout, cmd.Stderr = logf, logf
	// SIGQUIT is PostgreSQL's immediate shutdown. Setpgid keeps a terminal's
	// Ctrl-C away from the server: the owner stops it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Setpgid: true, Pdeathsig: syscall.SIGQUIT}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	c.proc = cmd
	c.exited = make(chan struct{})
	go func() {
		cmd.Wait()
		close(c.exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		attempt, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(attempt, c.SuperURL("postgres"))
		cancel()
		ok := ready(conn, err)
		if conn != nil {
			conn.Close(ctx)
		}
		if ok {
			return nil
		}
		select {
		case <-c.exited:
			log, _ := os.ReadFile(filepath.Join(c.Dir, "server.log"))
			return fmt.Errorf("pgtest: postgres exited at start: %s", tail(string(log), 2000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			c.kill()
			return fmt.Errorf("pgtest: postgres not ready after 30s: %v", err)
		}
	}
}

// majorOf reads the major from a server_version such as "15.18 (Debian
// 15.18-0+deb12u1)", "18.4" or "19beta1".
func majorOf(serverVersion string) int {
	end := 0
	for end < len(serverVersion) && serverVersion[end] >= '0' && serverVersion[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(serverVersion[:end])
	return n
}

// Major is the PostgreSQL major version the cluster runs.
func (c *Cluster) Major() int { return c.major }

func (c *Cluster) kill() {
	c.proc.Process.Signal(syscall.SIGQUIT)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		c.proc.Process.Kill()
		<-c.exited
	}
}

// Stop shuts the server down at once and removes its directory. Safe to call
// more than once.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		if c.proc != nil {
			c.kill()
		}
		c.removeDir()
	})
	return nil
}

// Halt stops the server (fast shutdown: sessions are cut, committed data is
// kept) but keeps its files, so Resume can start it again: for tests of a
// database that goes away and comes back.
func (c *Cluster) Halt() {
	if c.proc == nil {
		return
	}
	c.proc.Process.Signal(syscall.SIGINT)
	select {
	case <-c.exited:
	case <-time.After(15 * time.Second):
		c.kill()
	}
	c.proc = nil
}

// Resume starts a halted server again, on port when it is not 0 (a database
// that moved, as after a failover) or on its old port.
func (c *Cluster) Resume(ctx context.Context, port int) error {
	if c.proc != nil {
		return errors.New("pgtest: Resume: the server is running")
	}
	if port != 0 {
		c.Port = port
	}
	return c.start(ctx)
}

// SmartShutdown begins a smart shutdown: the server keeps its sessions
// but refuses new connections ("the database system is shutting down",
// SQLSTATE 57P03) and stops when the last session ends. Halt ends it at
// once.
func (c *Cluster) SmartShutdown() {
	if c.proc != nil {
		c.proc.Process.Signal(syscall.SIGTERM)
	}
}

// ResumeNotAccepting starts a halted server again as a standby with no
// primary and hot_standby off: it runs and refuses every connection with
// SQLSTATE 57P03 ("the database system is not accepting connections"), as
// a server that is starting up or recovering does. For tests of that
// state only: Stop ends it; it is not meant to be resumed again.
func (c *Cluster) ResumeNotAccepting(ctx context.Context) error {
	if c.proc != nil {
		return errors.New("pgtest: ResumeNotAccepting: the server is running")
	}
	signal := filepath.Join(c.dataDir(), "standby.signal")
	if err := os.WriteFile(signal, nil, 0o600); err != nil {
		return err
	}
	if err := c.chown(signal); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(c.dataDir(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString("\nhot_standby = off\n")
	f.Close()
	if err != nil {
		return err
	}
	return c.startUntil(ctx, func(_ *pgx.Conn, err error) bool {
		var pgErr *pgconn.PgError
		return errors.As(err, &pgErr) && pgErr.Code == "57P03"
	})
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort() (int, error) { return freePort() }

func (c *Cluster) removeDir() { os.RemoveAll(c.Dir) }

// run runs server binary name in dir as the server user.
func (c *Cluster) run(ctx context.Context, dir, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "LC_ALL=C.UTF-8"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Setpgid: true}
	return cmd.CombinedOutput()
}

func (c *Cluster) chown(path string) error {
	if c.cred == nil {
		return nil
	}
	return os.Chown(path, int(c.cred.Uid), int(c.cred.Gid))
}

// URL is a TCP URL to database db as user with password.
func (c *Cluster) URL(user, password, db string) string {
	u := url.URL{
		Scheme: "postgres",
		User:   url.UserPassword(user, password),
		Host:   net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)),
		Path:   "/" + db,
	}
	return u.String() + "?sslmode=disable"
}

// SuperURL is a superuser URL to database db.
func (c *Cluster) SuperURL(db string) string { return c.URL("postgres", c.superPassword, db) }

// execEach runs each statement on its own, in order, as the superuser in
// database db, over one connection.
func (c *Cluster) execEach(ctx context.Context, db string, stmts ...string) error {
	conn, err := pgx.Connect(ctx, c.SuperURL(db))
	if err != nil {
		return fmt.Errorf("pgtest: connect %s: %w", db, err)
	}
	defer func() {
		// Closing waits at most a second, even when ctx has ended.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("pgtest: exec in %s: %w", db, err)
		}
	}
	return nil
}

// Exec runs sql as the superuser in database db.
func (c *Cluster) Exec(ctx context.Context, db, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, c.SuperURL(db))
	if err != nil {
		return fmt.Errorf("pgtest: connect %s: %w", db, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("pgtest: exec in %s: %w", db, err)
	}
	return nil
}

// Database is a database owned by a non-superuser role with a password, as a
// hosted plan hands out.
type Database struct {
	Name     string
	Owner    string
	Password string
	URL      string
}

// DBOptions tune CreateDatabase.
type DBOptions struct {
	// NoFDW leaves postgres_fdw uninstalled and the owner without USAGE on
	// it, like a plan where links are not supported.
	NoFDW bool
	// Redis installs pglinks_redis (ext/pglinks_redis, `make ext`) and
	// grants the role USAGE on it, as an admin does for Redis links.
	Redis bool
	// Template is a database made by Cluster.Template: the new one is a
	// copy of it, what it holds given to the new owner.
	Template string
}

// CreateDatabase creates a role (LOGIN, password, not superuser), a database
// it owns, and, unless opts.NoFDW, installs postgres_fdw there and grants the
// role USAGE on it, which is what hosted plans do.
func (c *Cluster) CreateDatabase(ctx context.Context, name string, opts DBOptions) (*Database, error) {
	d := &Database{Name: name, Owner: name + "_owner", Password: RandomToken(12)}
	d.URL = c.URL(d.Owner, d.Password, name)
	owner := pgx.Identifier{d.Owner}.Sanitize()
	create := fmt.Sprintf("CREATE DATABASE %s OWNER %s", pgx.Identifier{name}.Sanitize(), owner)
	if opts.Template != "" {
		create += " TEMPLATE " + pgx.Identifier{opts.Template}.Sanitize()
	}
	if c.major >= 15 {
		// Copying template1's files (with fsync off) takes about half the
		// time of 15's default, which writes every page to the WAL: a
		// test's databases are a good part of what it costs.
		create += " STRATEGY FILE_COPY"
	}
	// Two connections, one to make the role and the database, one to set
	// the database up: a backend's start is a good part of what a test
	// database costs.
	if err := c.execEach(ctx, "postgres",
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", owner, c.passwordLiteral(d.Password)),
		create); err != nil {
		return nil, err
	}
	// New objects in public belong to the owner, as on hosted plans.
	setup := []string{fmt.Sprintf("ALTER SCHEMA public OWNER TO %s", owner)}
	if opts.Template != "" {
		setup = append(setup, fmt.Sprintf("REASSIGN OWNED BY %s TO %s", pgx.Identifier{opts.Template + "_owner"}.Sanitize(), owner))
	}
	if !opts.NoFDW {
		setup = append(setup, "CREATE EXTENSION IF NOT EXISTS postgres_fdw",
			fmt.Sprintf("GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO %s", owner))
	}
	if opts.Redis {
		setup = append(setup, "CREATE EXTENSION IF NOT EXISTS pglinks_redis",
			fmt.Sprintf("GRANT USAGE ON FOREIGN DATA WRAPPER pglinks_redis TO %s", owner))
	}
	if err := c.execEach(ctx, name, setup...); err != nil {
		if opts.Redis {
			err = fmt.Errorf("%w (pglinks_redis is installed by `make ext`)", err)
		}
		return nil, err
	}
	return d, nil
}

// RandomToken returns n random bytes as hex.
func RandomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
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
	return s
}

// PrependHBA puts line first in pg_hba.conf and reloads the server, e.g. to
// let one role in without a password.
func (c *Cluster) PrependHBA(ctx context.Context, line string) error {
	path := filepath.Join(c.dataDir(), "pg_hba.conf")
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append([]byte(line+"\n"), old...), 0o600); err != nil {
		return err
	}
	if err := c.chown(path); err != nil {
		return err
	}
	return c.Exec(ctx, "postgres", "SELECT pg_reload_conf()")
}

// TB is the part of testing.TB the helpers below need (so this package does
// not import testing into the demo binary).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// MustExec runs sql against url (as whoever the URL names) or fails tb.
func MustExec(tb TB, url, sql string, args ...any) {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		tb.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// MustQueryString runs a query returning one text value, or fails tb.
func MustQueryString(tb TB, url, sql string, args ...any) string {
	tb.Helper()
	return mustQueryOne[string](tb, url, sql, args...)
}

// MustQueryInt runs a query returning one integer, or fails tb.
func MustQueryInt(tb TB, url, sql string, args ...any) int {
	tb.Helper()
	return mustQueryOne[int](tb, url, sql, args...)
}

func mustQueryOne[T any](tb TB, url, sql string, args ...any) T {
	tb.Helper()
	ctx := context.Background()
	var v T
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
		return v
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
		tb.Fatalf("pgtest: %s: %v", sql, err)
	}
	return v
}
