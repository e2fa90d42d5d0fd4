package links

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// SQLSTATE codes pglinks reacts to.
const (
	codeUniqueViolation   = "23505"
	codeDuplicateObject   = "42710"
	codeDuplicateSchema   = "42P06"
	codeLockNotAvailable  = "55P03"
	codeUndefinedObject   = "42704"
	codeInsufficientPriv  = "42501"
	codeInvalidPassword   = "28P01"
	codeInvalidAuthSpec   = "28000"
	codeUnknownDatabase   = "3D000"
	codeFDWUnableToConn   = "08001"
	codePasswordRequired  = "2F003"
	codeFeatureNotSupport = "0A000"
	codeUndefinedFile     = "58P01" // extension control file missing
	codeQueryCanceled     = "57014" // statement_timeout or a cancel request
	codeIdleInTxTimeout   = "25P03"
	codeAdminShutdown     = "57P01"
)

// isTimeout reports whether err means a statement ran out of time or its
// context ended (deadline, cancel request, statement_timeout).
func isTimeout(err error) bool {
	switch pgCode(err) {
	case codeQueryCanceled, codeIdleInTxTimeout, codeAdminShutdown:
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || pgconn.Timeout(err)
}

func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// classifyConnErr says in a few words why a connection from pglinks failed,
// without echoing the connection string.
func classifyConnErr(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case codeInvalidPassword:
			return "rejected the credentials in its config var (password authentication failed)"
		case codeInvalidAuthSpec:
			return "refused the connection: " + pgErr.Message
		case codeUnknownDatabase:
			return "is reachable but the database does not exist"
		}
		return "refused the connection: " + pgErr.Message
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "is unreachable: no answer in time"
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		msg := opErr.Err.Error()
		switch {
		case strings.Contains(msg, "refused"):
			return "is unreachable: connection refused"
		case opErr.Timeout():
			return "is unreachable: no answer in time"
		}
		return "is unreachable: " + msg
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "is unreachable: host name not found"
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "timeout"), strings.Contains(msg, "deadline"):
		return "is unreachable: no answer in time"
	case strings.Contains(msg, "refused"):
		return "is unreachable: connection refused"
	case strings.Contains(msg, "password authentication failed"):
		return "rejected the credentials in its config var (password authentication failed)"
	}
	return "is unreachable"
}

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
	case strings.Contains(text, "password authentication failed"):
		return errs.Wrap(errs.Unavailable, err, "%s rejected the credentials of its config var when %s connected (password authentication failed).", who, local.ConfigVar)
	case pgErr.Code == codeFDWUnableToConn || strings.HasPrefix(pgErr.Code, "08"):
		return errs.Wrap(errs.Unavailable, err, "%s could not reach %s: %s", local.ConfigVar, who, shortReason(pgErr.Detail))
	case pgErr.Code == codeUndefinedObject && strings.HasPrefix(pgErr.Message, "type "):
		return errs.Wrap(errs.Invalid, err, "A table of %s uses a type that %s lacks: %s. Create it in %s first (pglinks can copy enum types for you).",
			who, local.ConfigVar, pgErr.Message, local.ConfigVar)
	}
	return err
}

// shortReason trims libpq's multi-line detail to its first useful line.
func shortReason(detail string) string {
	detail = strings.TrimSpace(detail)
	if i := strings.IndexByte(detail, '\n'); i > 0 {
		detail = detail[:i]
	}
	if detail == "" {
		return "connection failed"
	}
	return detail
}
