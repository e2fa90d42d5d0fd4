package views

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
)

// RedisForm is the create form's choices for a Redis remote: which keys
// become which tables, and whether writes go through.
type RedisForm struct {
	// Tables as posted; nil before any were (the default is offered).
	Tables   []links.RedisTable
	Writable bool
}

// Rows are the table rows the form shows: the chosen tables (or the
// default) and an empty row for one more.
func (r RedisForm) Rows() []links.RedisTable {
	rows := r.Tables
	if rows == nil {
		rows = links.DefaultRedisTables()
	}
	return append(append([]links.RedisTable{}, rows...), links.RedisTable{Type: "string"})
}

// RemoteIsRedis reports whether the chosen remote is a Redis.
func (f CreateForm) RemoteIsRedis() bool {
	for _, d := range f.Remotes {
		if d.ConfigVar == f.Remote {
			return d.Redis
		}
	}
	return false
}

// redisFacts is what a Redis said of itself, in one line: "Redis 7.0.15
// (standalone), 26 keys, 0.4 ms".
func redisFacts(info *fleet.RedisInfo) string {
	if info == nil {
		return ""
	}
	v := "Redis"
	if info.Version != "" {
		v += " " + info.Version
	}
	if info.Mode != "" {
		v += " (" + info.Mode + ")"
	}
	return fmt.Sprintf("%s, %s, %s", v, plural(int(min(info.Keys, 1<<31-1)), "key", "keys"), millis(info.Latency))
}

// redisBadge is a Redis card's kind badge: "Redis 7.0.15".
func redisBadge(info *fleet.RedisInfo) string {
	if info == nil || info.Version == "" {
		return "Redis"
	}
	return "Redis " + info.Version
}

func redisVersion(info *fleet.RedisInfo) string {
	if info == nil || info.Version == "" {
		return "unknown"
	}
	if info.Mode != "" && info.Mode != "standalone" {
		return info.Version + " (" + info.Mode + ")"
	}
	return info.Version
}

func keyCount(info *fleet.RedisInfo) string {
	if info == nil {
		return "unknown"
	}
	return strconv.FormatInt(info.Keys, 10)
}

// latency is a Redis round trip: loopback ones take microseconds.
func latency(d time.Duration) string {
	if d < 100*time.Microsecond {
		return "under 0.1 ms"
	}
	return millis(d)
}

// redisTypeOption is a type as the form offers it: "strings: key, value".
func redisTypeOption(words, columns string) string {
	var names []string
	for _, c := range strings.Split(columns, ", ") {
		name, _, _ := strings.Cut(c, " ")
		names = append(names, name)
	}
	return words + ": " + strings.Join(names, ", ")
}

// redisTLS says how a Redis is reached.
func redisTLS(d *fleet.Database) string {
	switch {
	case d.Redis == nil || !d.Redis.TLS:
		return "no TLS (redis://)"
	case !d.Redis.TLSVerify:
		return "TLS, certificate not verified (tls_verify=false)"
	case d.Redis.CAFile != "":
		return "TLS, certificate verified against tls_ca_file"
	}
	return "TLS, certificate verified against the system's CAs"
}

// redisLinkTarget is where a Redis link's server points.
func redisLinkTarget(l *links.Link) string {
	s := l.Host + ":" + l.Port + " db " + l.DBName
	if l.TLS {
		s += ", TLS"
	}
	return s
}

// redisKeys is a Redis link table's keys in words.
func redisKeys(t links.ForeignTable) string {
	if t.KeyPrefix == "" {
		return "every key"
	}
	return "keys starting with " + strconv.Quote(t.KeyPrefix)
}

// redisExampleKey is a key to show in a Redis link page's example query.
func redisExampleKey(t links.ForeignTable) string {
	return t.KeyPrefix + "…"
}

// redisTypeWords is a type in words: "strings", "sorted sets".
func redisTypeWords(typ string) string {
	for _, t := range links.RedisTypes {
		if t.Type == typ {
			return t.Words
		}
	}
	return typ
}
