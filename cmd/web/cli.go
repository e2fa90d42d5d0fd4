package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/pglinks/pglinks/views"
	"golang.org/x/term"
)

// The links verbs are a client of the API (/api/v1), with Heroku's names
// and output: `web links`, `web links:create REMOTE LOCAL --as NAME`,
// `web links:destroy LOCAL NAME --confirm NAME`, ... They find pglinks
// and a token in the environment (PGLINKS_URL, PGLINKS_TOKEN or
// PGLINKS_TOKEN_FILE) or in --url and --token-file, never in a token
// argument: command lines are seen by every user of the machine (ps) and
// kept in shell histories.
//
// Exit status: 0 done, 1 refused or failed (the API's message on
// stderr), 2 usage (including a confirmation that cannot be asked
// because the input is not a terminal).

const linksUsage = `Links, from a terminal (a client of pglinks' API; see README "From a terminal"):
  web links [--db LOCAL]                           every database's links, or one database's
  web links:info LOCAL NAME                        a link and its foreign tables (the \det)
  web links:create REMOTE LOCAL [--as NAME] [--schema S] [--tables a,b] [--read-only]
                   [--no-copy-enums] [--duplicate-ok] [--dry-run]
                   [--redis-table NAME:TYPE[:PREFIX]]... [--writable]   (a Redis remote)
  web links:destroy LOCAL NAME [--confirm NAME]    asks for the name on a terminal
  web links:refresh LOCAL NAME [--confirm NAME]    shows the plan, asks, applies it
  web links:repair LOCAL NAME [--confirm NAME]     shows the plan, asks, applies it
  web links:import LOCAL NAME [--tables a,b] [--confirm NAME]
                                                   lists what a link of chosen tables may import;
                                                   with --tables shows the plan, asks, imports
  web links:check LOCAL NAME                       probes the link now (exit 1 when broken)
  web links:query LOCAL NAME (--sql 'SELECT ...' | --file FILE | -) [--analyze]
                                                   checks a SELECT over the link: the remote SQL per
                                                   foreign scan, what stays local and why (saved)
  web links:queries LOCAL NAME                     the link's saved query checks
  web links:queries:info LOCAL NAME ID             one saved query check
  web links:options LOCAL NAME [--set KEY=VALUE [--table T]] [--confirm NAME]
                                                   the link's postgres_fdw options and advice; with
                                                   --set shows the statement, asks, runs it (KEY= resets)
  web links:analyze LOCAL NAME [--confirm NAME]    ANALYZE of the link's foreign tables, after asking
  web links:connections LOCAL NAME                 connections local sessions hold through the link,
                                                   read on its remote, and keep_connections
  web links:connections:end LOCAL NAME [--confirm NAME]
                                                   ends them on the remote; asks for the name
  Every verb takes --json (the API's JSON), --url URL and --token-file FILE (mode 0600).
  Environment: PGLINKS_URL, PGLINKS_TOKEN or PGLINKS_TOKEN_FILE.
  Exit status: 0 done, 1 refused or failed, 2 usage.
`

// cliIO is what a verb reads and writes; isTerminal says whether in is a
// person at a terminal, who can be asked to confirm.
type cliIO struct {
	in         io.Reader
	out, errw  io.Writer
	isTerminal func() bool
	environ    func(string) string
}

func stdinIsTerminal(in io.Reader) func() bool {
	return func() bool {
		f, ok := in.(*os.File)
		return ok && term.IsTerminal(int(f.Fd()))
	}
}

// cliFlags is a verb's command line: positional arguments and flags, in
// any order (Heroku's verbs take flags after the arguments).
type cliFlags struct {
	args  []string
	bools map[string]bool
	strs  map[string]string // the last value of each value flag
	all   map[string][]string
}

// parseCLI reads args against the flags a verb knows (value flags take
// the next argument or =value). Anything else starting with - is a usage
// error, --token first of all.
func parseCLI(verb string, args []string, boolFlags, strFlags []string) (*cliFlags, error) {
	f := &cliFlags{bools: map[string]bool{}, strs: map[string]string{}, all: map[string][]string{}}
	isBool := map[string]bool{"json": true}
	isStr := map[string]bool{"url": true, "token-file": true}
	for _, b := range boolFlags {
		isBool[b] = true
	}
	for _, s := range strFlags {
		isStr[s] = true
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			f.args = append(f.args, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			f.args = append(f.args, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case name == "token":
			return nil, usageError("never pass a token on the command line (every user of this machine can read it): set PGLINKS_TOKEN, or PGLINKS_TOKEN_FILE / --token-file with a file of mode 0600")
		case name == "h" || name == "help":
			return nil, usageError(verb + ": help")
		case isBool[name] && !hasValue:
			f.bools[name] = true
		case isStr[name]:
			if !hasValue {
				if i+1 >= len(args) {
					return nil, usageError(fmt.Sprintf("%s: --%s needs a value", verb, name))
				}
				i++
				value = args[i]
			}
			f.strs[name] = value
			f.all[name] = append(f.all[name], value)
		default:
			return nil, usageError(fmt.Sprintf("%s: unknown flag %s", verb, a))
		}
	}
	return f, nil
}

// want checks the number of positional arguments.
func (f *cliFlags) want(verb string, names ...string) error {
	if len(f.args) != len(names) {
		return usageError(fmt.Sprintf("%s takes %s (got %s)", verb, strings.Join(names, " "), views.Plural(len(f.args), "argument", "arguments")))
	}
	return nil
}

// tables is --tables a,b as names; an empty list is a usage error.
func (f *cliFlags) tables(verb string) ([]string, error) {
	var tables []string
	for _, t := range strings.Split(f.strs["tables"], ",") {
		if t = strings.TrimSpace(t); t != "" {
			tables = append(tables, t)
		}
	}
	if len(tables) == 0 {
		return nil, usageError(verb + ": --tables needs table names, comma-separated")
	}
	return tables, nil
}

// linksCommand runs one links verb.
func linksCommand(ctx context.Context, verb string, args []string, cio cliIO) error {
	type verbSpec struct {
		bools, strs []string
		run         func(context.Context, *apiClient, *cliFlags, cliIO) error
	}
	verbs := map[string]verbSpec{
		"links":         {nil, []string{"db"}, runLinks},
		"links:info":    {nil, nil, runLinkInfo},
		"links:create":  {[]string{"read-only", "no-copy-enums", "duplicate-ok", "dry-run", "writable"}, []string{"as", "schema", "tables", "redis-table"}, runCreate},
		"links:destroy": {nil, []string{"confirm"}, runDestroy},
		"links:refresh": {nil, []string{"confirm"}, runRefresh},
		"links:repair":  {nil, []string{"confirm"}, runRepair},

		"links:import":          {nil, []string{"tables", "confirm"}, runImport},
		"links:check":           {nil, nil, runCheck},
		"links:query":           {[]string{"analyze"}, []string{"sql", "file"}, runQuery},
		"links:queries":         {nil, nil, runQueries},
		"links:queries:info":    {nil, nil, runQueryInfo},
		"links:options":         {nil, []string{"set", "table", "confirm"}, runOptions},
		"links:analyze":         {nil, []string{"confirm"}, runAnalyze},
		"links:connections":     {nil, nil, runConnections},
		"links:connections:end": {nil, []string{"confirm"}, runEndConnections},
	}
	spec, ok := verbs[verb]
	if !ok {
		return usageError(fmt.Sprintf("unknown command %q", verb))
	}
	f, err := parseCLI(verb, args, spec.bools, spec.strs)
	if err != nil {
		return err
	}
	client, err := newAPIClient(f, cio.environ)
	if err != nil {
		return err
	}
	cio.out, cio.errw = terminalWriter{w: cio.out, json: f.bools["json"]}, terminalWriter{w: cio.errw}
	return spec.run(ctx, client, f, cio)
}

// confirmName gets the typed confirmation of a change to link name: the
// --confirm flag, or, on a terminal, the name typed after the warning.
// Without a terminal and without --confirm, nothing can be asked: usage.
func confirmName(verb, name string, f *cliFlags, cio cliIO, warning []string) (string, error) {
	if c, ok := f.strs["confirm"]; ok {
		return c, nil
	}
	if !cio.isTerminal() {
		return "", usageError(fmt.Sprintf("%s asks for the link's name on a terminal; without one, re-run it with --confirm %s", verb, name))
	}
	for _, line := range warning {
		fmt.Fprintln(cio.errw, " !    "+line)
	}
	fmt.Fprintf(cio.errw, " !    To proceed, type %q or re-run this command with --confirm %s\n> ", name, name)
	line, err := bufio.NewReader(cio.in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	// Only the line ending goes: the comparison is exact, as on the pages.
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

// cannotAsk refuses, before anything is read or planned, a change that
// must be confirmed when there is neither --confirm nor a terminal to ask
// on; nil when it can be confirmed.
func cannotAsk(verb, name string, f *cliFlags, cio cliIO) error {
	if _, ok := f.strs["confirm"]; ok || cio.isTerminal() {
		return nil
	}
	_, err := confirmName(verb, name, f, cio, nil)
	return err
}

// errNotConfirmed is a confirmation that does not match: nothing is done.
func errNotConfirmed(name string) error {
	return fmt.Errorf("confirmation did not match %q: nothing was changed", name)
}

func pathEscape(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString("/" + url.PathEscape(p))
	}
	return b.String()
}
