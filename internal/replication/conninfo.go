package replication

import (
	"net/url"
	"strings"
)

// parseConnInfo reads host, port, dbname and user from a libpq connection
// string (keyword=value or URI form). The password is never kept. Missing
// values take libpq's defaults where they are known (port 5432).
func parseConnInfo(s string) Endpoint {
	s = strings.TrimSpace(s)
	var e Endpoint
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		u, err := url.Parse(s)
		if err != nil {
			return e
		}
		e.Host, e.Port = u.Hostname(), u.Port()
		e.DBName = strings.TrimPrefix(u.Path, "/")
		if u.User != nil {
			e.User = u.User.Username()
		}
		q := u.Query()
		for k, dst := range map[string]*string{"host": &e.Host, "port": &e.Port, "dbname": &e.DBName, "user": &e.User} {
			if v := q.Get(k); v != "" {
				*dst = v
			}
		}
	} else {
		kv := parseKeywords(s)
		e.Host, e.Port, e.DBName, e.User = kv["host"], kv["port"], kv["dbname"], kv["user"]
		if e.Host == "" {
			e.Host = kv["hostaddr"]
		}
	}
	// A list of hosts: the first is the one matched and shown.
	e.Host, _, _ = strings.Cut(e.Host, ",")
	e.Port, _, _ = strings.Cut(e.Port, ",")
	if e.Port == "" {
		e.Port = "5432"
	}
	if e.DBName == "" {
		e.DBName = e.User
	}
	return e
}

// parseKeywords splits keyword=value pairs; values may be single-quoted
// with backslash escapes.
func parseKeywords(s string) map[string]string {
	out := map[string]string{}
	i := 0
	for i < len(s) {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) || s[i] != '=' {
			return out
		}
		i++
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		var val strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			for i < len(s) && s[i] != '\'' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
				i++
			}
			i++ // closing quote
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
				i++
			}
		}
		out[key] = val.String()
	}
	return out
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }
