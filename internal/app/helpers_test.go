package app

import (
	"log/slog"
	"net"
	"regexp"
	"testing"

	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/replication"
	"github.com/pglinks/pglinks/internal/state"
)

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }

func mustCIDRs(t *testing.T, cidrs ...string) []*net.IPNet {
	var out []*net.IPNet
	for _, c := range cidrs {
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// newLinks is a links service over the fleet of env with its records in
// db, closed when tb ends (the service before the fleet's pools).
func newLinks(tb testing.TB, env []string, db *state.DB) *links.Service {
	tb.Helper()
	fl, err := fleet.Load(env)
	if err != nil {
		tb.Fatal(err)
	}
	fl.Log = slog.New(slog.DiscardHandler)
	tb.Cleanup(fl.Close)
	svc := links.NewService(fl, fl.Log)
	tb.Cleanup(svc.Close)
	svc.Registry = links.NewStateRegistry(db)
	return svc
}

// testConfig wires an app over svc and store the way cmd/web does, with
// a silent log.
func testConfig(svc *links.Service, store *auth.Store, keys []string) Config {
	return Config{
		Fleet: svc.Fleet, Links: svc, Health: links.NewMonitor(svc), Replication: replication.New(svc.Fleet),
		Auth: store, Limiter: auth.NewLimiter(store, 0, 0, 0),
		Log: slog.New(slog.DiscardHandler), SessionKeys: keys,
	}
}
