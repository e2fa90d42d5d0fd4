package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pglinks/pglinks/internal/errs"
)

// touchInterval limits last_seen_at writes to one a minute per session;
// idle expiry counted in hours does not need more precision.
const touchInterval = time.Minute

// Session is a signed-in browser. Only its id travels in the cookie; the
// rest lives in the state database, so logging out really ends it.
type Session struct {
	ID         string // 32 random bytes, base64url; only its sha256 is stored
	User       User   // as of this lookup, with the current role
	CSRFToken  string // bound to this session, sent back in every form
	CreatedAt  time.Time
	LastSeenAt time.Time
}

func errSessionEnded() error {
	return errs.E(errs.Unauthorized, "Your session has ended. Please sign in again.")
}

// newToken returns 32 random bytes, base64url without padding.
func newToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashSessionID returns the stored form of id, or false if id cannot be one
// of ours (so junk cookies never reach the database).
func hashSessionID(id string) ([]byte, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) != 32 {
		return nil, false
	}
	sum := sha256.Sum256([]byte(id))
	return sum[:], true
}

// SignIn checks an email and password and starts a new session for the
// user. Call it on every sign-in and never reuse an older session id: that
// is what prevents session fixation.
//
// The password check is slow on purpose, and the password may be reset or
// changed meanwhile. The session is stored only if the hash the password
// matched is still the user's at that moment; otherwise the sign-in fails
// as a wrong password would, since the password typed is no longer valid.
func (s *Store) SignIn(ctx context.Context, email, password string) (*Session, error) {
	u, hash, err := s.authenticate(ctx, email, password)
	if err != nil {
		return nil, err
	}
	runHook(s.hooks.afterVerify)
	return s.createSession(ctx, u.ID, hash)
}

// createSession starts a session for userID if its password hash is still
// verifiedHash. It also sweeps expired sessions, so the table does not grow
// without bound.
func (s *Store) createSession(ctx context.Context, userID int64, verifiedHash string) (_ *Session, rerr error) {
	ctx, end := s.call(ctx, &rerr)
	defer end()
	now := s.now()
	sess := &Session{ID: newToken(), CSRFToken: newToken(), CreatedAt: now, LastSeenAt: now}
	idHash, _ := hashSessionID(sess.ID)

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: create session: begin: %w", err)
	}
	defer tx.Rollback(ctx)

	if _, err := tx.Exec(ctx,
		"DELETE FROM pglinks.sessions WHERE last_seen_at < $1 OR created_at < $2",
		now.Add(-s.IdleTimeout), now.Add(-s.AbsoluteTimeout)); err != nil {
		return nil, fmt.Errorf("auth: sweep sessions: %w", err)
	}
	// FOR SHARE, not only the comparison: a reset whose transaction is
	// still open has already ended the user's sessions but not yet
	// committed its new hash, so this statement's snapshot still sees the
	// old one. The lock waits for that reset and then compares with the
	// hash it committed; a reset that comes later waits for this session
	// to commit and ends it.
	tag, err := tx.Exec(ctx,
		`WITH u AS (
			SELECT id FROM pglinks.users WHERE id = $2 AND password_hash = $5 FOR SHARE
		)
		INSERT INTO pglinks.sessions (id_hash, user_id, csrf_token, created_at, last_seen_at)
		SELECT $1, u.id, $3, $4, $4 FROM u`, idHash, userID, sess.CSRFToken, now, verifiedHash)
	if err != nil {
		return nil, fmt.Errorf("auth: create session: %w", err)
	}
	if tag.RowsAffected() == 0 {
		// The password was changed or reset, or the user removed,
		// since the password was checked.
		return nil, errInvalidCredentials()
	}
	u, err := scanUser(tx.QueryRow(ctx, "SELECT "+userColumns+" FROM pglinks.users WHERE id = $1", userID))
	if err != nil {
		return nil, fmt.Errorf("auth: create session: read user: %w", err)
	}
	sess.User = *u
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("auth: create session: commit: %w", err)
	}
	return sess, nil
}

// LookupSession returns the live session with id and its user's current
// role. Unknown and expired sessions are errs.Unauthorized; an expired one
// is deleted on the spot.
func (s *Store) LookupSession(ctx context.Context, id string) (_ *Session, rerr error) {
	ctx, end := s.call(ctx, &rerr)
	defer end()
	idHash, ok := hashSessionID(id)
	if !ok {
		return nil, errSessionEnded()
	}
	sess := &Session{ID: id}
	var role string
	err := s.pool.QueryRow(ctx,
		`SELECT s.csrf_token, s.created_at, s.last_seen_at, u.id, u.email, u.role, u.created_at
		 FROM pglinks.sessions s JOIN pglinks.users u ON u.id = s.user_id
		 WHERE s.id_hash = $1`, idHash).
		Scan(&sess.CSRFToken, &sess.CreatedAt, &sess.LastSeenAt,
			&sess.User.ID, &sess.User.Email, &role, &sess.User.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errSessionEnded()
	}
	if err != nil {
		return nil, fmt.Errorf("auth: look up session: %w", err)
	}
	sess.User.Role = Role(role)

	now := s.now()
	if now.Sub(sess.LastSeenAt) > s.IdleTimeout || now.Sub(sess.CreatedAt) > s.AbsoluteTimeout {
		if err := s.deleteSessionHash(ctx, idHash); err != nil {
			return nil, err
		}
		return nil, errSessionEnded()
	}
	if now.Sub(sess.LastSeenAt) >= touchInterval {
		if _, err := s.pool.Exec(ctx,
			"UPDATE pglinks.sessions SET last_seen_at = $2 WHERE id_hash = $1", idHash, now); err != nil {
			return nil, fmt.Errorf("auth: touch session: %w", err)
		}
		sess.LastSeenAt = now
	}
	return sess, nil
}

// DeleteSession ends the session with id. Ending one that does not exist is
// not an error: logging out twice is harmless.
func (s *Store) DeleteSession(ctx context.Context, id string) (rerr error) {
	ctx, end := s.call(ctx, &rerr)
	defer end()
	idHash, ok := hashSessionID(id)
	if !ok {
		return nil
	}
	return s.deleteSessionHash(ctx, idHash)
}

// DeleteUserSessions ends every session of a user ("sign out everywhere").
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) (rerr error) {
	ctx, end := s.call(ctx, &rerr)
	defer end()
	if _, err := s.pool.Exec(ctx, "DELETE FROM pglinks.sessions WHERE user_id = $1", userID); err != nil {
		return fmt.Errorf("auth: end sessions of user %d: %w", userID, err)
	}
	return nil
}

func (s *Store) deleteSessionHash(ctx context.Context, idHash []byte) error {
	if _, err := s.pool.Exec(ctx, "DELETE FROM pglinks.sessions WHERE id_hash = $1", idHash); err != nil {
		return fmt.Errorf("auth: delete session: %w", err)
	}
	return nil
}
