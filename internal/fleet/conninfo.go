package fleet

import (
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/pglinks/pglinks/internal/errs"
)

// ConnectionInfo is how an outside client connects to a fleet database:
// the `heroku pg:credentials:url` equivalent without the secret. It holds
// no password; clients take it from the config var or a pgpass file.
type ConnectionInfo struct {
	ConfigVar, ResourceName string
	Host, Port, DBName      string
	User                    string
	// SSLMode is the effective sslmode: the URL's, else require for hosts
	// that are not loopback, else libpq's default (prefer).
	SSLMode string
	// KeywordValue is a libpq keyword/value connection string without a
	// password.
	KeywordValue string
	// PsqlFromVar runs psql with the URL read from the config var at start.
	PsqlFromVar string
	// PsqlPgpass runs psql with the keyword/value string; libpq reads the
	// password from ~/.pgpass (or $PGPASSFILE).
	PsqlPgpass string
	// PgpassLine is the line to put in a pgpass file, password left out.
	PgpassLine string
}

// ConnInfo describes how to connect to a fleet database from outside.
func (f *Fleet) ConnInfo(configVar string) (*ConnectionInfo, error) {
	d, err := f.Lookup(configVar)
	if err != nil {
		return nil, err
	}
	if d.IsRedis() {
		return nil, errs.E(errs.Invalid, "%s is a Redis: clients connect to it with the URL in its config var (redis-cli -u \"$%s\"). This page is for PostgreSQL databases.", d.ConfigVar, d.ConfigVar)
	}
	ci := &ConnectionInfo{
		ConfigVar: d.ConfigVar, ResourceName: d.ResourceName,
		Host: d.Host, Port: d.Port, DBName: d.DBName, User: d.User,
		SSLMode: d.SSLMode,
	}
	sslmode := d.SSLMode
	if sslmode == "" {
		ci.SSLMode = "prefer (libpq default; the host is loopback)"
	}
	kv := []string{"host=" + kvQuote(d.Host), "port=" + kvQuote(d.Port), "dbname=" + kvQuote(d.DBName), "user=" + kvQuote(d.User)}
	if sslmode != "" {
		kv = append(kv, "sslmode="+kvQuote(sslmode))
	}
	ci.KeywordValue = strings.Join(kv, " ")
	// PGSSLMODE applies only when the URL itself names no sslmode: the
	// config var stays as the platform manages it.
	env := ""
	if sslmode != "" {
		env = "PGSSLMODE=" + sslmode + " "
	}
	ci.PsqlFromVar = env + `psql "$` + d.ConfigVar + `"`
	ci.PsqlPgpass = "psql " + shQuote(ci.KeywordValue)
	ci.PgpassLine = pgpassEscape(d.Host) + ":" + pgpassEscape(d.Port) + ":" + pgpassEscape(d.DBName) + ":" + pgpassEscape(d.User) + ":YOUR_PASSWORD"
	return ci, nil
}

// kvQuote quotes a libpq keyword/value value when it needs it.
func kvQuote(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\r\f\v'\\") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// shQuote quotes a string for a POSIX shell.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func pgpassEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(s)
}

// LibpqConnInfo is the database's URL as a libpq keyword/value string, for
// a server that connects with libpq itself (a subscription's CONNECTION),
// and the same with the password masked. It reads the URL the way libpq
// does: query values are percent-decoded only ("+" stays a plus sign), so
// "application_name=odd%20pub" reaches the server as "odd pub", and values
// are quoted with libpq's rules. defaults are added where the URL has no
// such key (sslmode is defaulted as for pglinks' own connections).
func (d *Database) LibpqConnInfo(defaults map[string]string) (conninfo, masked string, err error) {
	if d.ConfigErr != nil || d.url == "" {
		return "", "", errors.New("no usable URL")
	}
	u, err := url.Parse(d.url)
	if err != nil {
		return "", "", errors.New("no usable URL") // its text quotes the password
	}
	var keys []string
	vals := map[string]string{}
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			keys = append(keys, k)
		}
		vals[k] = v
	}
	if h := u.Hostname(); h != "" {
		set("host", h)
	}
	if p := u.Port(); p != "" {
		set("port", p)
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		set("dbname", db)
	}
	if u.User != nil {
		set("user", u.User.Username())
		if pw, ok := u.User.Password(); ok {
			set("password", pw)
		}
	}
	// Query values override the parts above, as in libpq.
	for _, kv := range strings.Split(u.RawQuery, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, kerr := url.PathUnescape(k)
		v, verr := url.PathUnescape(v)
		if kerr != nil || verr != nil || k == "" {
			return "", "", errors.New("the URL's query is not valid percent-encoding")
		}
		set(k, v)
	}
	if _, ok := vals["sslmode"]; !ok && d.SSLMode != "" {
		set("sslmode", d.SSLMode)
	}
	for _, k := range sortedKeys(defaults) {
		if _, ok := vals[k]; !ok {
			set(k, defaults[k])
		}
	}
	var plain, hidden []string
	for _, k := range keys {
		v := vals[k]
		if strings.IndexByte(v, 0) >= 0 || strings.IndexByte(k, 0) >= 0 {
			return "", "", errors.New("the URL holds a NUL byte, which libpq cannot take")
		}
		plain = append(plain, k+"="+kvQuote(v))
		if k == "password" {
			v = "***"
		}
		hidden = append(hidden, k+"="+kvQuote(v))
	}
	return strings.Join(plain, " "), strings.Join(hidden, " "), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
