package links

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
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
// form shows and create applies. A link of a Heroku Connect schema
// (connectSchema, "" for any other schema) is named after that schema,
// "salesforce", which says what its tables are where the resource name is
// random; any other link after the remote's resource name without its
// "postgresql-" (or "redis-") prefix, so "postgresql-colorful-33594" becomes
// "colorful_33594". The name is made valid, then unique: while taken
// reports it used in the local database, _2, _3, ... is appended. taken
// may be nil.
func DefaultName(resourceName, connectSchema string, taken func(string) bool) string {
	base := connectSchema
	if base == "" {
		base = resourceName
		for _, p := range []string{"postgresql-", "postgres-", "heroku-postgresql-", "redis-", "heroku-redis-"} {
			if len(base) > len(p) && strings.EqualFold(base[:len(p)], p) {
				base = base[len(p):]
				break
			}
		}
	}
	valid := validName(base)
	name := valid
	for n := 2; taken != nil && taken(name); n++ {
		suffix := "_" + strconv.Itoa(n)
		name = strings.TrimRight(valid[:min(len(valid), fleet.MaxIdentLen-len(suffix))], "_") + suffix
	}
	return name
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

// DefaultLinkName is DefaultName for a link from remoteVar's schema
// (public when "") into localVar: a Heroku Connect schema as the remote's
// last status read found it, and the names local's catalog holds
// (schemas and foreign servers) taken. It reads the local database.
func (s *Service) DefaultLinkName(ctx context.Context, remoteVar, localVar, schema string) (string, error) {
	remote, err := s.database(remoteVar, "remote")
	if err != nil {
		return "", err
	}
	local, err := s.database(localVar, "local")
	if err != nil {
		return "", err
	}
	return s.defaultName(ctx, local, remote, schema)
}

func (s *Service) defaultName(ctx context.Context, local, remote *fleet.Database, schema string) (string, error) {
	if schema == "" {
		schema = "public"
	}
	connectSchema := ""
	if s.ConnectSchema(remote.ConfigVar, schema) != nil {
		connectSchema = schema
	}
	base := DefaultName(remote.ResourceName, connectSchema, nil)
	ctx, cancel := fleet.Bound(ctx, s.Fleet.Deadlines.Read)
	defer cancel()
	conn, err := s.Fleet.Acquire(ctx, local, fleet.ClassUser)
	if err != nil {
		return "", err
	}
	defer conn.Release()
	// The base and its numbered variants, as schemas or servers.
	rows, err := conn.Query(ctx, `SELECT nspname::text FROM pg_catalog.pg_namespace WHERE nspname = $1 OR nspname LIKE $2
		UNION SELECT srvname::text FROM pg_catalog.pg_foreign_server WHERE srvname = $1 OR srvname LIKE $2`,
		base, strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.TrimRight(base[:min(len(base), fleet.MaxIdentLen-3)], "_"))+`\_%`)
	if err != nil {
		return "", readError(local, fmt.Errorf("links: names taken in %s: %w", local.ConfigVar, err))
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", readError(local, fmt.Errorf("links: names taken in %s: %w", local.ConfigVar, err))
	}
	taken := map[string]bool{}
	for _, n := range names {
		taken[n] = true
	}
	return DefaultName(remote.ResourceName, connectSchema, func(n string) bool { return taken[n] }), nil
}
