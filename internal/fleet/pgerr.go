package fleet

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pglinks/pglinks/internal/errs"
)

// SQLSTATE codes that say a connection or a statement ended, not that the
// statement was wrong.
const (
	codeInvalidPassword = "28P01"
	codeInvalidAuthSpec = "28000"
	codeUnknownDatabase = "3D000"
	codeQueryCanceled   = "57014" // statement_timeout or a cancel request
	codeIdleInTxTimeout = "25P03"
	codeAdminShutdown   = "57P01"
)

// IsTimeout reports whether err means a statement ran out of time or its
// context ended (deadline, cancel request, statement_timeout).
func IsTimeout(err error) bool {
	switch PgCode(err) {
	case codeQueryCanceled, codeIdleInTxTimeout, codeAdminShutdown:
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || pgconn.Timeout(err)
}

// PgCode is the SQLSTATE of err, or "" when PostgreSQL did not raise it.
func PgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// ConnectError turns a failure to reach d from pglinks into a message that
// says which: unreachable, or credentials refused. Domain errors pass as
// they are.
func ConnectError(d *Database, err error) error {
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	reason := classifyConnErr(err)
	return errs.Wrap(errs.Unavailable, err, "%s (%s) %s", d.ConfigVar, d.ResourceName, reason)
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
