package auth

import (
	"context"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
)

func TestRecordSignIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, clk := mustOpen(t)
	u := mustAddUser(t, s, "a@example.com", RoleAdmin)
	if got, _ := s.GetUser(ctx, u.ID); !got.LastSignInAt.IsZero() {
		t.Fatalf("new user has a last sign-in: %v", got.LastSignInAt)
	}
	clk.Advance(time.Hour)
	if err := s.RecordSignIn(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	users, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !users[0].LastSignInAt.Equal(clk.Now()) {
		t.Fatalf("last sign-in %v, want %v", users[0].LastSignInAt, clk.Now())
	}
}

func TestChangeOwnPassword(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := mustOpen(t)
	u := mustAddUser(t, s, "a@example.com", RoleViewer)
	keep, err := s.sessionFor(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.sessionFor(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ErrWrongCurrent", func(t *testing.T) {
		err := s.ChangeOwnPassword(ctx, u.ID, "not the password", "a new long password", keep.ID)
		assertKind(t, err, errs.Unauthorized, "current")
	})
	t.Run("ErrTooShort", func(t *testing.T) {
		assertKind(t, s.ChangeOwnPassword(ctx, u.ID, testPassword, "short", keep.ID), errs.Invalid, "new")
	})
	t.Run("ErrSame", func(t *testing.T) {
		assertKind(t, s.ChangeOwnPassword(ctx, u.ID, testPassword, testPassword, keep.ID), errs.Invalid, "new")
	})
	t.Run("OK", func(t *testing.T) {
		if err := s.ChangeOwnPassword(ctx, u.ID, testPassword, "a new long password", keep.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, u.Email, "a new long password"); err != nil {
			t.Fatalf("new password: %v", err)
		}
		if _, err := s.Authenticate(ctx, u.Email, testPassword); err == nil {
			t.Fatal("old password still works")
		}
		if _, err := s.LookupSession(ctx, keep.ID); err != nil {
			t.Fatalf("the session that changed it ended: %v", err)
		}
		if _, err := s.LookupSession(ctx, other.ID); err == nil {
			t.Fatal("another session survived the change")
		}
	})
}

func TestListAuditDateRange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := mustOpen(t)
	day := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		if err := s.Record(ctx, AuditEntry{At: day.AddDate(0, 0, i), Action: ActionLogin, Outcome: OutcomeOK, Target: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListAudit(ctx, AuditFilter{Since: day.AddDate(0, 0, 1).Truncate(24 * time.Hour), Until: day.AddDate(0, 0, 2).Truncate(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].At.Equal(day.AddDate(0, 0, 1)) {
		t.Fatalf("range gave %d entries: %+v", len(got), got)
	}
}
