package main

import (
	"context"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/pgtest"
)

const cliRedisPassword = "cli-Redis-Secret-7"

// A Redis link from a terminal, as from its form: tables by key type and
// prefix, writable or not; shown, probed and destroyed as any link; drift
// and imports refused as not applying; the Redis' password never printed.
func TestCLIRedisLink(t *testing.T) {
	t.Parallel()
	e := newCLIEnvWith(t, true)
	ctx := context.Background()
	for _, kv := range [][]string{{"widget:1", "101"}, {"widget:2", "102"}} {
		if _, err := e.redis.Do(ctx, "SET", kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	noSecret := func(r cliRun) cliRun {
		t.Helper()
		if strings.Contains(r.out+r.err, cliRedisPassword) {
			t.Fatalf("the Redis password was printed:\n%s\n%s", r.out, r.err)
		}
		return r
	}
	create := []string{"links:create", "REDIS_URL", "DATABASE_URL", "--as", "counters", "--redis-table", "widgets:string:widget:", "--redis-table", "people:hash:person:", "--writable"}
	e.asAdmin(t, "links:create", "REDIS_URL", "DATABASE_URL", "--redis-table", "widgets").want(t, 2, "stderr", "--redis-table takes NAME:TYPE[:PREFIX]")
	noSecret(e.asAdmin(t, append(create, "--dry-run")...)).want(t, 0, "stdout", "would run (passwords masked", "FOREIGN DATA WRAPPER pglinks_redis", "writable 'true'", "'widget:'", "'person:'")
	if n := pgtest.MustQueryInt(t, e.local.URL, "SELECT count(*) FROM pg_foreign_server"); n != 0 {
		t.Fatal("the dry run made the link")
	}
	noSecret(e.asAdmin(t, create...)).want(t, 0, "stdout", "Adding link counters from REDIS_URL to DATABASE_URL... done, 2 foreign tables")
	if got := pgtest.MustQueryString(t, e.local.URL, `SELECT string_agg(value, ',' ORDER BY key) FROM counters.widgets`); got != "101,102" {
		t.Fatalf("reading the Redis through the link: %q", got)
	}

	noSecret(e.asAdmin(t, "links:info", "DATABASE_URL", "counters")).want(t, 0, "stdout", "remote:      REDIS_URL (", "kind:        redis\n", "tables:      2\n", "read_only:   false\n",
		"\ncounters.widgets (redis string, keys starting with \"widget:\")\n  key:   text", "\ncounters.people (redis hash, keys starting with \"person:\")\n")
	noSecret(e.asAdmin(t, "links")).want(t, 0, "stdout", "*  counters\n", "=== REDIS_URL (")
	e.asAdmin(t, "links:check", "DATABASE_URL", "counters").want(t, 0, "stdout", "Checking link counters in DATABASE_URL... healthy (")
	e.asAdmin(t, "links:refresh", "DATABASE_URL", "counters", "--confirm", "counters").want(t, 1, "stderr", "does not apply to link counters")
	e.asAdmin(t, "links:import", "DATABASE_URL", "counters").want(t, 1, "stderr", "does not apply to link counters")
	r := noSecret(e.asAdmin(t, "links:destroy", "DATABASE_URL", "counters", "--confirm", "counters"))
	r.want(t, 0, "stdout", "Deleting link counters in DATABASE_URL... done")
	if n := pgtest.MustQueryInt(t, e.local.URL, "SELECT count(*) FROM pg_foreign_server"); n != 0 {
		t.Fatal("not destroyed")
	}
}
