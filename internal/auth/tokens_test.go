package auth

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
)

func TestTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, clk := mustOpen(t)
	alice := mustAddUser(t, s, "alice@example.com", RoleAdmin)
	bob := mustAddUser(t, s, "bob@example.com", RoleViewer)

	t.Run("OK", func(t *testing.T) {
		tok, secret, err := s.CreateToken(ctx, alice.ID, " ci-deploy ", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, "pgl_") || len(secret) != tokenLen || tok.Name != "ci-deploy" || !strings.HasPrefix(secret, tok.Prefix) || len(tok.Prefix) >= len(secret) {
			t.Fatalf("token %+v, secret of %d characters", tok, len(secret))
		}
		// Only the hash is stored.
		sum := sha256.Sum256([]byte(secret))
		var stored int
		if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM pglinks.api_tokens WHERE hash = $1 AND position($2 in prefix) = 0", sum[:], secret).Scan(&stored); err != nil || stored != 1 {
			t.Fatalf("stored rows with the hash and without the secret: %d, %v", stored, err)
		}
		use, err := s.LookupToken(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		if use.User.Email != "alice@example.com" || use.User.Role != RoleAdmin || use.Token.Name != "ci-deploy" || use.Actor() != "alice@example.com (token ci-deploy)" {
			t.Fatalf("use %+v, actor %q", use, use.Actor())
		}
		if !use.Token.LastUsedAt.Equal(clk.Now()) {
			t.Errorf("last used %v, want %v", use.Token.LastUsedAt, clk.Now())
		}
	})

	t.Run("ErrUnknown", func(t *testing.T) {
		for _, junk := range []string{"", "pgl_", "Bearer x", "pgl_" + strings.Repeat("A", 43), strings.Repeat("x", 47), "pgl_" + strings.Repeat("!", 43)} {
			_, err := s.LookupToken(ctx, junk)
			assertKind(t, err, errs.Unauthorized, "")
		}
	})

	t.Run("ErrNameTaken", func(t *testing.T) {
		_, _, err := s.CreateToken(ctx, alice.ID, "ci-deploy", time.Time{})
		assertKind(t, err, errs.Conflict, "name")
		// Another user may use the same name.
		if _, _, err := s.CreateToken(ctx, bob.ID, "ci-deploy", time.Time{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrName", func(t *testing.T) {
		for _, name := range []string{"", "   ", strings.Repeat("n", MaxTokenName+1), "evil\u202Elive", "tab\tname", "nul\x00"} {
			_, _, err := s.CreateToken(ctx, alice.ID, name, time.Time{})
			assertKind(t, err, errs.Invalid, "name")
		}
		// Hostile but visible names are kept as typed.
		tok, _, err := s.CreateToken(ctx, alice.ID, `<script>"x"</script> é`, time.Time{})
		if err != nil || tok.Name != `<script>"x"</script> é` {
			t.Fatalf("%+v %v", tok, err)
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		_, _, err := s.CreateToken(ctx, alice.ID, "past", clk.Now().Add(-time.Second))
		assertKind(t, err, errs.Invalid, "expires")
		tok, secret, err := s.CreateToken(ctx, alice.ID, "day", clk.Now().Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.LookupToken(ctx, secret); err != nil {
			t.Fatal(err)
		}
		clk.Advance(24 * time.Hour)
		_, err = s.LookupToken(ctx, secret)
		assertKind(t, err, errs.Unauthorized, "")
		if _, err := s.RevokeToken(ctx, tok.ID, alice.ID); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Revoke", func(t *testing.T) {
		tok, secret, err := s.CreateToken(ctx, bob.ID, "laptop", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		// Not alice's to revoke as an owner...
		_, err = s.RevokeToken(ctx, tok.ID, alice.ID)
		assertKind(t, err, errs.NotFound, "")
		if _, err := s.LookupToken(ctx, secret); err != nil {
			t.Fatal(err)
		}
		// ...but any owner's with 0 (an admin).
		got, err := s.RevokeToken(ctx, tok.ID, 0)
		if err != nil || got.Name != "laptop" || got.Email != "bob@example.com" {
			t.Fatalf("%+v %v", got, err)
		}
		_, err = s.LookupToken(ctx, secret)
		assertKind(t, err, errs.Unauthorized, "")
		_, err = s.RevokeToken(ctx, tok.ID, 0)
		assertKind(t, err, errs.NotFound, "")
	})

	t.Run("List", func(t *testing.T) {
		mine, err := s.ListTokens(ctx, bob.ID)
		if err != nil || len(mine) != 1 || mine[0].Name != "ci-deploy" || mine[0].Email != "bob@example.com" {
			t.Fatalf("bob's: %+v %v", mine, err)
		}
		all, err := s.ListTokens(ctx, 0)
		if err != nil || len(all) != 3 || all[0].Email != "alice@example.com" || all[2].Email != "bob@example.com" {
			t.Fatalf("all: %+v %v", all, err)
		}
	})

	t.Run("RoleAtEachLookup", func(t *testing.T) {
		_, secret, err := s.CreateToken(ctx, bob.ID, "role", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetRole(ctx, bob.Email, RoleAdmin); err != nil {
			t.Fatal(err)
		}
		if use, err := s.LookupToken(ctx, secret); err != nil || use.User.Role != RoleAdmin {
			t.Fatalf("after promotion: %+v %v", use, err)
		}
		if err := s.RemoveUser(ctx, bob.Email); err != nil {
			t.Fatal(err)
		}
		_, err = s.LookupToken(ctx, secret)
		assertKind(t, err, errs.Unauthorized, "")
	})

	t.Run("LastUsedOncePerMinute", func(t *testing.T) {
		_, secret, err := s.CreateToken(ctx, alice.ID, "touch", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		first, _ := s.LookupToken(ctx, secret)
		clk.Advance(30 * time.Second)
		second, _ := s.LookupToken(ctx, secret)
		clk.Advance(31 * time.Second)
		third, _ := s.LookupToken(ctx, secret)
		if !second.Token.LastUsedAt.Equal(first.Token.LastUsedAt) || !third.Token.LastUsedAt.Equal(clk.Now()) {
			t.Fatalf("last used: %v, %v, %v", first.Token.LastUsedAt, second.Token.LastUsedAt, third.Token.LastUsedAt)
		}
	})
}

func TestTokenLimitPerUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := mustOpen(t)
	u := mustAddUser(t, s, "many@example.com", RoleViewer)
	for i := range MaxTokensPerUser {
		if _, _, err := s.CreateToken(ctx, u.ID, "t"+strings.Repeat("x", i), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := s.CreateToken(ctx, u.ID, "one more", time.Time{})
	assertKind(t, err, errs.Conflict, "name")
}
