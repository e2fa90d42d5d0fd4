package demo

import (
	"context"
	_ "embed"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/pglinks/pglinks/internal/pgtest"
)

// The demo's fleet is large enough to show the inventory at fleet scale:
// a retail team's regional store databases, spread over both clusters, so
// the inventory has a search and more than one page, and a decommissioned
// database that no longer answers, so a card shows the back-off.

//go:embed seed_store.sql
var seedStore string

// Store is one regional store database of the demo.
type Store struct {
	City     string // lowercase, as in the database name store_<city>
	Resource string
}

// Name is the store's database name.
func (s Store) Name() string { return "store_" + s.City }

// ConfigVar is the store's config var, e.g. HEROKU_POSTGRESQL_STORE_LISBON_URL.
func (s Store) ConfigVar() string {
	return "HEROKU_POSTGRESQL_STORE_" + strings.ToUpper(s.City) + "_URL"
}

// Stores are the demo's regional store databases; the i-th lives on
// cluster i%2.
var Stores = []Store{
	{"amsterdam", "postgresql-tidy-40215"},
	{"athens", "postgresql-sunny-73108"},
	{"barcelona", "postgresql-vivid-18342"},
	{"berlin", "postgresql-steady-55920"},
	{"brussels", "postgresql-quiet-26471"},
	{"dublin", "postgresql-clever-80533"},
	{"hamburg", "postgresql-shiny-11807"},
	{"helsinki", "postgresql-frosty-62954"},
	{"lisbon", "postgresql-curved-34719"},
	{"lyon", "postgresql-gentle-90126"},
	{"madrid", "postgresql-rapid-47385"},
	{"milan", "postgresql-elegant-29640"},
	{"oslo", "postgresql-crisp-85203"},
	{"porto", "postgresql-mellow-16478"},
	{"prague", "postgresql-amber-70391"},
	{"stockholm", "postgresql-polished-53867"},
	{"vienna", "postgresql-graceful-21954"},
	{"warsaw", "postgresql-sturdy-68012"},
}

// StoreLinks are the stores linked into analytics when the demo starts
// (one on each cluster), named after the store: analytics reads their sales.
var StoreLinks = []Store{Stores[8], Stores[13]}

// StoreLinksLocal is the database the store links are made in (analytics).
const StoreLinksLocal = "HEROKU_POSTGRESQL_BLUE_URL"

// The decommissioned database: its config var was never removed, and
// nothing listens where it points any more.
const (
	RetiredVar      = "HEROKU_POSTGRESQL_RETIRED_URL"
	RetiredResource = "postgresql-decommissioned-40417"
)

// storeWorkers bounds the store databases created at once: creating them
// one by one would add seconds to every demo start.
const storeWorkers = 6

// startStores creates and seeds every store database in the background,
// storeWorkers at a time, while the rest of the demo is set up; the
// returned wait adds their config vars and resource names to env once
// they are all ready.
func startStores(ctx context.Context, clusters []*pgtest.Cluster) (wait func(env *Env) error) {
	urls := make([]string, len(Stores))
	errc := make(chan error, len(Stores))
	sem := make(chan struct{}, storeWorkers)
	var wg sync.WaitGroup
	for i, s := range Stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			d, err := clusters[i%len(clusters)].CreateDatabase(ctx, s.Name(), pgtest.DBOptions{})
			if err != nil {
				errc <- fmt.Errorf("demo: create %s: %w", s.Name(), err)
				return
			}
			if err := execAs(ctx, d.URL, seedStore); err != nil {
				errc <- fmt.Errorf("demo: seed %s: %w", s.Name(), err)
				return
			}
			urls[i] = d.URL
		}()
	}
	return func(env *Env) error {
		wg.Wait()
		close(errc)
		if err := <-errc; err != nil {
			return err
		}
		for i, s := range Stores {
			env.Vars[s.ConfigVar()] = urls[i]
			env.Vars["PGLINKS_RESOURCE_NAMES"] += "," + s.ConfigVar() + "=" + s.Resource
		}
		return nil
	}
}

// addRetired points RetiredVar at a loopback port nobody listens on, so its
// card shows a database that does not answer from the first page view on.
func addRetired(env *Env) error {
	port, err := pgtest.FreePort()
	if err != nil {
		return err
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword("retired_owner", pgtest.RandomToken(12)),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path:     "/retired",
		RawQuery: "sslmode=disable",
	}
	env.Vars[RetiredVar] = u.String()
	env.Vars["PGLINKS_RESOURCE_NAMES"] += "," + RetiredVar + "=" + RetiredResource
	return nil
}
