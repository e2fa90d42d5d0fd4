package fleet

import (
	"fmt"
	"hash/fnv"
	"net"
	"net/url"
	"sort"
	"strings"

	"github.com/pglinks/pglinks/internal/errs"
)

// Database is one member of the fleet: a config var holding a postgres URL
// (or a redis URL: Kind, Redis) and a human resource name.
type Database struct {
	ConfigVar    string
	ResourceName string
	// Kind is KindRedis for a Redis (redis_database.go); "" is PostgreSQL.
	Kind Kind
	// Redis is how pglinks reaches a Redis; nil for PostgreSQL.
	Redis *RedisConfig

	url      string // full URL, with password: never log or render
	masked   string // MaskURLs(url), computed when the fleet is loaded
	Host     string
	Port     string
	DBName   string
	User     string
	password string
	SSLMode  string // explicit or defaulted; "" means libpq's default
	// ConfigErr is set when the config var does not hold a usable URL; the
	// database is still listed so the problem is visible.
	ConfigErr error
}

// MaskedURL is the URL with the password replaced by ***.
func (d *Database) MaskedURL() string {
	if d.masked != "" {
		return d.masked // every inventory card shows it: parsed once
	}
	return MaskURLs(d.url)
}

// Password is the password of the URL, for the few statements that must
// hand it on (a link's user mapping): never log or render it.
func (d *Database) Password() string { return d.password }

// HostPort is host:port for display.
func (d *Database) HostPort() string { return net.JoinHostPort(d.Host, d.Port) }

// ConnString is the URL pglinks connects with, with sslmode defaulted.
func (d *Database) ConnString() string {
	u, err := url.Parse(d.url)
	if err != nil {
		return d.url
	}
	q := u.Query()
	if q.Get("sslmode") == "" && d.SSLMode != "" {
		q.Set("sslmode", d.SSLMode)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Load reads the fleet from environment entries ("KEY=value"):
// DATABASE_URL, every HEROKU_POSTGRESQL_<NAME>_URL, REDIS_URL and every
// HEROKU_REDIS_<NAME>_URL, and every variable named in PGLINKS_DATABASES
// (comma-separated; a redis:// or rediss:// URL there is a Redis).
// PGLINKS_RESOURCE_NAMES ("VAR=name,VAR2=name2") overrides the default
// resource names.
func Load(environ []string) (*Fleet, error) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	var vars []string
	seen := map[string]bool{}
	add := func(name string) {
		if name != "" && !seen[name] {
			seen[name] = true
			vars = append(vars, name)
		}
	}
	if _, ok := env["DATABASE_URL"]; ok {
		add("DATABASE_URL")
	}
	var heroku []string
	for k := range env {
		if strings.HasPrefix(k, "HEROKU_POSTGRESQL_") && strings.HasSuffix(k, "_URL") && len(k) > len("HEROKU_POSTGRESQL__URL") {
			heroku = append(heroku, k)
		}
	}
	sort.Strings(heroku)
	for _, k := range heroku {
		add(k)
	}
	for _, k := range redisVars(env) {
		add(k)
	}
	for _, k := range strings.Split(env["PGLINKS_DATABASES"], ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if !validConfigVar(k) {
			return nil, errs.E(errs.Invalid, "PGLINKS_DATABASES: %q is not an environment variable name", k)
		}
		if _, ok := env[k]; !ok {
			return nil, errs.E(errs.Invalid, "PGLINKS_DATABASES names %s, which is not set", k)
		}
		add(k)
	}
	names, err := parseResourceNames(env["PGLINKS_RESOURCE_NAMES"])
	if err != nil {
		return nil, err
	}
	var dbs []*Database
	for _, k := range vars {
		d := parseMember(k, env[k])
		if n, ok := names[k]; ok {
			d.ResourceName = n
		}
		dbs = append(dbs, d)
	}
	return New(dbs), nil
}

func validConfigVar(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r == '_':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func parseResourceNames(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || !validConfigVar(k) || v == "" || len(v) > 100 {
			return nil, errs.E(errs.Invalid, "PGLINKS_RESOURCE_NAMES: want VAR=name pairs separated by commas, got %q", pair)
		}
		out[k] = v
	}
	return out, nil
}

func parseDatabase(configVar, raw string) *Database {
	d := &Database{ConfigVar: configVar, url: raw}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// url.Parse errors quote the input, password included: never keep them.
		d.ConfigErr = fmt.Errorf("%s does not hold a postgres:// URL", configVar)
		d.url = ""
		d.ResourceName = defaultResourceName(configVar)
		return d
	}
	d.masked = MaskURLs(raw)
	q := u.Query()
	d.Host = u.Hostname()
	if h := q.Get("host"); h != "" {
		d.Host = h
	}
	if strings.Contains(u.Host, ",") {
		d.ConfigErr = fmt.Errorf("%s lists several hosts; pglinks needs one", configVar)
	}
	d.Port = u.Port()
	if p := q.Get("port"); p != "" {
		d.Port = p
	}
	if d.Port == "" {
		d.Port = "5432"
	}
	if d.Host == "" {
		d.Host = "localhost"
	}
	d.DBName = strings.TrimPrefix(u.Path, "/")
	if d.DBName == "" {
		d.DBName = q.Get("dbname")
	}
	if u.User != nil {
		d.User = u.User.Username()
		d.password, _ = u.User.Password()
	}
	if d.User == "" {
		d.User = q.Get("user")
	}
	if d.password == "" {
		d.password = q.Get("password")
	}
	if d.DBName == "" {
		d.DBName = d.User
	}
	d.SSLMode = q.Get("sslmode")
	if d.SSLMode == "" && !isLoopback(d.Host) {
		d.SSLMode = "require"
	}
	if d.ConfigErr == nil && d.User == "" {
		d.ConfigErr = fmt.Errorf("%s has no user name", configVar)
	}
	d.ResourceName = defaultResourceName(d.Host + ":" + d.Port + "/" + d.DBName)
	return d
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasPrefix(host, "/") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var resourceWords = []string{
	"amber", "animate", "brisk", "calm", "colorful", "crisp", "deep", "dusty",
	"eager", "fluid", "gentle", "graceful", "humble", "lively", "lucid", "mellow",
	"nimble", "opaque", "polished", "quiet", "rigid", "round", "shiny", "silent",
	"solid", "spherical", "steady", "sunny", "tidy", "vivid", "warm", "windy",
}

// defaultResourceName derives a stable Heroku-style name
// ("postgresql-colorful-33594") from where the database lives, so it stays
// the same across restarts and config var renames.
func defaultResourceName(key string) string {
	h := fnv.New32a()
	h.Write([]byte(key))
	sum := h.Sum32()
	return fmt.Sprintf("postgresql-%s-%05d", resourceWords[sum%uint32(len(resourceWords))], (sum/32)%100000)
}
