package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/state"
)

// openState opens (and migrates) the state database of PGLINKS_STATE_URL.
func openState(ctx context.Context) (*state.DB, error) {
	url := os.Getenv("PGLINKS_STATE_URL")
	if url == "" {
		return nil, errors.New("PGLINKS_STATE_URL is not set")
	}
	return state.Open(ctx, url)
}

func userCommand(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError("user: add, list, remove or set-role")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "add", "list", "remove", "set-role":
	default:
		return usageError(fmt.Sprintf("user: unknown command %q", cmd))
	}
	db, err := openState(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	store := auth.NewStore(db)
	record := func(action, target, detail string) {
		store.Record(ctx, auth.AuditEntry{Actor: "cli", Action: action, Target: target, Outcome: auth.OutcomeOK, Detail: detail})
	}
	switch cmd {
	case "add":
		email, roleText, err := parseAddArgs(rest)
		if err != nil {
			return err
		}
		role, err := auth.ParseRole(roleText)
		if err != nil {
			return err
		}
		password, generated, err := readPassword(stdin)
		if err != nil {
			return err
		}
		u, err := store.AddUser(ctx, email, role, password)
		if err != nil {
			return err
		}
		record(auth.ActionUserAdd, u.Email, "role "+string(u.Role)+" (cli)")
		fmt.Fprintf(stdout, "added %s (%s)\n", u.Email, u.Role)
		if generated {
			fmt.Fprintf(stdout, "password: %s\n(shown once)\n", password)
		}
	case "list":
		users, err := store.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EMAIL\tROLE\tCREATED")
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Email, u.Role, u.CreatedAt.UTC().Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	case "remove":
		if len(rest) != 1 {
			return usageError("user remove EMAIL")
		}
		if err := store.RemoveUser(ctx, rest[0]); err != nil {
			return err
		}
		record(auth.ActionUserRemove, rest[0], "(cli)")
		fmt.Fprintf(stdout, "removed %s\n", rest[0])
	case "set-role":
		if len(rest) != 2 {
			return usageError("user set-role EMAIL admin|viewer")
		}
		role, err := auth.ParseRole(rest[1])
		if err != nil {
			return err
		}
		if err := store.SetRole(ctx, rest[0], role); err != nil {
			return err
		}
		record(auth.ActionUserSetRole, rest[0], "-> "+string(role)+" (cli)")
		fmt.Fprintf(stdout, "%s is now %s\n", rest[0], role)
	}
	return nil
}

func parseAddArgs(args []string) (email, role string, err error) {
	role = "viewer"
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--role" && i+1 < len(args):
			role = args[i+1]
			i++
		case strings.HasPrefix(a, "--role="):
			role = strings.TrimPrefix(a, "--role=")
		case strings.HasPrefix(a, "-"):
			return "", "", usageError(fmt.Sprintf("user add: unknown flag %q", a))
		case email == "":
			email = a
		default:
			return "", "", usageError("user add EMAIL --role admin|viewer")
		}
	}
	if email == "" {
		return "", "", usageError("user add EMAIL --role admin|viewer")
	}
	return email, role, nil
}

// readPassword takes the first line of stdin when something is piped in;
// with a terminal or nothing on stdin it generates one.
func readPassword(stdin io.Reader) (password string, generated bool, err error) {
	if f, ok := stdin.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return auth.GeneratePassword(), true, nil
		}
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", false, err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return auth.GeneratePassword(), true, nil
	}
	return line, false, nil
}
