package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
)

func TestCreateSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		s, clk := mustOpen(t)
		ada := mustAddUser(t, s, "ada@example.com", RoleAdmin)
		sess, err := s.sessionFor(ctx, ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(sess.ID)
		if err != nil || len(raw) != 32 {
			t.Fatalf("session id %q is not 32 base64url bytes", sess.ID)
		}
		if len(sess.CSRFToken) < 40 || sess.CSRFToken == sess.ID {
			t.Fatalf("csrf token %q", sess.CSRFToken)
		}
		if sess.User.ID != ada.ID || sess.User.Role != RoleAdmin || !sess.CreatedAt.Equal(clk.Now()) {
			t.Fatalf("got %+v", sess)
		}
		other, _ := s.sessionFor(ctx, ada.ID)
		if other.ID == sess.ID || other.CSRFToken == sess.CSRFToken {
			t.Fatal("two sessions share an id or token")
		}
	})

	t.Run("StoresHashOnly", func(t *testing.T) {
		s, _ := mustOpen(t)
		ada := mustAddUser(t, s, "ada@example.com", RoleAdmin)
		sess, _ := s.sessionFor(ctx, ada.ID)
		want := sha256.Sum256([]byte(sess.ID))
		var stored []byte
		if err := s.Pool().QueryRow(ctx, "SELECT id_hash FROM pglinks.sessions").Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if string(stored) != string(want[:]) {
			t.Fatal("stored id is not sha256 of the session id")
		}
		var leaked bool
		if err := s.Pool().QueryRow(ctx,
			"SELECT EXISTS (SELECT 1 FROM pglinks.sessions s WHERE s::text LIKE '%' || $1 || '%')", sess.ID).Scan(&leaked); err != nil || leaked {
			t.Fatalf("session id found in the table (err %v)", err)
		}
	})

	t.Run("ErrUnknownUser", func(t *testing.T) {
		s, _ := mustOpen(t)
		_, err := s.sessionFor(ctx, 4242)
		assertKind(t, err, errs.NotFound, "")
	})

	t.Run("SweepsExpired", func(t *testing.T) {
		s, clk := mustOpen(t)
		ada := mustAddUser(t, s, "ada@example.com", RoleAdmin)
		if _, err := s.sessionFor(ctx, ada.ID); err != nil {
			t.Fatal(err)
		}
		clk.Advance(s.IdleTimeout + time.Minute)
		if _, err := s.sessionFor(ctx, ada.ID); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := s.Pool().QueryRow(ctx, "SELECT count(*) FROM pglinks.sessions").Scan(&n); err != nil || n != 1 {
			t.Fatalf("%d sessions left (err %v), want 1", n, err)
		}
	})
}

func TestLookupSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	setup := func(t *testing.T) (*Store, *fakeClock, *Session) {
		s, clk := mustOpen(t)
		ada := mustAddUser(t, s, "ada@example.com", RoleAdmin)
		sess, err := s.sessionFor(ctx, ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		return s, clk, sess
	}

	t.Run("OK", func(t *testing.T) {
		s, _, sess := setup(t)
		got, err := s.LookupSession(ctx, sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != sess.ID || got.CSRFToken != sess.CSRFToken || got.User.Email != "ada@example.com" || got.User.Role != RoleAdmin {
			t.Fatalf("got %+v, want %+v", got, sess)
		}
	})

	t.Run("ErrUnknown", func(t *testing.T) {
		s, _, _ := setup(t)
		for _, id := range []string{"", "x", newToken(), "'; DROP TABLE pglinks.sessions; --"} {
			_, err := s.LookupSession(ctx, id)
			assertKind(t, err, errs.Unauthorized, "")
		}
	})

	t.Run("Touch", func(t *testing.T) {
		s, clk, sess := setup(t)
		clk.Advance(30 * time.Second)
		got, err := s.LookupSession(ctx, sess.ID)
		if err != nil || !got.LastSeenAt.Equal(sess.CreatedAt) {
			t.Fatalf("touched within a minute: %+v, %v", got, err)
		}
		clk.Advance(time.Minute)
		got, err = s.LookupSession(ctx, sess.ID)
		if err != nil || !got.LastSeenAt.Equal(clk.Now()) {
			t.Fatalf("not touched after a minute: %+v, %v", got, err)
		}
		// Activity keeps the session alive past one idle timeout.
		for range 3 {
			clk.Advance(s.IdleTimeout - time.Minute)
			if _, err := s.LookupSession(ctx, sess.ID); err != nil {
				t.Fatalf("active session ended: %v", err)
			}
		}
	})

	t.Run("ErrIdleExpired", func(t *testing.T) {
		s, clk, sess := setup(t)
		clk.Advance(s.IdleTimeout + time.Second)
		_, err := s.LookupSession(ctx, sess.ID)
		assertKind(t, err, errs.Unauthorized, "")
		var n int
		if err := s.Pool().QueryRow(ctx, "SELECT count(*) FROM pglinks.sessions").Scan(&n); err != nil || n != 0 {
			t.Fatalf("expired session not deleted: %d rows, %v", n, err)
		}
	})

	t.Run("ErrAbsoluteExpired", func(t *testing.T) {
		s, clk, sess := setup(t)
		s.IdleTimeout = time.Hour
		s.AbsoluteTimeout = 3 * time.Hour
		for range 3 {
			clk.Advance(59 * time.Minute)
			if _, err := s.LookupSession(ctx, sess.ID); err != nil {
				t.Fatalf("session ended early: %v", err)
			}
		}
		clk.Advance(10 * time.Minute) // 3h07m after sign-in, 10m after last use
		_, err := s.LookupSession(ctx, sess.ID)
		assertKind(t, err, errs.Unauthorized, "")
	})

	t.Run("RoleChangeReflected", func(t *testing.T) {
		s, _, _ := setup(t)
		bob := mustAddUser(t, s, "bob@example.com", RoleViewer)
		sess, _ := s.sessionFor(ctx, bob.ID)
		if err := s.SetRole(ctx, "bob@example.com", RoleAdmin); err != nil {
			t.Fatal(err)
		}
		got, err := s.LookupSession(ctx, sess.ID)
		if err != nil || got.User.Role != RoleAdmin {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
}

func TestDeleteSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := mustOpen(t)
	ada := mustAddUser(t, s, "ada@example.com", RoleAdmin)

	t.Run("OK", func(t *testing.T) {
		sess, _ := s.sessionFor(ctx, ada.ID)
		other, _ := s.sessionFor(ctx, ada.ID)
		if err := s.DeleteSession(ctx, sess.ID); err != nil {
			t.Fatal(err)
		}
		_, err := s.LookupSession(ctx, sess.ID)
		assertKind(t, err, errs.Unauthorized, "")
		if _, err := s.LookupSession(ctx, other.ID); err != nil {
			t.Fatalf("other session ended too: %v", err)
		}
		// Twice, and junk, are harmless.
		if err := s.DeleteSession(ctx, sess.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteSession(ctx, "junk"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("AllOfUser", func(t *testing.T) {
		a, _ := s.sessionFor(ctx, ada.ID)
		b, _ := s.sessionFor(ctx, ada.ID)
		if err := s.DeleteUserSessions(ctx, ada.ID); err != nil {
			t.Fatal(err)
		}
		for _, sess := range []*Session{a, b} {
			_, err := s.LookupSession(ctx, sess.ID)
			assertKind(t, err, errs.Unauthorized, "")
		}
	})
}
