package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pglinks/pglinks/internal/errs"
)

// Role decides what a user may do.
type Role string

const (
	// RoleAdmin may create, destroy and change everything, users included.
	RoleAdmin Role = "admin"
	// RoleViewer sees the inventory, links and foreign tables, and changes nothing.
	RoleViewer Role = "viewer"
)

// ParseRole accepts exactly "admin" or "viewer" (case and surrounding space
// are forgiven, since it comes from a CLI flag or a form).
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case RoleAdmin, RoleViewer:
		return r, nil
	}
	return "", errs.E(errs.Invalid, "Role must be admin or viewer.").OnField("role")
}

func (r Role) valid() bool { return r == RoleAdmin || r == RoleViewer }

// User is an account, without its password hash.
type User struct {
	ID        int64
	Email     string
	Role      Role
	CreatedAt time.Time
	// LastSignInAt is when the user last signed in; zero when never.
	LastSignInAt time.Time
}

// IsAdmin reports whether u may change things.
func (u User) IsAdmin() bool { return u.Role == RoleAdmin }

// usersLockKey serialises changes that could leave no admin behind: two
// admins removing each other at once must not both succeed.
const usersLockKey int64 = 0x70676c696e6b75

const userColumns = "id, email, role, created_at, last_sign_in_at"

func scanUser(row pgx.Row) (*User, error) {
	var u User
	var role string
	var last *time.Time
	if err := row.Scan(&u.ID, &u.Email, &role, &u.CreatedAt, &last); err != nil {
		return nil, err
	}
	u.Role = Role(role)
	if last != nil {
		u.LastSignInAt = *last
	}
	return &u, nil
}

// AddUser creates an account. The email is normalised (trimmed, lowercased).
func (s *Store) AddUser(ctx context.Context, email string, role Role, password string) (*User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if !role.valid() {
		return nil, errs.E(errs.Invalid, "Role must be admin or viewer.").OnField("role")
	}
	if err := validatePassword(password); err != nil {
		return nil, err
	}
	// Hashing is slow on purpose: it is not a database call and does not
	// count against the state database's deadline.
	hash, err := hashPassword(ctx, password)
	if err != nil {
		return nil, err
	}
	return s.insertUser(ctx, email, role, hash)
}

func (s *Store) insertUser(ctx context.Context, email string, role Role, hash string) (_ *User, rerr error) {
	ctx, end := s.call(ctx, &rerr)
	defer end()
	u, err := scanUser(s.pool.QueryRow(ctx,
		`INSERT INTO pglinks.users (email, role, password_hash, created_at, updated_at)
		 VALUES ($1, $2, $3, $4, $4) RETURNING `+userColumns,
		email, string(role), hash, s.now()))
	if isUniqueViolation(err) {
		return nil, errs.E(errs.Conflict, "A user with email %s already exists.", email).OnField("email")
	}
	if err != nil {
		return nil, fmt.Errorf("auth: add user %s: %w", email, err)
	}
	return u, nil
}

// ListUsers returns every account, ordered by email.
func (s *Store) ListUsers(ctx context.Context) (_ []User, rerr error) {
	ctx, end := s.call(ctx, &rerr)
	defer end()
	rows, err := s.pool.Query(ctx, "SELECT "+userColumns+" FROM pglinks.users ORDER BY email")
	if err != nil {
		return nil, fmt.Errorf("auth: list users: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (User, error) {
		u, err := scanUser(row)
		if err != nil {
			return User{}, err
		}
		return *u, nil
	})
	if err != nil {
		return nil, fmt.Errorf("auth: list users: %w", err)
	}
	return users, nil
}

// GetUser returns the account with id.
func (s *Store) GetUser(ctx context.Context, id int64) (_ *User, rerr error) {
	ctx, end := s.call(ctx, &rerr)
	defer end()
	u, err := scanUser(s.pool.QueryRow(ctx, "SELECT "+userColumns+" FROM pglinks.users WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "No such user.")
	}
	if err != nil {
		return nil, fmt.Errorf("auth: get user %d: %w", id, err)
	}
	return u, nil
}

// RemoveUser deletes an account and, through the foreign key, its sessions.
// The last admin cannot be removed: nobody could manage users afterwards.
func (s *Store) RemoveUser(ctx context.Context, email string) (rerr error) {
	ctx, end := s.call(ctx, &rerr)
	defer end()
	email = normalizeEmail(email)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("auth: remove user: begin: %w", err)
	}
	defer tx.Rollback(ctx)

	u, err := lockUser(ctx, tx, email)
	if err != nil {
		return err
	}
	if u.Role == RoleAdmin {
		if err := ensureOtherAdmin(ctx, tx, "remove"); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, "DELETE FROM pglinks.users WHERE id = $1", u.ID); err != nil {
		return fmt.Errorf("auth: remove user %s: %w", email, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("auth: remove user %s: commit: %w", email, err)
	}
	return nil
}

// SetRole changes a user's role. It takes effect on the user's next request:
// LookupSession reads the role from the users table, not from the session.
// The last admin cannot be demoted.
func (s *Store) SetRole(ctx context.Context, email string, role Role) (rerr error) {
	ctx, end := s.call(ctx, &rerr)
	defer end()
	if !role.valid() {
		return errs.E(errs.Invalid, "Role must be admin or viewer.").OnField("role")
	}
	email = normalizeEmail(email)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("auth: set role: begin: %w", err)
	}
	defer tx.Rollback(ctx)

	u, err := lockUser(ctx, tx, email)
	if err != nil {
		return err
	}
	if u.Role == role {
		return nil
	}
	if u.Role == RoleAdmin {
		if err := ensureOtherAdmin(ctx, tx, "demote"); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, "UPDATE pglinks.users SET role = $2, updated_at = $3 WHERE id = $1",
		u.ID, string(role), s.now()); err != nil {
		return fmt.Errorf("auth: set role of %s: %w", email, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("auth: set role of %s: commit: %w", email, err)
	}
	return nil
}

// SetPassword replaces a user's password, ends all their sessions and
// revokes their API tokens, since a reset usually means the old password
// leaked. All happen in one
// transaction: no session of the user outlives the new hash, so a session
// racing the reset cannot change the password after it.
func (s *Store) SetPassword(ctx context.Context, email, password string) error {
	email = normalizeEmail(email)
	if err := validatePassword(password); err != nil {
		return err
	}
	hash, err := hashPassword(ctx, password)
	if err != nil {
		return err
	}
	return s.storePassword(ctx, email, hash)
}

func (s *Store) storePassword(ctx context.Context, email, hash string) (rerr error) {
	ctx, end := s.call(ctx, &rerr)
	defer end()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("auth: set password: begin: %w", err)
	}
	defer tx.Rollback(ctx)

	u, err := lockUser(ctx, tx, email)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "UPDATE pglinks.users SET password_hash = $2, updated_at = $3 WHERE id = $1",
		u.ID, hash, s.now()); err != nil {
		return fmt.Errorf("auth: set password of %s: %w", email, err)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM pglinks.sessions WHERE user_id = $1", u.ID); err != nil {
		return fmt.Errorf("auth: end sessions of %s: %w", email, err)
	}
	// A reset answers a password that leaked: whoever held it may have
	// made an API token with it, which must not outlive the reset.
	if _, err := tx.Exec(ctx, "DELETE FROM pglinks.api_tokens WHERE user_id = $1", u.ID); err != nil {
		return fmt.Errorf("auth: revoke API tokens of %s: %w", email, err)
	}
	runHook(s.hooks.beforePasswordCommit)
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("auth: set password of %s: commit: %w", email, err)
	}
	return nil
}

// lockUser takes the users lock and returns the account with email.
func lockUser(ctx context.Context, tx pgx.Tx, email string) (*User, error) {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", usersLockKey); err != nil {
		return nil, fmt.Errorf("auth: lock users: %w", err)
	}
	u, err := scanUser(tx.QueryRow(ctx,
		"SELECT "+userColumns+" FROM pglinks.users WHERE email = $1 FOR UPDATE", email))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "No user with email %s.", email).OnField("email")
	}
	if err != nil {
		return nil, fmt.Errorf("auth: find user %s: %w", email, err)
	}
	return u, nil
}

// ensureOtherAdmin refuses when the admin being changed is the only one.
func ensureOtherAdmin(ctx context.Context, tx pgx.Tx, verb string) error {
	var admins int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM pglinks.users WHERE role = 'admin'").Scan(&admins); err != nil {
		return fmt.Errorf("auth: count admins: %w", err)
	}
	if admins <= 1 {
		return errs.E(errs.Conflict, "Cannot %s the last admin; make another user admin first.", verb)
	}
	return nil
}

// Authenticate checks an email and password. Unknown email and wrong password
// give the same error and cost the same hash, so neither the message nor the
// timing tells which accounts exist. Sign-ins use SignIn, which also starts
// the session.
func (s *Store) Authenticate(ctx context.Context, email, password string) (*User, error) {
	u, _, err := s.authenticate(ctx, email, password)
	return u, err
}

// errInvalidCredentials is the one answer to a sign-in that fails for a
// reason the user could act on by typing something else.
func errInvalidCredentials() error {
	return errs.E(errs.Unauthorized, "Invalid email or password.")
}

// authenticate is Authenticate, also returning the stored hash the password
// matched, so that what follows can insist it is still the user's.
func (s *Store) authenticate(ctx context.Context, email, password string) (*User, string, error) {
	email = normalizeEmail(email)
	u, hash, found, err := s.credentials(ctx, email)
	if err != nil {
		return nil, "", err
	}
	verifyAgainst := hash
	if !found || len(password) > MaxPasswordLength {
		verifyAgainst = dummyHash()
	}
	ok, err := verifyPassword(ctx, password, verifyAgainst)
	if err != nil {
		// Waiting for a hashing slot ended (busy server, or the request
		// went away): the password was not checked.
		return nil, "", errs.Wrap(errs.Unavailable, err, "Sign-in is busy right now; the password was not checked. Try again in a moment.")
	}
	if !found || !ok || len(password) > MaxPasswordLength {
		return nil, "", errInvalidCredentials()
	}
	return u, hash, nil
}

// credentials reads an account's password hash; found is false for an
// unknown email.
func (s *Store) credentials(ctx context.Context, email string) (_ *User, hash string, found bool, rerr error) {
	ctx, end := s.call(ctx, &rerr)
	defer end()
	var u User
	var role string
	err := s.pool.QueryRow(ctx,
		"SELECT id, email, role, created_at, password_hash FROM pglinks.users WHERE email = $1", email).
		Scan(&u.ID, &u.Email, &role, &u.CreatedAt, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, fmt.Errorf("auth: authenticate: %w", err)
	}
	u.Role = Role(role)
	return &u, hash, true, nil
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
