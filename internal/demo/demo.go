// Package demo starts throwaway PostgreSQL clusters filled with sample data
// and returns the environment a pglinks fleet needs, for `web demo`.
package demo

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/redistest"
)

//go:embed seed_shop.sql
var seedShop string

//go:embed seed_crm.sql
var seedCRM string

//go:embed seed_analytics.sql
var seedAnalytics string

//go:embed seed_warehouse.sql
var seedWarehouse string

// Env is a running demo: two clusters, a Redis, and the config vars
// pointing at them.
type Env struct {
	Clusters []*pgtest.Cluster
	// Redis is the demo's Redis (REDIS_URL; redis.go).
	Redis *redistest.Server
	// Vars are environment entries: the fleet's config vars, resource
	// names and PGLINKS_STATE_URL.
	Vars map[string]string
}

type dbSpec struct {
	configVar, name, resource, seed string
	cluster                         int
	opts                            pgtest.DBOptions
}

// Options tune the demo.
type Options struct {
	// Major runs the second cluster (crm, warehouse and half the stores)
	// on this PostgreSQL major, so links and the subscription cross
	// versions; 0 runs both on the default one.
	Major int
}

// Start creates the demo: two clusters, four fleet databases owned by
// non-superuser roles with password authentication (as on hosted plans),
// one of them without postgres_fdw, a reporting database that subscribes
// to crm, the regional store databases (Stores), a config var for a
// decommissioned database nothing answers for (RetiredVar), a TLS Redis
// (RedisVar) with pglinks_redis installed in shop, and a state database.
func Start(ctx context.Context) (*Env, error) { return StartWithProgress(ctx, Options{}, nil) }

// StartWithProgress is Start with opts, calling progress (when not nil)
// before each slow step so a first run is not silent.
func StartWithProgress(ctx context.Context, opts Options, progress func(string)) (*Env, error) {
	say := func(msg string) {
		if progress != nil {
			progress(msg)
		}
	}
	env := &Env{Vars: map[string]string{}}
	// Both clusters start at once, and the store databases are made while
	// the others are seeded: every demo start waits for them.
	clusters := make([]*pgtest.Cluster, 2)
	startErrs := make([]error, len(clusters))
	var wg sync.WaitGroup
	for i := range clusters {
		o := pgtest.Options{Logical: true}
		if i == 1 {
			o.Major = opts.Major
		}
		if o.Major != 0 {
			say(fmt.Sprintf("starting PostgreSQL cluster %d of %d (PostgreSQL %d)", i+1, len(clusters), o.Major))
		} else {
			say(fmt.Sprintf("starting PostgreSQL cluster %d of %d", i+1, len(clusters)))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			clusters[i], startErrs[i] = pgtest.Start(ctx, o)
		}()
	}
	wg.Wait()
	for _, c := range clusters {
		if c != nil {
			env.Clusters = append(env.Clusters, c)
		}
	}
	if err := errors.Join(startErrs...); err != nil {
		env.Stop()
		return nil, err
	}
	say(fmt.Sprintf("creating and seeding %d regional store databases (HEROKU_POSTGRESQL_STORE_<CITY>_URL) meanwhile", len(Stores)))
	storesReady := startStores(ctx, env.Clusters)
	specs := []dbSpec{
		{"DATABASE_URL", "shop", "postgresql-animate-91581", seedShop, 0, pgtest.DBOptions{Redis: true}},
		{"HEROKU_POSTGRESQL_BLUE_URL", "analytics", "postgresql-colorful-33594", seedAnalytics, 0, pgtest.DBOptions{}},
		{"HEROKU_POSTGRESQL_ORANGE_URL", "crm", "postgresql-round-06985", seedCRM + seedSalesforce, 1, pgtest.DBOptions{}},
		{"HEROKU_POSTGRESQL_GRAY_URL", "warehouse", "postgresql-silent-27114", seedWarehouse, 1, pgtest.DBOptions{NoFDW: true}},
	}
	var names string
	var crm *pgtest.Database
	for _, s := range specs {
		say(fmt.Sprintf("creating and seeding %s (%s)", s.name, s.configVar))
		d, err := env.Clusters[s.cluster].CreateDatabase(ctx, s.name, s.opts)
		if err != nil {
			env.Stop()
			return nil, err
		}
		if err := execAs(ctx, d.URL, s.seed); err != nil {
			env.Stop()
			return nil, fmt.Errorf("demo: seed %s: %w", s.name, err)
		}
		env.Vars[s.configVar] = d.URL
		if s.name == "crm" {
			crm = d
		}
		if names != "" {
			names += ","
		}
		names += s.configVar + "=" + s.resource
	}
	env.Vars["PGLINKS_RESOURCE_NAMES"] = names
	if err := startReplication(ctx, env, crm, env.Clusters[1], env.Clusters); err != nil {
		env.Stop()
		return nil, err
	}
	if err := storesReady(env); err != nil {
		env.Stop()
		return nil, err
	}
	if err := addRetired(env); err != nil {
		env.Stop()
		return nil, err
	}
	say("starting a TLS redis-server with a counter per widget of shop (REDIS_URL)")
	if err := startRedis(ctx, env); err != nil {
		env.Stop()
		return nil, err
	}
	state, err := env.Clusters[0].CreateDatabase(ctx, "pglinks_state", pgtest.DBOptions{NoFDW: true})
	if err != nil {
		env.Stop()
		return nil, err
	}
	env.Vars["PGLINKS_STATE_URL"] = state.URL
	return env, nil
}

// Stop stops every cluster and the Redis, and removes their files.
func (e *Env) Stop() {
	for _, c := range e.Clusters {
		c.Stop()
	}
	if e.Redis != nil {
		e.Redis.Stop()
	}
}

func execAs(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// seedCRMDrift is what the crm database gains after the demo's link to it
// is made, so the link page shows drift right away: a new table.
const seedCRMDrift = `
CREATE TABLE tickets (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint REFERENCES accounts,
    subject    text NOT NULL,
    opened_on  date NOT NULL DEFAULT current_date
);
INSERT INTO tickets (account_id, subject)
SELECT 1 + g % 60, 'Ticket ' || g FROM generate_series(1, 25) g;
`

// AddDrift changes the crm database after the demo link was made.
func (e *Env) AddDrift(ctx context.Context) error {
	if err := execAs(ctx, e.Vars["HEROKU_POSTGRESQL_ORANGE_URL"], seedCRMDrift); err != nil {
		return fmt.Errorf("demo: drift: %w", err)
	}
	return nil
}
