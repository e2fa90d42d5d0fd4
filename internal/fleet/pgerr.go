package fleet

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pglinks/pglinks/internal/errs"
)

// SQLSTATE codes that say a connection or a statement ended, not that the
// statement was wrong.
const (
	codeInvalidPassword  = "28P01"
	codeInvalidAuthSpec  = "28000"
	codeUnknownDatabase  = "3D000"
	codeQueryCanceled    = "57014" // statement_timeout or a cancel request
	codeIdleInTxTimeout  = "25P03"
	codeAdminShutdown    = "57P01"
	codeCrashShutdown    = "57P02"
	codeCannotConnectNow = "57P03" // starting up, shutting down, recovering
	codeTooManyConns     = "53300"
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

// Ended reports whether err says the server ended the connection itself
// (its backend was terminated: SQLSTATE 57P01, 57P02), rather than a
// statement running out of time: a new connection may well be answered at
// once.
func Ended(err error) bool {
	switch PgCode(err) {
	case codeAdminShutdown, codeCrashShutdown:
		return true
	}
	return false
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
// names the database and says why, by its cause (Classify): "...
// is unreachable: connection refused: ...", "...: answered: password
// refused: ...". Domain errors pass as they are.
func ConnectError(d *Database, err error) error {
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	return errs.Wrap(errs.Unavailable, err, "%s (%s) %s", d.ConfigVar, d.ResourceName, Classify(err).Sentence(d))
}
