package auth

import (
	"strings"
	"unicode"

	"github.com/pglinks/pglinks/internal/errs"
)

// NormalizeEmail trims and lowercases an email and checks that it looks like
// one. The check is deliberately plain (one @, no spaces or mail-header
// syntax): the address is an account name here, nothing is ever sent to it.
func NormalizeEmail(email string) (string, error) {
	email = normalizeEmail(email)
	if !validEmail(email) {
		return "", errs.E(errs.Invalid, "Enter a valid email address.").OnField("email")
	}
	return email, nil
}

// normalizeEmail is the lookup form of an email, used where an invalid
// address should simply match nobody.
func normalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

func validEmail(email string) bool {
	if len(email) > 254 {
		return false
	}
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || len(local) > 64 || domain == "" || strings.Contains(domain, "@") {
		return false
	}
	if strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") ||
		strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return false
	}
	for _, r := range email {
		if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`<>()[]\,;:"`, r) || r == unicode.ReplacementChar {
			return false
		}
	}
	return true
}
