package fleet

import (
	"strings"
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
	if v != "" && !strings.ContainsAny(v, ` '\`) {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// shQuote quotes a string for a POSIX shell.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func pgpassEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(s)
}
