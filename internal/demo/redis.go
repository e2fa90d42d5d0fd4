package demo

import (
	"context"
	"fmt"
	"strconv"

	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/redistest"
)

// The demo's Redis: Debian's redis-server, TLS only, with a password and a
// certificate signed by a CA made for the run (internal/redistest), holding
// a counter per widget of shop (widget:N) and a few hashes. REDIS_URL
// trusts that CA through tls_ca_file, and the demo links the Redis into
// shop as hredis, so seed 004's join runs there verbatim.
const (
	RedisVar      = "REDIS_URL"
	RedisResource = "redis-cubed-58211"
	// RedisLink is the demo's Redis link, in RedisLinkLocal (shop, on the
	// first cluster: Debian's PostgreSQL, where pglinks_redis is installed).
	RedisLink      = "hredis"
	RedisLinkLocal = "DATABASE_URL"
	// SeedJoin is seed 004's query, verbatim.
	SeedJoin = "SELECT w.id, w.name, w.stock, r.value AS my_counter FROM widgets w JOIN hredis.redis r ON r.key = CONCAT('widget:', w.id) ORDER BY r.value DESC;"
	// Widgets is how many widgets shop has, each with a counter in Redis.
	Widgets = 25
)

// WidgetCounter is widget n's counter: three digits, so that ordering the
// values as text (the join orders by r.value, a text column) is ordering
// them as numbers.
func WidgetCounter(n int) int { return 100 + (n*389)%900 }

// startRedis starts the demo's Redis, seeds it, and adds REDIS_URL.
func startRedis(ctx context.Context, env *Env) error {
	password := pgtest.RandomToken(16)
	s, err := redistest.Start(ctx, redistest.Options{TLS: true, Password: password})
	if err != nil {
		return fmt.Errorf("demo: redis-server: %w", err)
	}
	env.Redis = s
	var cmds [][]any
	for n := 1; n <= Widgets; n++ {
		cmds = append(cmds, []any{"SET", "widget:" + strconv.Itoa(n), strconv.Itoa(WidgetCounter(n))})
	}
	for _, c := range [][]any{
		{"HSET", "customer:1", "name", "Customer 1", "tier", "gold", "last_seen", "2026-11-30"},
		{"HSET", "customer:2", "name", "Customer 2", "tier", "silver", "last_seen", "2026-12-01"},
		{"HSET", "customer:3", "name", "Customer 3", "tier", "bronze", "last_seen", "2026-12-02"},
	} {
		cmds = append(cmds, c)
	}
	replies, err := s.Pipeline(ctx, cmds)
	if err != nil {
		return fmt.Errorf("demo: seed Redis: %w", err)
	}
	for _, r := range replies {
		if e, ok := r.(redistest.Error); ok {
			return fmt.Errorf("demo: seed Redis: %w", e)
		}
	}
	env.Vars[RedisVar] = "rediss://:" + password + "@127.0.0.1:" + strconv.Itoa(s.Port) + "/0?tls_ca_file=" + s.CAFile
	env.Vars["PGLINKS_RESOURCE_NAMES"] += "," + RedisVar + "=" + RedisResource
	return nil
}
