package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/pglinks/pglinks/internal/errs"
)

// Personal API tokens authenticate /api/v1 requests (and so the CLI) as
// their user, with the user's role as it is at each request. A token is
// TokenPrefix and 32 random bytes in base64url: recognisable, so a leaked
// one is found by grepping for "pgl_", and impossible to guess, so a
// lookup by its sha256 needs no constant-time comparison.
const (
	TokenPrefix = "pgl_"
	// tokenLen is TokenPrefix plus 43 base64url characters.
	tokenLen = len(TokenPrefix) + 43
	// tokenShownPrefix is how many characters of a token lists show.
	tokenShownPrefix = len(TokenPrefix) + 6
	// MaxTokenName bounds a token's name.
	MaxTokenName = 64
	// MaxTokensPerUser bounds how many live tokens one user may hold.
	MaxTokensPerUser = 50
)

// APIToken is a token as lists show it: never the token itself.
type APIToken struct {
	ID     int64
	UserID int64
	// Email is the owner's, for the admins' view of everyone's tokens.
	Email string
	Name  string
	// Prefix is the token's first characters ("pgl_Ab3xYz"), to tell
	// tokens apart.
	Prefix    string
	CreatedAt time.Time
	// ExpiresAt is zero for a token that does not expire.
	ExpiresAt time.Time
	// LastUsedAt is zero for a token never used; it is written at most
	// once a minute.
	LastUsedAt time.Time
}

// Expired reports whether t no longer authenticates at now.
func (t APIToken) Expired(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}

// TokenUse is a request's token and its user as they are now.
type TokenUse struct {
	Token APIToken
	User  User
}

// Actor is how the audit trail names what a token did:
// "alice@example.com (token ci-deploy)".
func (u *TokenUse) Actor() string { return fmt.Sprintf("%s (token %s)", u.User.Email, u.Token.Name) }

// ValidateTokenName checks a token's name: 1 to MaxTokenName characters
// that show as themselves (no control, format or separator characters), so
// the audit trail and the lists read as typed.
func ValidateTokenName(name string) error {
	if strings.TrimSpace(name) == "" {
		return errs.E(errs.Invalid, "Give the token a name, such as the script or machine that will use it.").OnField("name")
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxTokenName {
		return errs.E(errs.Invalid, "A token name is at most %d characters.", MaxTokenName).OnField("name")
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r) {
			return errs.E(errs.Invalid, "A token name may not hold invisible or control characters (found U+%04X).", r).OnField("name")
		}
	}
	return nil
}

// newAPIToken returns a fresh token.
func newAPIToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// hashAPIToken returns the stored form of a token, or false when s cannot
// be one of ours (so junk never reaches the database).
func hashAPIToken(s string) ([]byte, bool) {
	if len(s) != tokenLen || !strings.HasPrefix(s, TokenPrefix) {
		return nil, false
	}
	if raw, err := base64.RawURLEncoding.DecodeString(s[len(TokenPrefix):]); err != nil || len(raw) != 32 {
		return nil, false
	}
	sum := sha256.Sum256([]byte(s))
	return sum[:], true
}

// CreateToken makes a token named name for userID, expiring at expiresAt
// (zero: never). The token is returned here and nowhere else: only its
// hash is stored.
func (s *Store) CreateToken(ctx context.Context, userID int64, name string, expiresAt time.Time) (_ *APIToken, secret string, rerr error) {
	name = strings.TrimSpace(name)
	if err := ValidateTokenName(name); err != nil {
		return nil, "", err
	}
	now := s.now()
	if !expiresAt.IsZero() && !expiresAt.After(now) {
		return nil, "", errs.E(errs.Invalid, "The expiry must be in the future.").OnField("expires")
	}
	ctx, end := s.call(ctx, &rerr)
	defer end()
	secret = newAPIToken()
	hash, _ := hashAPIToken(secret)
	var expires *time.Time
	if !expiresAt.IsZero() {
		expires = &expiresAt
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("auth: create token: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	// The user's row is locked so two creates at once count each other.
	var email string
	err = tx.QueryRow(ctx, "SELECT email FROM pglinks.users WHERE id = $1 FOR UPDATE", userID).Scan(&email)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", errs.E(errs.NotFound, "No such user.")
	}
	if err != nil {
		return nil, "", fmt.Errorf("auth: create token: %w", err)
	}
	var n int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM pglinks.api_tokens WHERE user_id = $1", userID).Scan(&n); err != nil {
		return nil, "", fmt.Errorf("auth: create token: count: %w", err)
	}
	if n >= MaxTokensPerUser {
		return nil, "", errs.E(errs.Conflict, "You have %d tokens, the most one user may hold: revoke one you no longer use first.", n).OnField("name")
	}
	t := &APIToken{UserID: userID, Email: email, Name: name, Prefix: secret[:tokenShownPrefix], CreatedAt: now, ExpiresAt: expiresAt}
	err = tx.QueryRow(ctx,
		`INSERT INTO pglinks.api_tokens (user_id, name, hash, prefix, created_at, expires_at)
		 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		userID, name, hash, t.Prefix, now, expires).Scan(&t.ID)
	if isUniqueViolation(err) {
		return nil, "", errs.E(errs.Conflict, "You already have a token named %q: choose another name, or revoke that one first.", name).OnField("name")
	}
	if err != nil {
		return nil, "", fmt.Errorf("auth: create token: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, "", fmt.Errorf("auth: create token: commit: %w", err)
	}
	return t, secret, nil
}

const tokenColumns = "t.id, t.user_id, u.email, t.name, t.prefix, t.created_at, t.expires_at, t.last_used_at"

func scanToken(row pgx.Row) (APIToken, error) {
	var t APIToken
	var expires, used *time.Time
	if err := row.Scan(&t.ID, &t.UserID, &t.Email, &t.Name, &t.Prefix, &t.CreatedAt, &expires, &used); err != nil {
		return t, err
	}
	if expires != nil {
		t.ExpiresAt = *expires
	}
	if used != nil {
		t.LastUsedAt = *used
	}
	return t, nil
}

// ListTokens returns the tokens of userID, or of every user when userID
// is 0 (the admins' view), by owner then name.
func (s *Store) ListTokens(ctx context.Context, userID int64) (_ []APIToken, rerr error) {
	ctx, end := s.call(ctx, &rerr)
	defer end()
	rows, err := s.pool.Query(ctx,
		`SELECT `+tokenColumns+` FROM pglinks.api_tokens t JOIN pglinks.users u ON u.id = t.user_id
		 WHERE $1 = 0 OR t.user_id = $1 ORDER BY u.email, t.name`, userID)
	if err != nil {
		return nil, fmt.Errorf("auth: list tokens: %w", err)
	}
	ts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (APIToken, error) { return scanToken(row) })
	if err != nil {
		return nil, fmt.Errorf("auth: list tokens: %w", err)
	}
	return ts, nil
}

// RevokeToken deletes token id, if it belongs to ownerID (any owner when
// ownerID is 0: an admin revoking someone's). It returns what was revoked,
// for the audit trail. A token that is not there (already revoked, or
// someone else's) is errs.NotFound.
func (s *Store) RevokeToken(ctx context.Context, id, ownerID int64) (_ *APIToken, rerr error) {
	ctx, end := s.call(ctx, &rerr)
	defer end()
	t, err := scanToken(s.pool.QueryRow(ctx,
		`WITH gone AS (
			DELETE FROM pglinks.api_tokens WHERE id = $1 AND ($2 = 0 OR user_id = $2)
			RETURNING id, user_id, name, prefix, created_at, expires_at, last_used_at
		)
		SELECT `+tokenColumns+` FROM gone t JOIN pglinks.users u ON u.id = t.user_id`, id, ownerID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "There is no such token: it may have been revoked already.")
	}
	if err != nil {
		return nil, fmt.Errorf("auth: revoke token %d: %w", id, err)
	}
	return &t, nil
}

func errTokenRefused() error {
	return errs.E(errs.Unauthorized, "The API token is unknown, revoked or expired. Create one on your Account page.")
}

// LookupToken authenticates a request's token: its user with their
// current role (a role change applies at the next request; a removed
// user's tokens are gone with the user). Unknown, revoked and expired
// tokens are errs.Unauthorized.
func (s *Store) LookupToken(ctx context.Context, secret string) (_ *TokenUse, rerr error) {
	hash, ok := hashAPIToken(secret)
	if !ok {
		return nil, errTokenRefused()
	}
	ctx, end := s.call(ctx, &rerr)
	defer end()
	var use TokenUse
	var role string
	var expires, used *time.Time
	err := s.pool.QueryRow(ctx,
		`SELECT t.id, t.name, t.prefix, t.created_at, t.expires_at, t.last_used_at, u.id, u.email, u.role, u.created_at
		 FROM pglinks.api_tokens t JOIN pglinks.users u ON u.id = t.user_id
		 WHERE t.hash = $1`, hash).
		Scan(&use.Token.ID, &use.Token.Name, &use.Token.Prefix, &use.Token.CreatedAt, &expires, &used,
			&use.User.ID, &use.User.Email, &role, &use.User.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errTokenRefused()
	}
	if err != nil {
		return nil, fmt.Errorf("auth: look up token: %w", err)
	}
	use.User.Role = Role(role)
	use.Token.UserID, use.Token.Email = use.User.ID, use.User.Email
	if expires != nil {
		use.Token.ExpiresAt = *expires
	}
	if used != nil {
		use.Token.LastUsedAt = *used
	}
	now := s.now()
	if use.Token.Expired(now) {
		return nil, errTokenRefused()
	}
	if now.Sub(use.Token.LastUsedAt) >= touchInterval {
		if _, err := s.pool.Exec(ctx, "UPDATE pglinks.api_tokens SET last_used_at = $2 WHERE id = $1", use.Token.ID, now); err != nil {
			return nil, fmt.Errorf("auth: touch token: %w", err)
		}
		use.Token.LastUsedAt = now
	}
	return &use, nil
}
