package links

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// SQLSTATE codes links react to; fleet classifies the connection ones.
const (
	codeUniqueViolation   = "23505"
	codeDuplicateObject   = "42710"
	codeDuplicateSchema   = "42P06"
	codeLockNotAvailable  = "55P03"
	codeUndefinedObject   = "42704"
	codeInsufficientPriv  = "42501"
	codeFDWUnableToConn   = "08001"
	codePasswordRequired  = "2F003"
	codeFeatureNotSupport = "0A000"
	codeUndefinedFile     = "58P01" // extension control file missing
)

// fdwError explains an error raised inside the local database while
// postgres_fdw talked to the remote (IMPORT FOREIGN SCHEMA, probes).
func fdwError(local, remote *fleet.Database, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	text := pgErr.Message + " " + pgErr.Detail
	who := remote.ConfigVar + " (" + remote.ResourceName + ")"
	switch {
	case pgErr.Code == codePasswordRequired || strings.Contains(text, "does not request a password"):
		return errs.Wrap(errs.Unavailable, err, "%s accepted the connection from %s without asking for a password. "+
			"postgres_fdw lets non-superusers connect only to servers that ask for one: use password (scram-sha-256) authentication for TCP connections on the remote.",
			who, local.ConfigVar)
	case pgErr.Code == codeFDWUnableToConn || strings.HasPrefix(pgErr.Code, "08") || strings.Contains(text, "password authentication failed"):
		// Classified as cards classify a database (fleet.Classify).
		f := fleet.Classify(err)
		what := f.Cause.Words()
		if why := f.Explain(remote.HostPort(), remote.Host, "its config var", remote.DBName); why != "" {
			what += ": " + why
		}
		if f.Cause.Network() || f.Cause == fleet.CauseOther {
			return errs.Wrap(errs.Unavailable, err, "%s could not reach %s: %s", local.ConfigVar, who, what)
		}
		return errs.Wrap(errs.Unavailable, err, "%s refused the connection from %s: %s", who, local.ConfigVar, what)
	case pgErr.Code == codeUndefinedObject && strings.HasPrefix(pgErr.Message, "type "):
		return errs.Wrap(errs.Invalid, err, "A table of %s uses a type that %s lacks: %s. Create it in %s first (pglinks can copy enum types for you).",
			who, local.ConfigVar, pgErr.Message, local.ConfigVar)
	}
	return err
}
