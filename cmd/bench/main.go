// Command bench runs pglinks' fleet-scale benchmark: its own PostgreSQL
// clusters, the real server over loopback, and a table of each figure next
// to its floor from the same run. See internal/bench.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/pglinks/pglinks/internal/bench"
)

func main() {
	quick := flag.Bool("quick", false, "small sizes, checks the answers (the CI smoke test)")
	rounds := flag.Int("rounds", 0, "interleaved rounds (default 5, 2 with -quick)")
	only := flag.String("only", "", "comma-separated subset of "+strings.Join(bench.Scenarios, ","))
	out := flag.String("out", "", "also write the markdown table to this file")
	profiles := flag.String("cpuprofile-dir", "", "write a CPU profile of each server run into this directory (go tool pprof reads them)")
	maxConns := flag.Int("max-connections", 32, "PGLINKS_MAX_CONNECTIONS passed to the server (the cap checked)")
	fleetSize := flag.Int("fleet", 0, "databases in the large-fleet scenario fleet1000 (default 1000, 60 with -quick)")
	flag.Parse()
	cfg := bench.Config{Quick: *quick, Rounds: *rounds, MaxConnections: *maxConns, Fleet: *fleetSize, ProfileDir: *profiles, Progress: os.Stderr,
		Command: strings.Join(append([]string{"go run ./cmd/bench"}, os.Args[1:]...), " ")}
	if *only != "" {
		cfg.Only = map[string]bool{}
		for _, s := range strings.Split(*only, ",") {
			if s = strings.TrimSpace(s); s != "" {
				cfg.Only[s] = true
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var b strings.Builder
	rep, err := bench.Run(ctx, cfg, &b)
	fmt.Print(b.String())
	if *out != "" && b.Len() > 0 {
		if werr := os.WriteFile(*out, []byte(b.String()), 0o644); werr != nil {
			fmt.Fprintln(os.Stderr, "bench:", werr)
		}
	}
	if err != nil {
		if rep != nil && len(rep.Rows) > 0 && b.Len() == 0 {
			fmt.Print(rep.Markdown())
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
}
