// Command web is pglinks: a dashboard for data links between PostgreSQL
// databases.
//
//	web serve                      run the dashboard (configuration from the environment)
//	web demo                       throwaway clusters with sample data, then serve
//	web user add EMAIL --role R    add a user (password from stdin, or generated)
//	web user list | remove EMAIL | set-role EMAIL ROLE
//	web links ...                  links from a terminal, through the API (cli.go)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `pglinks: manage data links between PostgreSQL databases

Usage:
  web serve                          run the dashboard
  web demo                           start throwaway PostgreSQL clusters with sample data and serve
  web user add EMAIL --role admin|viewer
                                     add a user; the password is read from stdin,
                                     or generated and printed once when stdin is a terminal or empty
  web user list                      list users
  web user remove EMAIL              remove a user
  web user set-role EMAIL admin|viewer

` + linksUsage + `
Configuration (environment):
  PORT (8080), HOST (all interfaces; 127.0.0.1 for demo), PGLINKS_STATE_URL (required),
  PGLINKS_SESSION_KEYS, DATABASE_URL, HEROKU_POSTGRESQL_<NAME>_URL,
  REDIS_URL, HEROKU_REDIS_<NAME>_URL, PGLINKS_DATABASES, PGLINKS_RESOURCE_NAMES, PGLINKS_TRUSTED_PROXIES,
  PGLINKS_TLS_CERT, PGLINKS_TLS_KEY, PGLINKS_INVENTORY_MAX_AGE (30s),
  PGLINKS_MAX_CONNECTIONS (32), PGLINKS_SLOT_ORPHAN_AFTER (5m), PGLINKS_LEASE_TTL (15s).
  See README.md.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		// An error can quote a server's message, names from remotes and all.
		stderr := terminalWriter{w: os.Stderr}
		var ue usageError
		if errors.As(err, &ue) {
			if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "links") {
				fmt.Fprint(os.Stderr, linksUsage)
			} else {
				fmt.Fprint(os.Stderr, usage)
			}
			fmt.Fprintln(os.Stderr)
			fmt.Fprintln(stderr, "error:", err)
			os.Exit(2)
		}
		fmt.Fprintln(stderr, "error:", err)
		os.Exit(1)
	}
}

type usageError string

func (e usageError) Error() string { return string(e) }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("no command given")
	}
	if args[0] == "links" || strings.HasPrefix(args[0], "links:") {
		return linksCommand(ctx, args[0], args[1:], cliIO{in: stdin, out: stdout, errw: stderr, isTerminal: stdinIsTerminal(stdin), environ: os.Getenv})
	}
	switch args[0] {
	case "serve":
		cfg, err := configFromEnv(os.Environ())
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stdout)
	case "demo":
		return runDemo(ctx, stdout)
	case "user":
		return userCommand(ctx, args[1:], stdin, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageError(fmt.Sprintf("unknown command %q", args[0]))
}
