package links

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// A Redis link is a link whose remote is a Redis of the fleet: in the local
// PostgreSQL database, a foreign server of pglinks_redis (the wrapper in
// ext/pglinks_redis), a user mapping holding the Redis' password, and a
// schema named after the link with one foreign table per chosen Redis
// type and key prefix. pglinks records it like any link (kind redis), and
// creates, probes, repairs and destroys it the same way; drift and
// refresh do not apply (a Redis has no catalog: a table shows whatever
// keys match its type and prefix when it is read).

// redisFDW is the wrapper's name, and the extension's.
const redisFDW = "pglinks_redis"

// IsRedis reports whether l reads a Redis.
func (l *Link) IsRedis() bool { return l.Kind == fleet.KindRedis }

// kindMatches reports whether a catalog server of wrapper fdw can be the
// link rec records.
func kindMatches(rec LinkRecord, fdw string) bool {
	if rec.Kind == fleet.KindRedis {
		return fdw == redisFDW
	}
	return fdw == "postgres_fdw" || fdw == ""
}

// redisLink completes l from a pglinks_redis server's options.
func redisLink(l Link, serverOptions []string) Link {
	l.Kind = fleet.KindRedis
	l.DBName = "0"
	l.ReadOnly = true
	for _, o := range serverOptions {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "host":
			l.Host = v
		case "port":
			l.Port = v
		case "db":
			l.DBName = v
		case "tls":
			l.TLS = v == "true"
		case "writable":
			l.ReadOnly = v != "true"
		}
	}
	if l.Port == "" {
		l.Port = "6379"
	}
	return l
}

// DoesNotApply refuses drift, refresh and imports (what) on a Redis link.
func DoesNotApply(l *Link, what string) error {
	return errs.E(errs.Invalid, "%s does not apply to link %s: it reads a Redis, which has no catalog to compare with. Its tables show whatever keys match their type and key prefix when they are read; to read other keys, destroy the link and create it with other tables.", what, l.Name)
}

// readRedisStatus is a Redis' card: what it says of itself, or why it
// did not answer.
func (s *Service) readRedisStatus(ctx context.Context, d *fleet.Database) DatabaseStatus {
	st := DatabaseStatus{DB: d}
	info, err := s.Fleet.ReadRedis(ctx, d, fleet.ClassStatus)
	if err != nil {
		st.Error = errs.MessageOf(err)
		st.busy = fleet.IsBusy(err)
		return st
	}
	st.Reachable = true
	st.Redis = &info
	return st
}

// RedisSupport is whether Redis links can be made in a PostgreSQL
// database by pglinks' role, and if not what to do about it.
type RedisSupport struct {
	OK bool
	// Installed: pglinks_redis is installed in the database; else
	// Available: the server has it, and a superuser role installs it with
	// the first Redis link.
	Installed, Available bool
	// Reason says why not, SQL what a superuser runs (in the database)
	// to make it possible; both "" when OK.
	Reason, SQL string
}

// redisSupportOf words what the catalog says of pglinks_redis for role
// in database db (superuser when super).
func redisSupportOf(db, role string, super, installed, available, usage bool, serverMajor int) RedisSupport {
	rs := RedisSupport{Installed: installed, Available: available || installed}
	grant := fmt.Sprintf("GRANT USAGE ON FOREIGN DATA WRAPPER %s TO %s;", redisFDW, fleet.Ident(role))
	install := "CREATE EXTENSION " + redisFDW + ";\n" + grant
	switch {
	case !rs.Available:
		major := "its PostgreSQL"
		if serverMajor > 0 {
			major = fmt.Sprintf("PostgreSQL %d", serverMajor)
		}
		rs.Reason = fmt.Sprintf("pglinks_redis is not available on this server: install it there first (on the database server, `make ext` in pglinks' repository builds it against %s's postgresql-server-dev package and installs it), then a superuser runs, in database %s:", major, db)
		rs.SQL = install
	case !installed && !super:
		rs.Reason = fmt.Sprintf("pglinks_redis is not installed in this database and role %s cannot install it (CREATE EXTENSION pglinks_redis needs a superuser). A superuser runs, in database %s:", role, db)
		rs.SQL = install
	case installed && !usage:
		rs.Reason = fmt.Sprintf("Role %s lacks USAGE on the foreign data wrapper pglinks_redis. A superuser runs, in database %s:", role, db)
		rs.SQL = grant
	default:
		rs.OK = true
	}
	return rs
}

// redisSupportSQL reads what redisSupportOf needs; the costly
// pg_available_extensions only when the extension is not installed (and
// that answer is kept a while: see availability).
const redisSupportSQL = `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pglinks_redis'),
	CASE WHEN EXISTS (SELECT 1 FROM pg_foreign_data_wrapper WHERE fdwname = 'pglinks_redis')
	     THEN has_foreign_data_wrapper_privilege('pglinks_redis', 'USAGE') ELSE false END,
	current_database()`

const redisAvailableSQL = `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pglinks_redis')`

// availabilityMaxAge is how long whether a server has pglinks_redis is
// kept: it changes when someone installs a package, and reading the
// extension directory is the costliest catalog read there is.
const availabilityMaxAge = 5 * time.Minute

// availability remembers, per database, whether pglinks_redis was
// available there and when that was read.
type availability struct {
	mu sync.Mutex
	m  map[string]availableAt
}

type availableAt struct {
	ok bool
	at time.Time
}

func (a *availability) get(key string) (ok, found bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	v, found := a.m[key]
	if !found || time.Since(v.at) >= availabilityMaxAge {
		return false, false
	}
	return v.ok, true
}

func (a *availability) put(key string, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string]availableAt{}
	}
	a.m[key] = availableAt{ok: ok, at: time.Now()}
}

// forget drops what is known of key (after pglinks installed the
// extension there, say).
func (a *availability) forget(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.m, key)
}

// readRedisSupport reads whether Redis links can be made in d, a
// PostgreSQL database, when the fleet has a Redis (nil otherwise, and
// when the catalog could not be read).
func (s *Service) readRedisSupport(ctx context.Context, conn *pgx.Conn, d *fleet.Database, sup Support) *RedisSupport {
	if !s.Fleet.HasRedis() {
		return nil
	}
	rs, err := s.checkRedisSupport(ctx, conn, d, sup)
	if err != nil {
		s.Log.Warn("reading pglinks_redis support", "database", d.ConfigVar, "err", err)
		return nil
	}
	return &rs
}

// checkRedisSupport reads whether Redis links can be made in d over q.
func (s *Service) checkRedisSupport(ctx context.Context, q rowQuerier, d *fleet.Database, sup Support) (RedisSupport, error) {
	var installed, usage bool
	var db string
	if err := q.QueryRow(ctx, redisSupportSQL).Scan(&installed, &usage, &db); err != nil {
		return RedisSupport{}, fmt.Errorf("links: pglinks_redis support: %w", err)
	}
	available := installed
	if !installed {
		// The server's extension directory: one answer per server.
		key := d.HostPort()
		if a, ok := s.redisAvail.get(key); ok {
			available = a
		} else {
			if err := q.QueryRow(ctx, redisAvailableSQL).Scan(&available); err != nil {
				return RedisSupport{}, fmt.Errorf("links: pglinks_redis available: %w", err)
			}
			s.redisAvail.put(key, available)
		}
	}
	return redisSupportOf(db, sup.Role, sup.Superuser, installed, available, usage, sup.Major()), nil
}
