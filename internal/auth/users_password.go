package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pglinks/pglinks/internal/errs"
)

// RecordSignIn notes that the user signed in now, for the Users page.
func (s *Store) RecordSignIn(ctx context.Context, userID int64) (rerr error) {
	ctx, end := s.call(ctx, &rerr)
	defer end()
	if _, err := s.pool.Exec(ctx, "UPDATE pglinks.users SET last_sign_in_at = $2 WHERE id = $1", userID, s.now()); err != nil {
		return fmt.Errorf("auth: record sign-in of %d: %w", userID, err)
	}
	return nil
}

// ChangeOwnPassword replaces a user's password after checking the current
// one. Every other session of the user ends; keepSessionID (the one making
// the change) stays signed in. The change applies only if the hash the
// current password matched is still the user's: if an admin reset the
// password meanwhile (which also ended this session), the reset stands and
// the change is refused.
func (s *Store) ChangeOwnPassword(ctx context.Context, userID int64, current, next, keepSessionID string) error {
	hash, err := s.passwordHash(ctx, userID)
	if err != nil {
		return err
	}
	if len(current) > MaxPasswordLength {
		return errs.E(errs.Unauthorized, "The current password is not right.").OnField("current")
	}
	ok, err := verifyPassword(ctx, current, hash)
	if err != nil {
		return fmt.Errorf("auth: change password: %w", err)
	}
	if !ok {
		return errs.E(errs.Unauthorized, "The current password is not right.").OnField("current")
	}
	if err := validatePassword(next); err != nil {
		return errs.E(errs.Invalid, "%s", errs.MessageOf(err)).OnField("new")
	}
	if next == current {
		return errs.E(errs.Invalid, "The new password must differ from the current one.").OnField("new")
	}
	newHash, err := hashPassword(ctx, next)
	if err != nil {
		return err
	}
	runHook(s.hooks.afterVerify)
	return s.replacePassword(ctx, userID, hash, newHash, keepSessionID)
}

func (s *Store) passwordHash(ctx context.Context, userID int64) (_ string, rerr error) {
	ctx, end := s.call(ctx, &rerr)
	defer end()
	var hash string
	err := s.pool.QueryRow(ctx, "SELECT password_hash FROM pglinks.users WHERE id = $1", userID).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", errs.E(errs.NotFound, "No such user.")
	}
	if err != nil {
		return "", fmt.Errorf("auth: change password: %w", err)
	}
	return hash, nil
}

// replacePassword stores a new hash in place of verifiedHash, compare and
// swap, and ends every session of the user but keepSessionID.
func (s *Store) replacePassword(ctx context.Context, userID int64, verifiedHash, newHash, keepSessionID string) (rerr error) {
	ctx, end := s.call(ctx, &rerr)
	defer end()
	keep, _ := hashSessionID(keepSessionID)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("auth: change password: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	// A reset still in progress holds the row: this waits for it, then
	// compares with the hash it committed.
	tag, err := tx.Exec(ctx, "UPDATE pglinks.users SET password_hash = $3, updated_at = $4 WHERE id = $1 AND password_hash = $2",
		userID, verifiedHash, newHash, s.now())
	if err != nil {
		return fmt.Errorf("auth: change password: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errs.E(errs.Conflict, "Your password was changed or reset while you were changing it, so this change was not made. If you are signed out, sign in with the new password.")
	}
	if _, err := tx.Exec(ctx, "DELETE FROM pglinks.sessions WHERE user_id = $1 AND id_hash IS DISTINCT FROM $2", userID, keep); err != nil {
		return fmt.Errorf("auth: change password: end other sessions: %w", err)
	}
	runHook(s.hooks.beforePasswordCommit)
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("auth: change password: commit: %w", err)
	}
	return nil
}
