package links

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// Work on one link is serialised by an advisory lock keyed on its name in
// the local database. Changes and plans (which run their DDL in a
// rolled-back savepoint) hold it exclusively; probes hold it shared and
// skip a link whose lock is held or awaited exclusively. So pglinks' own
// probe can never take the link's catalog locks in the other order from a
// change and deadlock with it.
const linkLockKey = "hashtextextended('pglinks:link:' || $1, 0)"

// lockLink takes the link's lock exclusively. A second process waits at
// most timeout, then gets a clear message instead of a unique-violation
// from the catalog.
func lockLink(ctx context.Context, tx pgx.Tx, name string, timeout time.Duration) error {
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", timeout.Milliseconds())); err != nil {
		return fmt.Errorf("links: lock_timeout: %w", err)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock("+linkLockKey+")", name); err != nil {
		if fleet.PgCode(err) == codeLockNotAvailable {
			return errs.Wrap(errs.Conflict, err, "Another pglinks operation on link %q is in progress. Try again in a moment.", name).OnField("name")
		}
		return fmt.Errorf("links: lock %s: %w", name, err)
	}
	return nil
}

// errLinkBusy is what a probe answers when a change holds the link.
var errLinkBusy = errors.New("a change to the link is in progress")

// tryLinkShared takes the link's lock in shared mode without waiting;
// errLinkBusy when a change holds it or waits for it.
func tryLinkShared(ctx context.Context, tx pgx.Tx, name string) error {
	var ok bool
	if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock_shared("+linkLockKey+")", name).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return errLinkBusy
	}
	return nil
}

const (
	codeDeadlock      = "40P01"
	codeSerialization = "40001"
)

// collisionAttempts bounds how often a change that PostgreSQL rolled back
// for a deadlock or a serialization failure (against someone else's
// session: pglinks' own work is serialised by the link lock) is tried
// again.
const collisionAttempts = 3

// retryCollisions runs op again when it failed with a deadlock or a
// serialization failure, a bounded number of times; the last such failure
// becomes a retryable conflict naming what happened, never an internal
// error. Every attempt is a whole transaction, so nothing of a failed one
// remains.
func retryCollisions[T any](ctx context.Context, what, name string, op func() (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := op()
		code := fleet.PgCode(err)
		if code != codeDeadlock && code != codeSerialization {
			return v, err
		}
		if attempt == collisionAttempts || ctx.Err() != nil {
			return v, errs.Wrap(errs.Conflict, err, "The %s of link %q collided with other work on the database (%s, %d attempts) and was rolled back; nothing was changed. Try again in a moment.", what, name, pgMessage(err), attempt)
		}
		select {
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}
