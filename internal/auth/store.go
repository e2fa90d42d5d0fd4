// Package auth holds who may use pglinks and what they did: users and their
// roles, password hashes, server-side sessions with their cookies and CSRF
// tokens, login throttling, and the audit trail. It knows nothing of Echo or
// templ; the HTTP layer calls it.
package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/state"
)

// Default session lifetimes: long enough for a working day, short enough that
// a forgotten browser does not stay signed in overnight.
const (
	DefaultIdleTimeout     = 2 * time.Hour
	DefaultAbsoluteTimeout = 12 * time.Hour
)

// Store keeps users, sessions and the audit trail in the state database
// (PGLINKS_STATE_URL), inside the schema "pglinks", which package state
// opens and migrates.
type Store struct {
	// IdleTimeout ends a session nobody used for this long.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after sign-in, used or not.
	AbsoluteTimeout time.Duration
	// CallTimeout bounds each call to the state database (default
	// DefaultCallTimeout).
	CallTimeout time.Duration

	pool  *pgxpool.Pool
	now   func() time.Time // replaced in tests to travel in time
	hooks testHooks
}

// testHooks let a test pause a call between two of its steps, to run a
// race in a chosen order instead of hoping for it. All nil outside tests.
type testHooks struct {
	// afterVerify runs once a password was checked against the stored
	// hash, before anything is written (SignIn, ChangeOwnPassword).
	afterVerify func()
	// beforePasswordCommit runs inside a password change's or reset's
	// transaction, after its writes and before its commit.
	beforePasswordCommit func()
}

func runHook(f func()) {
	if f != nil {
		f()
	}
}

// NewStore keeps its records in db, which its owner closes.
func NewStore(db *state.DB) *Store {
	return &Store{
		IdleTimeout:     DefaultIdleTimeout,
		AbsoluteTimeout: DefaultAbsoluteTimeout,
		pool:            db.Pool(),
		now:             time.Now,
	}
}

// Pool is the connection pool to the state database.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// DefaultCallTimeout bounds every call to the state database.
const DefaultCallTimeout = state.DefaultCallTimeout

// ErrStateUnavailable marks failures to reach the state database.
var ErrStateUnavailable = errors.New("state database unavailable")

// call bounds one call to the state database and, when it ends, turns a
// failure to reach the database (refused, timed out, cut) into an
// errs.Unavailable that names the state database, so pages answer 503 with
// a message rather than hang or say "internal error".
func (s *Store) call(ctx context.Context, errp *error) (context.Context, func()) {
	timeout := s.CallTimeout
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() {
		cancel()
		if *errp != nil && errs.KindOf(*errp) == errs.Internal && unreachable(*errp) {
			*errp = errs.Wrap(errs.Unavailable, fmt.Errorf("%w: %w", ErrStateUnavailable, *errp),
				"The state database (PGLINKS_STATE_URL) is not answering, so pglinks cannot check sign-ins or record changes right now. Try again in a moment; if it persists, check that database.")
		}
	}
}

// unreachable reports whether err means the database could not be reached
// or did not answer in time, as opposed to a query that failed.
func unreachable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || pgconn.Timeout(err) {
		return true
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// connection exceptions, operator intervention (shutdown), cancel
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57")
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}
