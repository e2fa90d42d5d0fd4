package links

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// RedisTable is one foreign table of a Redis link: the keys of one Redis
// type whose names start with KeyPrefix, as rows.
type RedisTable struct {
	Name      string // the foreign table, in the link's schema
	Type      string // string, hash, list, set or zset
	KeyPrefix string // "" for every key of the type
}

// RedisTypes are the Redis types a table can read, in the order forms
// offer them, with their columns (pglinks_redis' one layout per type).
var RedisTypes = []struct{ Type, Columns, Words string }{
	{"string", "key text, value text", "strings"},
	{"hash", "key text, field text, value text", "hashes"},
	{"list", "key text, index bigint, value text", "lists"},
	{"set", "key text, member text", "sets"},
	{"zset", "key text, member text, score float8", "sorted sets"},
}

// redisColumns is a type's column list; "" for a type there is not.
func redisColumns(typ string) string {
	for _, t := range RedisTypes {
		if t.Type == typ {
			return t.Columns
		}
	}
	return ""
}

// DefaultRedisTables are what a Redis link reads when no table is chosen:
// the seed's `redis` table, every string key (`key`, `value`).
func DefaultRedisTables() []RedisTable {
	return []RedisTable{{Name: "redis", Type: "string"}}
}

// Bounds of a Redis link's tables.
const (
	MaxRedisTables    = 20
	MaxRedisKeyPrefix = 256
)

// Describe is the table in words: "redis: strings, every key".
func (t RedisTable) Describe() string {
	words := t.Type
	for _, rt := range RedisTypes {
		if rt.Type == t.Type {
			words = rt.Words
		}
	}
	if t.KeyPrefix == "" {
		return fmt.Sprintf("%s: %s, every key", t.Name, words)
	}
	return fmt.Sprintf("%s: %s, keys starting with %q", t.Name, words, t.KeyPrefix)
}

// checkRedisTables validates a Redis link's tables (nil: the default).
func checkRedisTables(tables []RedisTable) ([]RedisTable, error) {
	if tables == nil {
		return DefaultRedisTables(), nil
	}
	bad := func(format string, args ...any) error {
		return errs.E(errs.Invalid, format, args...).OnField("redis_tables")
	}
	if len(tables) == 0 {
		return nil, bad("Choose at least one table for the link: a type of Redis keys and a table name.")
	}
	if len(tables) > MaxRedisTables {
		return nil, bad("A Redis link has at most %d tables (%d were given).", MaxRedisTables, len(tables))
	}
	seen := map[string]bool{}
	for _, t := range tables {
		if t.Name == "" {
			return nil, bad("Give each table a name.")
		}
		if len(t.Name) > fleet.MaxIdentLen || strings.Trim(t.Name, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" || t.Name[0] >= '0' && t.Name[0] <= '9' {
			return nil, bad("Table name %q: use lowercase letters, digits and underscores (not first), at most %d characters.", t.Name, fleet.MaxIdentLen)
		}
		if seen[t.Name] {
			return nil, bad("Two tables are named %q.", t.Name)
		}
		seen[t.Name] = true
		if redisColumns(t.Type) == "" {
			return nil, bad("Table %s: %q is not a Redis type pglinks_redis reads (string, hash, list, set, zset).", t.Name, t.Type)
		}
		if len(t.KeyPrefix) > MaxRedisKeyPrefix || !utf8.ValidString(t.KeyPrefix) || strings.IndexByte(t.KeyPrefix, 0) >= 0 {
			return nil, bad("Table %s: a key prefix is text of at most %d bytes.", t.Name, MaxRedisKeyPrefix)
		}
	}
	return tables, nil
}

// redisTableStatement creates one table of link name.
func redisTableStatement(name string, t RedisTable) (statement, error) {
	opts := [][2]string{{"type", t.Type}}
	if t.KeyPrefix != "" {
		opts = append(opts, [2]string{"key_prefix", t.KeyPrefix})
	}
	list, err := optionList(opts)
	if err != nil {
		return statement{}, errs.E(errs.Invalid, "Table %s: %v", t.Name, err).OnField("redis_tables")
	}
	return statement{sql: "CREATE FOREIGN TABLE " + fleet.Ident(name, t.Name) + " (" + redisColumns(t.Type) + ") SERVER " + fleet.Ident(name) + " OPTIONS (" + list + ")"}, nil
}
