package auth

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

func TestHashPassword(t *testing.T) {
	useProductionHashes(t) // serial: see useProductionHashes
	ctx := context.Background()
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=65536,t=2,p=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

	t.Run("OK", func(t *testing.T) {
		h1, err := hashPassword(ctx, testPassword)
		if err != nil {
			t.Fatal(err)
		}
		h2, _ := hashPassword(ctx, testPassword)
		if !phc.MatchString(h1) {
			t.Fatalf("hash %q is not PHC argon2id", h1)
		}
		if h1 == h2 {
			t.Fatal("same hash twice: salt not random")
		}
		for _, h := range []string{h1, h2} {
			if ok, err := verifyPassword(ctx, testPassword, h); !ok || err != nil {
				t.Fatalf("verify: %v, %v", ok, err)
			}
		}
	})

	t.Run("ErrWrongPassword", func(t *testing.T) {
		h, _ := hashPassword(ctx, testPassword)
		for _, pw := range []string{"", testPassword + " ", strings.ToUpper(testPassword)} {
			if ok, err := verifyPassword(ctx, pw, h); ok || err != nil {
				t.Fatalf("verify(%q) = %v, %v", pw, ok, err)
			}
		}
	})

	t.Run("ErrMalformed", func(t *testing.T) {
		good, _ := hashPassword(ctx, testPassword)
		parts := strings.Split(good, "$")
		for _, h := range []string{
			"",
			"plaintext",
			"$2a$10$abcdefghijklmnopqrstuv",
			strings.Replace(good, "argon2id", "argon2i", 1),
			strings.Replace(good, "v=19", "v=16", 1),
			strings.Replace(good, "m=65536", "m=99999999", 1), // a stored value must not cost gigabytes
			strings.Replace(good, "m=65536", "m=4096", 1),     // nor be weaker than the floor
			strings.Replace(good, "t=2", "t=0", 1),
			strings.Replace(good, "p=2", "p=0", 1),
			strings.Join(append(parts[:4:4], "!!!", parts[5]), "$"),
			strings.Join(append(parts[:5:5], ""), "$"),
			good + "$extra",
		} {
			if ok, err := verifyPassword(ctx, testPassword, h); ok || err == nil {
				t.Errorf("verify against %q = %v, %v; want error", h, ok, err)
			}
		}
	})
}

func TestGeneratePassword(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 200 {
		pw := GeneratePassword()
		if len(pw) != 20 || strings.Trim(pw, passwordAlphabet) != "" {
			t.Fatalf("password %q", pw)
		}
		if err := validatePassword(pw); err != nil {
			t.Fatalf("generated password %q fails validation: %v", pw, err)
		}
		if seen[pw] {
			t.Fatalf("password %q generated twice", pw)
		}
		seen[pw] = true
	}
}

// BenchmarkHashPassword shows the cost of one sign-in; aim for 50-200 ms.
func BenchmarkHashPassword(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		if _, err := hashPassword(ctx, testPassword); err != nil {
			b.Fatal(err)
		}
	}
}
