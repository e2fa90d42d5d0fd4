package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/pglinks/pglinks/internal/demo"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
)

// startStoreLinks links demo.StoreLinks into analytics in the background,
// the way the demo's crm link is made and recorded; wait returns once they
// are made.
func startStoreLinks(ctx context.Context, p *program) (wait func() error) {
	errc := make(chan error, len(demo.StoreLinks))
	var wg sync.WaitGroup
	for _, s := range demo.StoreLinks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := p.links.CreateLink(ctx, links.CreateRequest{
				RemoteVar: s.ConfigVar(), LocalVar: demo.StoreLinksLocal, Name: s.Name(), Actor: "demo",
			})
			if err != nil {
				errc <- fmt.Errorf("demo: link %s: %w", s.Name(), err)
				return
			}
			recordDemoLink(ctx, p.store, demo.StoreLinksLocal, res)
		}()
	}
	return func() error {
		wg.Wait()
		close(errc)
		var all []error
		for err := range errc {
			all = append(all, err)
		}
		return errors.Join(all...)
	}
}

// storeLinkNames is "store_lisbon and store_porto".
func storeLinkNames() string {
	var names []string
	for _, s := range demo.StoreLinks {
		names = append(names, s.Name())
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// inBannerFleet reports whether the banner gives d a psql line of its own:
// the stores share one, nothing answers for the retired database, and the
// Redis is no PostgreSQL (its join has a line of its own).
func inBannerFleet(d *fleet.Database) bool {
	return !strings.HasPrefix(d.ConfigVar, "HEROKU_POSTGRESQL_STORE_") && d.ConfigVar != demo.RetiredVar && !d.IsRedis()
}

// writeFleetScale prints the store databases by port, one psql line for
// them, and what to try on the inventory at fleet scale.
func (b demoBanner) writeFleetScale(w io.Writer) {
	byPort := map[string][]string{}
	var example *fleet.Database
	for _, d := range b.Fleet {
		if !strings.HasPrefix(d.ConfigVar, "HEROKU_POSTGRESQL_STORE_") {
			continue
		}
		byPort[d.Port] = append(byPort[d.Port], strings.TrimPrefix(d.DBName, "store_"))
		if d.DBName == demo.StoreLinks[0].Name() {
			example = d
		}
	}
	if example == nil {
		return
	}
	ports := make([]string, 0, len(byPort))
	n := 0
	for p := range byPort {
		ports = append(ports, p)
		n += len(byPort[p])
	}
	sort.Strings(ports)
	fmt.Fprintf(w, "  # %d regional stores, HEROKU_POSTGRESQL_STORE_<CITY>_URL: database store_<city>, role store_<city>_owner\n", n)
	for _, p := range ports {
		fmt.Fprintf(w, "  #   port %s: %s\n", p, strings.Join(byPort[p], " "))
	}
	fmt.Fprintf(w, "  %s\n", psqlCommand(b.Files.pgpass, example, ""))
	fmt.Fprintf(w, `
Fleet scale: %d databases, 20 cards a page. Search it (try "lisbon": the store, and analytics, which reads it through the link %s), open page 2,
and see %s (%s), a decommissioned database nothing answers for: its card says since when and when pglinks asks again, and no page waits for it.
`, len(b.Fleet), demo.StoreLinks[0].Name(), demo.RetiredVar, demo.RetiredResource)
}
