package fleet

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"hash/fnv"
	"io"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/pglinks/pglinks/internal/errs"
)

// A fleet member is a PostgreSQL database or a Redis. A Redis is only
// ever the remote of a link (pglinks_redis in a PostgreSQL database reads
// it); every PostgreSQL-only path (pools, catalogs, replication) skips it.

// Kind is what a fleet member is.
type Kind string

const (
	KindPostgres Kind = "" // the zero value: every member made before Redis
	KindRedis    Kind = "redis"
)

// IsRedis reports whether d is a Redis.
func (d *Database) IsRedis() bool { return d.Kind == KindRedis }

// KindLabel is the kind in words, for cards and lists.
func (d *Database) KindLabel() string {
	if d.IsRedis() {
		return "Redis"
	}
	return "PostgreSQL"
}

// RedisConfig is where and how pglinks (and a link's foreign server)
// reach a Redis: from a redis:// or rediss:// URL,
//
//	rediss://[USER]:PASSWORD@HOST:PORT/DB?tls_ca_file=/path/ca.pem
//	rediss://:PASSWORD@HOST:PORT?tls_verify=false
//
// A rediss:// URL verifies the server's certificate and name against the
// system's CAs, or those of tls_ca_file (PEM, read once at start); the
// option tls_verify=false turns verification off, for a test server with
// a self-signed certificate (Heroku Redis' are self-signed too).
type RedisConfig struct {
	DB  int  // the database number (SELECT)
	TLS bool // rediss://
	// TLSVerify is false only when the URL says tls_verify=false.
	TLSVerify bool
	// CAFile and CAPEM are the URL's tls_ca_file and its contents.
	CAFile, CAPEM string

	tls *tls.Config
}

// TLSConfig is the client TLS configuration for d; nil without TLS.
func (c *RedisConfig) TLSConfig() *tls.Config {
	if c == nil || c.tls == nil {
		return nil
	}
	return c.tls.Clone()
}

// maxCAFile bounds a tls_ca_file: a few certificates, not a disk image.
const maxCAFile = 1 << 20

// redisVars are REDIS_URL and the HEROKU_REDIS_<NAME>_URL variables of
// env, in that order (sorted).
func redisVars(env map[string]string) []string {
	var out, heroku []string
	if _, ok := env["REDIS_URL"]; ok {
		out = append(out, "REDIS_URL")
	}
	for k := range env {
		if isHerokuRedisVar(k) {
			heroku = append(heroku, k)
		}
	}
	sort.Strings(heroku)
	return append(out, heroku...)
}

func isHerokuRedisVar(k string) bool {
	return strings.HasPrefix(k, "HEROKU_REDIS_") && strings.HasSuffix(k, "_URL") && len(k) > len("HEROKU_REDIS__URL")
}

// isRedisURL reports whether raw is a redis:// or rediss:// URL.
func isRedisURL(raw string) bool {
	scheme, _, ok := strings.Cut(raw, "://")
	scheme = strings.ToLower(scheme)
	return ok && (scheme == "redis" || scheme == "rediss")
}

// parseMember reads one config var: a Redis when its name or its URL says
// so, else a PostgreSQL database.
func parseMember(configVar, raw string) *Database {
	if configVar == "REDIS_URL" || isHerokuRedisVar(configVar) || isRedisURL(raw) {
		return parseRedis(configVar, raw)
	}
	return parseDatabase(configVar, raw)
}

func parseRedis(configVar, raw string) *Database {
	d := &Database{ConfigVar: configVar, Kind: KindRedis, url: raw, Redis: &RedisConfig{TLSVerify: true}}
	bad := func(format string, args ...any) *Database {
		d.ConfigErr = fmt.Errorf(format, args...)
		if d.ResourceName == "" {
			d.ResourceName = defaultRedisResourceName(configVar)
		}
		return d
	}
	u, err := url.Parse(raw)
	if err != nil || !isRedisURL(raw) {
		// url.Parse errors quote the input, password included: never keep them.
		d.url = ""
		return bad("%s does not hold a redis:// or rediss:// URL", configVar)
	}
	d.masked = MaskURLs(raw)
	d.Redis.TLS = strings.EqualFold(u.Scheme, "rediss")
	d.Host, d.Port = u.Hostname(), u.Port()
	if d.Host == "" {
		d.Host = "localhost"
	}
	if d.Port == "" {
		d.Port = "6379"
	}
	d.ResourceName = defaultRedisResourceName(d.Host + ":" + d.Port + u.Path)
	if strings.Contains(u.Host, ",") {
		return bad("%s lists several hosts; pglinks needs one", configVar)
	}
	if p, err := strconv.Atoi(d.Port); err != nil || p < 1 || p > 65535 {
		return bad("%s has no valid port", configVar)
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 || n > 1<<20 {
			return bad("%s names database %q: a Redis database is a number (0 to 15 by default)", configVar, db)
		}
		d.Redis.DB = n
	}
	d.DBName = strconv.Itoa(d.Redis.DB)
	if u.User != nil {
		d.User = u.User.Username()
		d.password, _ = u.User.Password()
	}
	if d.User != "" && d.password == "" {
		return bad("%s names the user %s without a password", configVar, d.User)
	}
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "tls_verify":
			verify, err := strconv.ParseBool(v)
			if err != nil {
				return bad("%s: tls_verify is true or false, not %q", configVar, v)
			}
			d.Redis.TLSVerify = verify
		case "tls_ca_file":
			d.Redis.CAFile = v
		default:
			return bad("%s has the option %q; pglinks knows tls_ca_file and tls_verify", configVar, k)
		}
	}
	if !d.Redis.TLS && (d.Redis.CAFile != "" || !d.Redis.TLSVerify) {
		return bad("%s sets TLS options on a redis:// URL: TLS needs rediss://", configVar)
	}
	if !d.Redis.TLS {
		return d
	}
	// An IP address as ServerName is verified against the certificate's
	// IP addresses and not sent as SNI.
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: d.Host}
	if d.Redis.CAFile != "" {
		pem, err := readCAFile(d.Redis.CAFile)
		if err != nil {
			return bad("%s: tls_ca_file: %v", configVar, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return bad("%s: tls_ca_file %s holds no PEM certificate", configVar, d.Redis.CAFile)
		}
		d.Redis.CAPEM = string(pem)
		cfg.RootCAs = pool
	}
	if !d.Redis.TLSVerify {
		cfg.InsecureSkipVerify = true
	}
	d.Redis.tls = cfg
	return d
}

func readCAFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCAFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxCAFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxCAFile)
	}
	return b, nil
}

// defaultRedisResourceName is a stable Heroku-style name for a Redis
// ("redis-shiny-12345"), derived from where it lives.
func defaultRedisResourceName(key string) string {
	h := fnv.New32a()
	h.Write([]byte(key))
	sum := h.Sum32()
	return fmt.Sprintf("redis-%s-%05d", resourceWords[sum%uint32(len(resourceWords))], (sum/32)%100000)
}

// PostgresDatabases are the fleet's PostgreSQL databases, in fleet order:
// what every PostgreSQL-only read (replication, catalogs) walks.
func (f *Fleet) PostgresDatabases() []*Database {
	out := make([]*Database, 0, len(f.Databases))
	for _, d := range f.Databases {
		if !d.IsRedis() {
			out = append(out, d)
		}
	}
	return out
}

// HasRedis reports whether the fleet has a Redis.
func (f *Fleet) HasRedis() bool {
	for _, d := range f.Databases {
		if d.IsRedis() {
			return true
		}
	}
	return false
}

// notPostgres refuses a PostgreSQL connection to a Redis.
func notPostgres(d *Database) error {
	return errs.E(errs.Invalid, "%s (%s) is a Redis, not a PostgreSQL database.", d.ConfigVar, d.ResourceName)
}
