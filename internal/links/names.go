package links

import (
	"strings"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// ValidateName checks a link name: lowercase letters, digits and
// underscores, at most fleet.MaxIdentLen (63) bytes, and not a name
// PostgreSQL or every database already uses.
func ValidateName(name string) error {
	if name == "" {
		return errs.E(errs.Invalid, "Give the link a name.").OnField("name")
	}
	if len(name) > fleet.MaxIdentLen {
		return errs.E(errs.Invalid, "Link names are at most %d characters (this one has %d).", fleet.MaxIdentLen, len(name)).OnField("name")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return errs.E(errs.Invalid, "Link names may contain only lowercase letters, digits and underscores.").OnField("name")
		}
	}
	if isReservedName(name) {
		return errs.E(errs.Invalid, "%q is reserved by PostgreSQL; choose another link name.", name).OnField("name")
	}
	return nil
}

func isReservedName(name string) bool {
	return name == "public" || name == "information_schema" || strings.HasPrefix(name, "pg_")
}

// DefaultName is the name a link gets when none is given, the one rule the
// form shows and create applies: the remote's resource name without its
// "postgresql-" (or "redis-") prefix, made a valid name, so
// "postgresql-colorful-33594" becomes "colorful_33594" and
// "redis-cubed-12345" "cubed_12345".
func DefaultName(resourceName string) string {
	rest := resourceName
	for _, p := range []string{"postgresql-", "postgres-", "heroku-postgresql-", "redis-", "heroku-redis-"} {
		if len(rest) > len(p) && strings.EqualFold(rest[:len(p)], p) {
			rest = rest[len(p):]
			break
		}
	}
	return validName(rest)
}

// validName turns s into a valid link name: lowercase, other characters
// as underscores, at most fleet.MaxIdentLen, never reserved.
func validName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	n := strings.Trim(b.String(), "_")
	if len(n) > fleet.MaxIdentLen {
		n = n[:fleet.MaxIdentLen]
	}
	if n == "" || isReservedName(n) {
		n = "link_" + n
	}
	return n
}

// SuggestName turns a refused name into a valid one, or "" when nothing
// usable is left: "Shop-Orders" becomes "shop_orders".
func SuggestName(input string) string {
	var b strings.Builder
	underscore := false
	for _, r := range strings.ToLower(strings.TrimSpace(input)) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			underscore = false
		} else if !underscore && b.Len() > 0 {
			b.WriteByte('_')
			underscore = true
		}
	}
	s := strings.Trim(b.String(), "_")
	if s == "" {
		return ""
	}
	if isReservedName(s) {
		s = "link_" + s
	}
	if len(s) > fleet.MaxIdentLen {
		s = strings.TrimRight(s[:fleet.MaxIdentLen], "_")
	}
	if ValidateName(s) != nil || s == strings.TrimSpace(input) {
		return ""
	}
	return s
}
