package demo

import (
	"context"
	"log/slog"
	"testing"

	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/state"
)

// startDemo starts a demo of its own for one test and a links.Service over
// its fleet, recording links in the demo's state database, as `web demo`
// wires it. Everything is stopped when the test ends.
func startDemo(t *testing.T) (*Env, *links.Service) {
	t.Helper()
	return startDemoWith(t, Options{})
}

// startDemoWith is startDemo with opts.
func startDemoWith(t *testing.T, opts Options) (*Env, *links.Service) {
	t.Helper()
	ctx := context.Background()
	env, err := StartWithProgress(ctx, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Stop)
	var environ []string
	for k, v := range env.Vars {
		environ = append(environ, k+"="+v)
	}
	fl, err := fleet.Load(environ)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fl.Close)
	svc := links.NewService(fl, slog.New(slog.DiscardHandler))
	t.Cleanup(svc.Close)
	db, err := state.Open(ctx, env.Vars["PGLINKS_STATE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	svc.Registry = links.NewStateRegistry(db)
	return env, svc
}
