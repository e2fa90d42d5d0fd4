package auth

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
)

func TestParseRole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Role
		ok   bool
	}{
		{"admin", RoleAdmin, true},
		{"viewer", RoleViewer, true},
		{" Admin ", RoleAdmin, true},
		{"", "", false},
		{"root", "", false},
		{"admins", "", false},
		{"view", "", false},
	}
	for _, tt := range tests {
		got, err := ParseRole(tt.in)
		if tt.ok && (err != nil || got != tt.want) {
			t.Errorf("ParseRole(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if !tt.ok {
			assertKind(t, err, errs.Invalid, "role")
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"ada@example.com", "ada@example.com", true},
		{"  Ada.Lovelace@Example.COM \n", "ada.lovelace@example.com", true},
		{"ops+pglinks@db.internal", "ops+pglinks@db.internal", true},
		{"admin@localhost", "admin@localhost", true},
		{"", "", false},
		{"ada", "", false},
		{"@example.com", "", false},
		{"ada@", "", false},
		{"ada@@example.com", "", false},
		{"a@b@example.com", "", false},
		{"ada lovelace@example.com", "", false},
		{"Ada <ada@example.com>", "", false},
		{"ada@example..com", "", false},
		{"ada@.example.com", "", false},
		{".ada@example.com", "", false},
		{"ada\x00@example.com", "", false},
		{"ada@exa\tmple.com", "", false},
		{strings.Repeat("a", 65) + "@example.com", "", false},
		{"a@" + strings.Repeat("b", 260), "", false},
	}
	for _, tt := range tests {
		got, err := NormalizeEmail(tt.in)
		if tt.ok && (err != nil || got != tt.want) {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if !tt.ok {
			assertKind(t, err, errs.Invalid, "email")
		}
	}
}

func TestAddUser(t *testing.T) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		useProductionHashes(t) // serial: see useProductionHashes; the other cases need only some hash
		s, _ := mustOpen(t)
		u, err := s.AddUser(ctx, "  Ada@Example.com ", RoleAdmin, testPassword)
		if err != nil {
			t.Fatal(err)
		}
		if u.ID == 0 || u.Email != "ada@example.com" || u.Role != RoleAdmin || u.CreatedAt.IsZero() {
			t.Fatalf("got %+v", u)
		}
		var hash string
		if err := s.Pool().QueryRow(ctx, "SELECT password_hash FROM pglinks.users WHERE id = $1", u.ID).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(hash, "$argon2id$v=19$m=65536,t=2,p=2$") || strings.Contains(hash, testPassword) {
			t.Fatalf("stored hash %q", hash)
		}
	})

	t.Run("ErrEmailTaken", func(t *testing.T) {
		s, _ := mustOpen(t)
		mustAddUser(t, s, "ada@example.com", RoleViewer)
		_, err := s.AddUser(ctx, "ADA@example.com", RoleAdmin, testPassword)
		assertKind(t, err, errs.Conflict, "email")
	})

	t.Run("ErrInvalidEmail", func(t *testing.T) {
		s, _ := mustOpen(t)
		_, err := s.AddUser(ctx, "not an email", RoleAdmin, testPassword)
		assertKind(t, err, errs.Invalid, "email")
	})

	t.Run("ErrShortPassword", func(t *testing.T) {
		s, _ := mustOpen(t)
		_, err := s.AddUser(ctx, "ada@example.com", RoleAdmin, "elevenchars")
		assertKind(t, err, errs.Invalid, "password")
		// Twelve characters, counted as characters rather than bytes.
		if _, err := s.AddUser(ctx, "ada@example.com", RoleAdmin, "ääääääääääää"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrLongPassword", func(t *testing.T) {
		s, _ := mustOpen(t)
		_, err := s.AddUser(ctx, "ada@example.com", RoleAdmin, strings.Repeat("x", MaxPasswordLength+1))
		assertKind(t, err, errs.Invalid, "password")
	})

	t.Run("ErrInvalidRole", func(t *testing.T) {
		s, _ := mustOpen(t)
		_, err := s.AddUser(ctx, "ada@example.com", Role("root"), testPassword)
		assertKind(t, err, errs.Invalid, "role")
	})
}

func TestListUsers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := mustOpen(t)

	t.Run("Empty", func(t *testing.T) {
		users, err := s.ListUsers(ctx)
		if err != nil || len(users) != 0 {
			t.Fatalf("got %v, %v", users, err)
		}
	})

	t.Run("OK", func(t *testing.T) {
		mustAddUser(t, s, "zed@example.com", RoleViewer)
		mustAddUser(t, s, "ada@example.com", RoleAdmin)
		users, err := s.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != 2 || users[0].Email != "ada@example.com" || users[0].Role != RoleAdmin ||
			users[1].Email != "zed@example.com" || users[1].Role != RoleViewer {
			t.Fatalf("got %+v", users)
		}
	})
}

func TestGetUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := mustOpen(t)
	ada := mustAddUser(t, s, "ada@example.com", RoleAdmin)

	t.Run("OK", func(t *testing.T) {
		u, err := s.GetUser(ctx, ada.ID)
		if err != nil || u.Email != ada.Email || u.Role != RoleAdmin {
			t.Fatalf("got %+v, %v", u, err)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := s.GetUser(ctx, ada.ID+1000)
		assertKind(t, err, errs.NotFound, "")
	})
}

func TestRemoveUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		s, _ := mustOpen(t)
		mustAddUser(t, s, "ada@example.com", RoleAdmin)
		bob := mustAddUser(t, s, "bob@example.com", RoleViewer)
		sess, err := s.sessionFor(ctx, bob.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveUser(ctx, " BOB@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetUser(ctx, bob.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("user still there: %v", err)
		}
		_, err = s.LookupSession(ctx, sess.ID)
		assertKind(t, err, errs.Unauthorized, "")
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		s, _ := mustOpen(t)
		err := s.RemoveUser(ctx, "nobody@example.com")
		assertKind(t, err, errs.NotFound, "email")
	})

	t.Run("ErrLastAdmin", func(t *testing.T) {
		s, _ := mustOpen(t)
		mustAddUser(t, s, "ada@example.com", RoleAdmin)
		mustAddUser(t, s, "bob@example.com", RoleViewer)
		assertKind(t, s.RemoveUser(ctx, "ada@example.com"), errs.Conflict, "")
		if _, err := s.Authenticate(ctx, "ada@example.com", testPassword); err != nil {
			t.Fatalf("last admin was touched: %v", err)
		}
	})

	t.Run("OKAdminWithAnotherAdmin", func(t *testing.T) {
		s, _ := mustOpen(t)
		mustAddUser(t, s, "ada@example.com", RoleAdmin)
		mustAddUser(t, s, "bob@example.com", RoleAdmin)
		if err := s.RemoveUser(ctx, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrLastAdminConcurrent", func(t *testing.T) {
		// Two admins removing each other at once: exactly one may win.
		s, _ := mustOpen(t)
		mustAddUser(t, s, "ada@example.com", RoleAdmin)
		mustAddUser(t, s, "bob@example.com", RoleAdmin)
		var wg sync.WaitGroup
		results := make([]error, 2)
		for i, email := range []string{"ada@example.com", "bob@example.com"} {
			wg.Go(func() { results[i] = s.RemoveUser(ctx, email) })
		}
		wg.Wait()
		ok := 0
		for _, err := range results {
			if err == nil {
				ok++
			} else {
				assertKind(t, err, errs.Conflict, "")
			}
		}
		users, _ := s.ListUsers(ctx)
		if ok != 1 || len(users) != 1 || users[0].Role != RoleAdmin {
			t.Fatalf("%d removals succeeded, users left %+v", ok, users)
		}
	})
}

func TestSetRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		s, _ := mustOpen(t)
		mustAddUser(t, s, "ada@example.com", RoleAdmin)
		bob := mustAddUser(t, s, "bob@example.com", RoleViewer)
		if err := s.SetRole(ctx, "Bob@Example.com", RoleAdmin); err != nil {
			t.Fatal(err)
		}
		if u, _ := s.GetUser(ctx, bob.ID); u.Role != RoleAdmin {
			t.Fatalf("role is %s", u.Role)
		}
		// With two admins, demoting one is fine.
		if err := s.SetRole(ctx, "ada@example.com", RoleViewer); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("OKSameRole", func(t *testing.T) {
		s, _ := mustOpen(t)
		mustAddUser(t, s, "ada@example.com", RoleAdmin)
		if err := s.SetRole(ctx, "ada@example.com", RoleAdmin); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrLastAdmin", func(t *testing.T) {
		s, _ := mustOpen(t)
		ada := mustAddUser(t, s, "ada@example.com", RoleAdmin)
		mustAddUser(t, s, "bob@example.com", RoleViewer)
		assertKind(t, s.SetRole(ctx, "ada@example.com", RoleViewer), errs.Conflict, "")
		if u, _ := s.GetUser(ctx, ada.ID); u.Role != RoleAdmin {
			t.Fatalf("last admin demoted to %s", u.Role)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		s, _ := mustOpen(t)
		assertKind(t, s.SetRole(ctx, "nobody@example.com", RoleAdmin), errs.NotFound, "email")
	})

	t.Run("ErrInvalidRole", func(t *testing.T) {
		s, _ := mustOpen(t)
		mustAddUser(t, s, "ada@example.com", RoleAdmin)
		assertKind(t, s.SetRole(ctx, "ada@example.com", Role("Admin")), errs.Invalid, "role")
	})

	t.Run("ReflectedInSession", func(t *testing.T) {
		s, _ := mustOpen(t)
		mustAddUser(t, s, "ada@example.com", RoleAdmin)
		bob := mustAddUser(t, s, "bob@example.com", RoleAdmin)
		sess, err := s.sessionFor(ctx, bob.ID)
		if err != nil {
			t.Fatal(err)
		}
		if sess.User.Role != RoleAdmin {
			t.Fatalf("new session role %s", sess.User.Role)
		}
		if err := s.SetRole(ctx, "bob@example.com", RoleViewer); err != nil {
			t.Fatal(err)
		}
		got, err := s.LookupSession(ctx, sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.User.Role != RoleViewer || got.User.IsAdmin() {
			t.Fatalf("demoted user's session still has role %s", got.User.Role)
		}
	})
}

func TestSetPassword(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		s, _ := mustOpen(t)
		ada := mustAddUser(t, s, "ada@example.com", RoleAdmin)
		sess, err := s.sessionFor(ctx, ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		const newPassword = "a brand new passphrase"
		if err := s.SetPassword(ctx, "ada@example.com", newPassword); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, "ada@example.com", testPassword); !errs.Is(err, errs.Unauthorized) {
			t.Fatalf("old password: %v", err)
		}
		if _, err := s.Authenticate(ctx, "ada@example.com", newPassword); err != nil {
			t.Fatalf("new password: %v", err)
		}
		_, err = s.LookupSession(ctx, sess.ID)
		assertKind(t, err, errs.Unauthorized, "")
	})

	t.Run("ErrShortPassword", func(t *testing.T) {
		s, _ := mustOpen(t)
		mustAddUser(t, s, "ada@example.com", RoleAdmin)
		assertKind(t, s.SetPassword(ctx, "ada@example.com", "short"), errs.Invalid, "password")
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		s, _ := mustOpen(t)
		assertKind(t, s.SetPassword(ctx, "nobody@example.com", testPassword), errs.NotFound, "email")
	})
}

func TestAuthenticate(t *testing.T) {
	useProductionHashes(t) // serial: see useProductionHashes
	ctx := context.Background()
	s, _ := mustOpen(t)
	ada := mustAddUser(t, s, "ada@example.com", RoleAdmin)

	t.Run("OK", func(t *testing.T) {
		u, err := s.Authenticate(ctx, " ADA@example.com", testPassword)
		if err != nil {
			t.Fatal(err)
		}
		if u.ID != ada.ID || u.Role != RoleAdmin || u.Email != "ada@example.com" {
			t.Fatalf("got %+v", u)
		}
	})

	var wrongMsg string
	var wrongTook time.Duration
	t.Run("ErrWrongPassword", func(t *testing.T) {
		start := time.Now()
		_, err := s.Authenticate(ctx, "ada@example.com", testPassword+"!")
		wrongTook = time.Since(start)
		assertKind(t, err, errs.Unauthorized, "")
		wrongMsg = errs.MessageOf(err)
		if wrongMsg != "Invalid email or password." {
			t.Fatalf("message %q", wrongMsg)
		}
	})

	t.Run("ErrUnknownEmail", func(t *testing.T) {
		dummyHash() // built once per process; not part of the timing
		start := time.Now()
		_, err := s.Authenticate(ctx, "nobody@example.com", testPassword)
		took := time.Since(start)
		assertKind(t, err, errs.Unauthorized, "")
		if msg := errs.MessageOf(err); msg != wrongMsg {
			t.Fatalf("unknown email says %q, wrong password says %q", msg, wrongMsg)
		}
		// A hash ran: the answer is not instant. The bound is loose because
		// the machine is shared.
		if took < wrongTook/3 {
			t.Fatalf("unknown email answered in %v, wrong password in %v", took, wrongTook)
		}
	})

	t.Run("ErrEmptyAndHuge", func(t *testing.T) {
		for _, pw := range []string{"", strings.Repeat("x", 10*MaxPasswordLength)} {
			_, err := s.Authenticate(ctx, "ada@example.com", pw)
			assertKind(t, err, errs.Unauthorized, "")
		}
		_, err := s.Authenticate(ctx, "", "")
		assertKind(t, err, errs.Unauthorized, "")
	})
}
