package links

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/redistest"
)

// seedJoin is seed 004's query, verbatim.
const seedJoin = `SELECT w.id, w.name, w.stock, r.value AS my_counter FROM widgets w JOIN hredis.redis r ON r.key = CONCAT('widget:', w.id) ORDER BY r.value DESC`

const redisPassword = "redis-Secret-42"

// redisFixture is a local database with pglinks_redis installed (as an
// admin does) and widgets, a Redis with widget counters and a hash, and a
// Service over DATABASE_URL=local, REDIS_URL=the Redis.
type redisFixture struct {
	svc   *Service
	local *pgtest.Database
	redis *redistest.Server
	url   string // REDIS_URL
}

func startRedis(t testing.TB, opts redistest.Options) *redistest.Server {
	t.Helper()
	s, err := redistest.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// redisURL is the URL of s for the fleet: rediss:// with its CA trusted
// for a TLS server.
func redisURL(s *redistest.Server, password string) string {
	u := "redis://:" + password + "@127.0.0.1:" + strconv.Itoa(s.Port) + "/0"
	if s.TLS {
		u = "rediss://:" + password + "@127.0.0.1:" + strconv.Itoa(s.Port) + "/0?tls_ca_file=" + s.CAFile
	}
	return u
}

func newRedisFixture(t *testing.T, tls bool, opts pgtest.DBOptions) *redisFixture {
	t.Helper()
	f := &redisFixture{local: newDB(t, clusterA, "rlocal", opts)}
	f.redis = startRedis(t, redistest.Options{TLS: tls, Password: redisPassword})
	f.url = redisURL(f.redis, redisPassword)
	execAs(t, f.local.URL, `CREATE TABLE widgets (id int PRIMARY KEY, name text NOT NULL, stock int NOT NULL);
		INSERT INTO widgets SELECT g, 'Widget ' || g, g * 3 FROM generate_series(1, 25) g`)
	var cmds [][]any
	for i := 1; i <= 25; i++ {
		cmds = append(cmds, []any{"SET", "widget:" + strconv.Itoa(i), strconv.Itoa(100 + i*7)})
	}
	cmds = append(cmds, []any{"HSET", "customer:1", "name", "Ada", "tier", "gold"})
	if _, err := f.redis.Pipeline(context.Background(), cmds); err != nil {
		t.Fatal(err)
	}
	f.svc = newService(t, []string{"DATABASE_URL=" + f.local.URL, "REDIS_URL=" + f.url})
	return f
}

func TestRedisLinkCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newRedisFixture(t, true, pgtest.DBOptions{Redis: true})
	req := CreateRequest{RemoteVar: "REDIS_URL", LocalVar: "DATABASE_URL", Name: "hredis", Actor: "test"}

	p, err := f.svc.PreviewCreate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	sql := strings.Join(p.Statements, ";\n")
	for _, want := range []string{
		"CREATE SERVER \"hredis\" FOREIGN DATA WRAPPER pglinks_redis OPTIONS (host '127.0.0.1', port '" + strconv.Itoa(f.redis.Port) + "', db '0', tls 'true', tls_ca '-----BEGIN CERTIFICATE-----",
		"connect_timeout '5'",
		"CREATE USER MAPPING FOR CURRENT_USER SERVER \"hredis\" OPTIONS (password '***')",
		"CREATE SCHEMA \"hredis\"",
		`CREATE FOREIGN TABLE "hredis"."redis" (key text, value text) SERVER "hredis" OPTIONS (type 'string')`,
	} {
		if !strings.Contains(sql, want) {
			t.Errorf("preview lacks %q:\n%s", want, sql)
		}
	}
	if strings.Contains(sql, redisPassword) || strings.Contains(sql, "writable") || strings.Contains(sql, "CREATE EXTENSION") {
		t.Errorf("preview:\n%s", sql)
	}
	if p.Redis == nil || p.Redis.Version == "" || p.Redis.Keys != 26 {
		t.Errorf("pre-flight facts %+v", p.Redis)
	}
	if len(p.Tables) != 1 || p.Tables[0] != "redis: strings, every key" {
		t.Errorf("tables %q", p.Tables)
	}
	assertNothingLeft(t, f.local.URL, "hredis")

	req.Token = p.Token
	res, err := f.svc.CreateLink(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Tables != 1 || !res.Link.IsRedis() || !res.Link.TLS || !res.Link.ReadOnly || res.Link.DBName != "0" || res.Link.Port != strconv.Itoa(f.redis.Port) {
		t.Fatalf("result %+v", res.Link)
	}
	if ddl := strings.Join(res.DDL, ";"); strings.Contains(ddl, redisPassword) || ddl != strings.Join(p.Statements, ";") {
		t.Fatalf("DDL is not the preview's, masked:\n%s", ddl)
	}
	// The seed's join, verbatim, as the database's own role.
	rows := pgtest.MustQueryString(t, f.local.URL, "SELECT string_agg(id || '=' || my_counter, ',') FROM ("+seedJoin+") j")
	if !strings.HasPrefix(rows, "25=275,24=268,") || strings.Count(rows, "=") != 25 {
		t.Fatalf("the seed's join through the link: %s", rows)
	}
	recs, err := f.svc.Registry.Links(ctx, "DATABASE_URL")
	if err != nil || len(recs) != 1 || recs[0].Kind != fleet.KindRedis || !recs[0].ReadOnly {
		t.Fatalf("records %+v, %v", recs, err)
	}
	st := mustStatus(t, f.svc, "DATABASE_URL")
	if len(st.Links) != 1 || !st.Links[0].IsRedis() || st.Links[0].TableCount != 1 || st.Links[0].RemoteConfigVar != "REDIS_URL" {
		t.Fatalf("inventory links %+v", st.Links)
	}
	if st.RedisSupport == nil || !st.RedisSupport.OK || st.Links[0].Stale.Stale() {
		t.Fatalf("support %+v, stale %+v", st.RedisSupport, st.Links[0].Stale)
	}
	card := mustStatus(t, f.svc, "REDIS_URL")
	if !card.Reachable || card.Redis == nil || card.Redis.Keys != 26 || card.Redis.Mode != "standalone" || !strings.HasPrefix(card.DB.ResourceName, "redis-") {
		t.Fatalf("Redis card %+v %+v", card, card.Redis)
	}
	l, page, err := f.svc.LinkPage(ctx, "DATABASE_URL", "hredis", "", 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Tables) != 1 || page.Tables[0].RedisType != "string" || page.Tables[0].KeyPrefix != "" || len(page.Tables[0].Columns) != 2 || l.Stale.Stale() {
		t.Fatalf("link page %+v %+v", l, page.Tables)
	}
	h, err := f.svc.ProbeLink(ctx, "DATABASE_URL", "hredis")
	if err != nil || h.State != HealthHealthy || h.Redis == nil || h.Redis.Keys != 26 || h.RTT <= 0 {
		t.Fatalf("probe %+v %v", h, err)
	}

	t.Run("ErrNameTaken", func(t *testing.T) {
		_, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "REDIS_URL", LocalVar: "DATABASE_URL", Name: "hredis"})
		if !errs.Is(err, errs.Conflict) || errs.FieldOf(err) != "name" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("DefaultName", func(t *testing.T) {
		res, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "REDIS_URL", LocalVar: "DATABASE_URL"})
		if err != nil {
			t.Fatal(err)
		}
		d, _ := f.svc.Fleet.Get("REDIS_URL")
		if want := DefaultName(d.ResourceName, "", nil); res.Link.Name != want || strings.HasPrefix(want, "redis") {
			t.Fatalf("name %q, want %q", res.Link.Name, want)
		}
	})
	t.Run("ErrRedisAsLocal", func(t *testing.T) {
		_, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "DATABASE_URL", LocalVar: "REDIS_URL", Name: "x"})
		if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "local" || !strings.Contains(errs.MessageOf(err), "is a Redis") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("DriftDoesNotApply", func(t *testing.T) {
		_, err := f.svc.LinkDrift(ctx, "DATABASE_URL", "hredis")
		if !errs.Is(err, errs.Invalid) || !strings.Contains(errs.MessageOf(err), "does not apply") {
			t.Fatalf("drift: %v", err)
		}
		if _, err := f.svc.PlanRefresh(ctx, "DATABASE_URL", "hredis"); !errs.Is(err, errs.Invalid) || !strings.Contains(errs.MessageOf(err), "does not apply") {
			t.Fatalf("refresh: %v", err)
		}
		if _, err := f.svc.PlanImport(ctx, "DATABASE_URL", "hredis", []string{"x"}); !errs.Is(err, errs.Invalid) || !strings.Contains(errs.MessageOf(err), "does not apply") {
			t.Fatalf("import: %v", err)
		}
	})
}

// Tables of other types and prefixes, and writes when (only when) asked
// for.
func TestRedisLinkTables(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newRedisFixture(t, false, pgtest.DBOptions{Redis: true})
	res, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "REDIS_URL", LocalVar: "DATABASE_URL", Name: "cache", Writable: true,
		RedisTables: []RedisTable{{Name: "counters", Type: "string", KeyPrefix: "widget:"}, {Name: "customers", Type: "hash", KeyPrefix: "customer:"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tables != 2 || res.Link.ReadOnly || res.Link.TLS {
		t.Fatalf("result %+v", res.Link)
	}
	if ddl := strings.Join(res.DDL, ";"); !strings.Contains(ddl, "writable 'true'") || !strings.Contains(ddl, `CREATE FOREIGN TABLE "cache"."customers" (key text, field text, value text) SERVER "cache" OPTIONS (type 'hash', key_prefix 'customer:')`) {
		t.Fatalf("DDL:\n%s", ddl)
	}
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM cache.counters"); n != 25 {
		t.Fatalf("counters: %d rows", n)
	}
	if v := pgtest.MustQueryString(t, f.local.URL, "SELECT value FROM cache.customers WHERE key = 'customer:1' AND field = 'tier'"); v != "gold" {
		t.Fatalf("hash field: %q", v)
	}
	execAs(t, f.local.URL, "INSERT INTO cache.counters VALUES ('widget:99', '1')")
	if v, err := f.redis.Do(ctx, "GET", "widget:99"); err != nil || v != "1" {
		t.Fatalf("write through a writable link: %v %v", v, err)
	}

	ro, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "REDIS_URL", LocalVar: "DATABASE_URL", Name: "ro"})
	if err != nil {
		t.Fatal(err)
	}
	if !ro.Link.ReadOnly {
		t.Fatal("a Redis link is read-only by default")
	}
	if err := execErr(f.local.URL, "INSERT INTO ro.redis VALUES ('widget:98', '1')"); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("insert through a read-only link: %v", err)
	}

	for _, tc := range []struct {
		tables []RedisTable
		want   string
	}{
		{[]RedisTable{}, "at least one table"},
		{[]RedisTable{{Name: "Bad", Type: "string"}}, "lowercase letters"},
		{[]RedisTable{{Name: "a", Type: "stream"}}, "not a Redis type"},
		{[]RedisTable{{Name: "a", Type: "string"}, {Name: "a", Type: "hash"}}, "Two tables"},
		{[]RedisTable{{Name: "a", Type: "string", KeyPrefix: "x\x00"}}, "key prefix"},
	} {
		_, err := f.svc.PreviewCreate(ctx, CreateRequest{RemoteVar: "REDIS_URL", LocalVar: "DATABASE_URL", Name: "bad", RedisTables: tc.tables})
		if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "redis_tables" || !strings.Contains(errs.MessageOf(err), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.tables, err, tc.want)
		}
	}
}

// The pre-flight asks the Redis through pglinks_redis and says why it
// could not, in words; nothing is left behind.
func TestRedisLinkPreflight(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	secure := startRedis(t, redistest.Options{TLS: true, Password: redisPassword})
	plain := startRedis(t, redistest.Options{Password: redisPassword})
	open := startRedis(t, redistest.Options{})
	closed, err := redistest.NewSilentListener()
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	port := func(s *redistest.Server) string { return strconv.Itoa(s.Port) }
	local := newDB(t, clusterA, "rpre", pgtest.DBOptions{Redis: true})
	for _, tc := range []struct{ name, url, want string }{
		{"ErrPasswordRefused", redisURL(plain, "not-the-password"), "password refused"},
		{"ErrConnectionRefused", "redis://:pw@127.0.0.1:" + strconv.Itoa(closed.Port), "remote unreachable: connection refused"},
		{"ErrTLSRequired", "redis://:" + redisPassword + "@127.0.0.1:" + port(secure), "needs rediss://"},
		{"ErrCertNotTrusted", "rediss://:" + redisPassword + "@127.0.0.1:" + port(secure), "TLS certificate not trusted"},
		{"ErrNoPasswordAsked", redisURL(open, "whatever"), "does not ask for a password"},
		{"ErrNoPassword", "redis://127.0.0.1:" + port(plain), "no password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := newService(t, []string{"DATABASE_URL=" + local.URL, "REDIS_URL=" + tc.url})
			svc.Fleet.Deadlines.RemoteConnect = 2 * time.Second
			_, err := svc.PreviewCreate(ctx, CreateRequest{RemoteVar: "REDIS_URL", LocalVar: "DATABASE_URL", Name: "hredis"})
			if !errs.Is(err, errs.Unavailable) || errs.FieldOf(err) != "remote" || !strings.Contains(errs.MessageOf(err), tc.want) {
				t.Fatalf("err = %v\nwant %q", err, tc.want)
			}
			if strings.Contains(err.Error(), redisPassword) || strings.Contains(err.Error(), "not-the-password") {
				t.Fatalf("the password is in %v", err)
			}
			_, err = svc.CreateLink(ctx, CreateRequest{RemoteVar: "REDIS_URL", LocalVar: "DATABASE_URL", Name: "hredis"})
			if !errs.Is(err, errs.Unavailable) {
				t.Fatalf("create: %v", err)
			}
			assertNothingLeft(t, local.URL, "hredis")
		})
	}

	t.Run("ErrNotInstalled", func(t *testing.T) {
		bare := newDB(t, clusterA, "rbare", pgtest.DBOptions{})
		svc := newService(t, []string{"DATABASE_URL=" + bare.URL, "REDIS_URL=" + redisURL(plain, redisPassword)})
		_, err := svc.CreateLink(ctx, CreateRequest{RemoteVar: "REDIS_URL", LocalVar: "DATABASE_URL", Name: "hredis"})
		msg := errs.MessageOf(err)
		if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "local" || !strings.Contains(msg, "cannot install it") ||
			!strings.Contains(msg, "CREATE EXTENSION pglinks_redis;\nGRANT USAGE ON FOREIGN DATA WRAPPER pglinks_redis TO "+fleet.Ident(bare.Owner)+";") {
			t.Fatalf("err = %v", err)
		}
		st := mustStatus(t, svc, "DATABASE_URL")
		if st.RedisSupport == nil || st.RedisSupport.OK || st.RedisSupport.Installed || !st.RedisSupport.Available || !strings.Contains(st.RedisSupport.SQL, "CREATE EXTENSION pglinks_redis;") {
			t.Fatalf("card support %+v", st.RedisSupport)
		}
		assertNothingLeft(t, bare.URL, "hredis")
	})
	t.Run("ErrNoUsage", func(t *testing.T) {
		d := newDB(t, clusterA, "rnousage", pgtest.DBOptions{Redis: true})
		if err := clusterA.Exec(ctx, d.Name, "REVOKE USAGE ON FOREIGN DATA WRAPPER pglinks_redis FROM "+d.Owner); err != nil {
			t.Fatal(err)
		}
		svc := newService(t, []string{"DATABASE_URL=" + d.URL, "REDIS_URL=" + redisURL(plain, redisPassword)})
		_, err := svc.CreateLink(ctx, CreateRequest{RemoteVar: "REDIS_URL", LocalVar: "DATABASE_URL", Name: "hredis"})
		if msg := errs.MessageOf(err); !errs.Is(err, errs.Invalid) || !strings.Contains(msg, "lacks USAGE") || strings.Contains(msg, "CREATE EXTENSION") || !strings.Contains(msg, "GRANT USAGE ON FOREIGN DATA WRAPPER pglinks_redis TO") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("SuperuserInstalls", func(t *testing.T) {
		bare := newDB(t, clusterA, "rsuper", pgtest.DBOptions{})
		svc := newService(t, []string{"DATABASE_URL=" + clusterA.SuperURL(bare.Name), "REDIS_URL=" + redisURL(plain, redisPassword)})
		res, err := svc.CreateLink(ctx, CreateRequest{RemoteVar: "REDIS_URL", LocalVar: "DATABASE_URL", Name: "hredis"})
		if err != nil {
			t.Fatal(err)
		}
		if res.DDL[0] != "CREATE EXTENSION IF NOT EXISTS pglinks_redis SCHEMA public" {
			t.Fatalf("DDL %q", res.DDL)
		}
	})
}

// Health through the link, a password rotation, the repair, and destroy.
func TestRedisLinkRotationRepairDestroy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newRedisFixture(t, true, pgtest.DBOptions{Redis: true})
	if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "REDIS_URL", LocalVar: "DATABASE_URL", Name: "hredis"}); err != nil {
		t.Fatal(err)
	}
	execAs(t, f.local.URL, "CREATE VIEW top_widgets AS "+seedJoin)

	// The Redis' password is rotated: the link breaks.
	const rotated = "rotated-Redis-77"
	if _, err := f.redis.Do(ctx, "CONFIG", "SET", "requirepass", rotated); err != nil {
		t.Fatal(err)
	}
	h, err := f.svc.ProbeLink(ctx, "DATABASE_URL", "hredis")
	if err != nil || h.State != HealthBroken || !strings.HasPrefix(h.Reason, "password refused: REDIS_URL rejected the password") {
		t.Fatalf("probe after rotation: %+v %v", h, err)
	}

	// A pglinks started with a wrong new URL does not "repair" to it: the
	// Redis refuses that URL too, proved before anything is planned.
	wrong := newService(t, []string{"DATABASE_URL=" + f.local.URL, "REDIS_URL=" + strings.Replace(f.url, redisPassword, "also-wrong", 1)})
	wrong.Registry = f.svc.Registry
	if _, err := wrong.RepairLink(ctx, RepairRequest{LocalVar: "DATABASE_URL", Name: "hredis"}); !errs.Is(err, errs.Conflict) || !errors.Is(err, ErrEnvRefused) || !strings.Contains(errs.MessageOf(err), "was not repaired") {
		t.Fatalf("repair to wrong credentials: %v", err)
	}

	// With the new URL the link is stale, and a repair fixes it in place.
	svc := newService(t, []string{"DATABASE_URL=" + f.local.URL, "REDIS_URL=" + strings.Replace(f.url, redisPassword, rotated, 1)})
	svc.Registry = f.svc.Registry
	if st := staleOf(t, svc, "DATABASE_URL", "hredis"); !st.Stale() || !st.Repairable() || st.Summary() != "credentials changed (user or password)" {
		t.Fatalf("stale %+v", st)
	}
	plan, err := svc.PlanRepair(ctx, "DATABASE_URL", "hredis")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(plan.DDL, ";"); got != `ALTER USER MAPPING FOR CURRENT_USER SERVER "hredis" OPTIONS (SET password '***')` {
		t.Fatalf("repair plan %q", got)
	}
	res, err := svc.RepairLink(ctx, RepairRequest{LocalVar: "DATABASE_URL", Name: "hredis", Fingerprint: plan.Fingerprint, Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Health.State != HealthHealthy {
		t.Fatalf("health after repair %+v", res.Health)
	}
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM top_widgets"); n != 25 {
		t.Fatalf("the view on the link after repair: %d rows", n)
	}

	// Destroy: the impact list, a typed name, everything gone.
	dp, err := svc.PlanDestroy(ctx, "DATABASE_URL", "hredis")
	if err != nil {
		t.Fatal(err)
	}
	if len(dp.Tables) != 1 || len(dp.Dependents) != 1 || dp.Dependents[0].Description != "view public.top_widgets" || len(dp.Blockers) != 0 {
		t.Fatalf("destroy plan %+v", dp)
	}
	if _, err := svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "hredis", Confirm: "hredi", Fingerprint: dp.Fingerprint}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("mistyped name: %v", err)
	}
	dr, err := svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "hredis", Confirm: "hredis", Fingerprint: dp.Fingerprint})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(dr.DDL, ";"); !strings.HasPrefix(got, `DROP SCHEMA "hredis" CASCADE;DROP USER MAPPING IF EXISTS FOR`) || !strings.HasSuffix(got, `SERVER "hredis";DROP SERVER "hredis"`) {
		t.Fatalf("destroy DDL %q", got)
	}
	assertNothingLeft(t, f.local.URL, "hredis")
	if recs, _ := svc.Registry.Links(ctx, "DATABASE_URL"); len(recs) != 0 {
		t.Fatalf("records left: %+v", recs)
	}
}

// A Redis that stops answering shows on its card, in words, backed off.
func TestRedisCardDown(t *testing.T) {
	t.Parallel()
	s := startRedis(t, redistest.Options{Password: redisPassword})
	svc := newService(t, []string{"REDIS_URL=" + redisURL(s, redisPassword)})
	if st := mustStatus(t, svc, "REDIS_URL"); !st.Reachable || st.Redis == nil {
		t.Fatalf("card %+v", st)
	}
	s.Stop()
	st := mustStatus(t, svc, "REDIS_URL")
	if st.Reachable || st.Redis != nil || !strings.Contains(st.Error, "is unreachable: connection refused") || st.RetryAt.IsZero() {
		t.Fatalf("card of a stopped Redis %+v", st)
	}
	if inv := svc.Inventory(context.Background()); len(inv) != 1 || inv[0].FailingSince.IsZero() {
		t.Fatalf("inventory %+v", inv)
	}
}

// A server of pglinks_redis that carries a link's comment is a link only
// with a record of the same kind.
func TestRedisLinkKindMustMatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newRedisFixture(t, false, pgtest.DBOptions{Redis: true})
	if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "REDIS_URL", LocalVar: "DATABASE_URL", Name: "hredis"}); err != nil {
		t.Fatal(err)
	}
	recs, _ := f.svc.Registry.Links(ctx, "DATABASE_URL")
	rec := recs[0]
	if err := f.svc.Registry.RemoveLink(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	rec.Kind = fleet.KindPostgres
	if err := f.svc.Registry.AddLink(ctx, rec); err != nil {
		t.Fatal(err)
	}
	st := mustStatus(t, f.svc, "DATABASE_URL")
	if len(st.Links) != 0 || len(st.Unrecorded) != 1 {
		t.Fatalf("a record of another kind made a link: %+v", st)
	}
}
