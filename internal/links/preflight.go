package links

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// RemoteType is a user-defined type a remote's tables use.
type RemoteType struct {
	Schema, Name string
	Kind         string // enum, domain, composite, range, base, multirange
	Labels       []string
	Extension    string   // extension providing the type, if any
	UsedBy       []string // table.column
}

// QualifiedName is schema.name for people to read.
func (t RemoteType) QualifiedName() string { return t.Schema + "." + t.Name }

// sqlName is the quoted schema-qualified name for SQL.
func (t RemoteType) sqlName() string { return fleet.Ident(t.Schema, t.Name) }

func typeKind(typtype string) string {
	switch typtype {
	case "e":
		return "enum"
	case "d":
		return "domain"
	case "c":
		return "composite"
	case "r":
		return "range"
	case "m":
		return "multirange"
	}
	return "base"
}

// remoteTypes lists the user-defined types used by the remote schema's
// tables, read over pglinks' own connection to the remote.
func remoteTypes(ctx context.Context, conn *pgx.Conn, schema string, only []string) ([]RemoteType, error) {
	rows, err := conn.Query(ctx, sqlRemoteTypes, schema, only)
	if err != nil {
		return nil, fmt.Errorf("links: remote types: %w", err)
	}
	defer rows.Close()
	var out []RemoteType
	for rows.Next() {
		var t RemoteType
		var typtype string
		if err := rows.Scan(&t.Schema, &t.Name, &typtype, &t.Labels, &t.Extension, &t.UsedBy); err != nil {
			return nil, fmt.Errorf("links: remote types: %w", err)
		}
		t.Kind = typeKind(typtype)
		out = append(out, t)
	}
	return out, rows.Err()
}

// typeGap is how a local type falls short of the remote type of the same
// name: missing altogether, of another kind, or an enum lacking labels.
type typeGap struct {
	RemoteType
	Missing       bool
	LocalKind     string   // set when the local type is of another kind
	MissingLabels []string // remote enum labels the local enum lacks
}

// typeGaps compares each remote type with the local type of the same name.
// Copies of enums are serialised per type name across pglinks processes, so
// two creates copying the same enum do not collide in the catalog: the
// second waits for the first and then finds the type there.
func typeGaps(ctx context.Context, tx pgx.Tx, types []RemoteType) ([]typeGap, error) {
	var out []typeGap
	for _, t := range types {
		if t.Kind == "enum" {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('pglinks:type:' || $1, 0))", t.sqlName()); err != nil {
				if fleet.PgCode(err) == codeLockNotAvailable {
					return nil, errs.Wrap(errs.Conflict, err, "Another pglinks operation is copying the type %s right now. Try again in a moment.", t.QualifiedName())
				}
				return nil, fmt.Errorf("links: lock type %s: %w", t.QualifiedName(), err)
			}
		}
		var found bool
		var typtype string
		var labels []string
		err := tx.QueryRow(ctx, `SELECT t.oid IS NOT NULL, coalesce(t.typtype::text, ''),
			coalesce((SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '{}')
			FROM (SELECT to_regtype($1) AS oid) r LEFT JOIN pg_type t ON t.oid = r.oid`, t.sqlName()).Scan(&found, &typtype, &labels)
		if err != nil {
			return nil, fmt.Errorf("links: look up type %s: %w", t.QualifiedName(), err)
		}
		switch {
		case !found:
			out = append(out, typeGap{RemoteType: t, Missing: true})
		case typeKind(typtype) != t.Kind:
			out = append(out, typeGap{RemoteType: t, LocalKind: typeKind(typtype)})
		case t.Kind == "enum":
			have := map[string]bool{}
			for _, l := range labels {
				have[l] = true
			}
			var missing []string
			for _, l := range t.Labels {
				if !have[l] {
					missing = append(missing, l)
				}
			}
			if len(missing) > 0 {
				out = append(out, typeGap{RemoteType: t, MissingLabels: missing})
			}
		}
	}
	return out, nil
}

// addLabelsDDL adds the labels a local enum lacks, in the remote's order.
func addLabelsDDL(g typeGap) ([]string, error) {
	var out []string
	for _, l := range g.MissingLabels {
		q, err := fleet.QuoteLiteral(l)
		if err != nil {
			return nil, errs.E(errs.Invalid, "Enum %s has a label pglinks cannot copy: %v.", g.QualifiedName(), err)
		}
		out = append(out, fmt.Sprintf("ALTER TYPE %s ADD VALUE IF NOT EXISTS %s", g.sqlName(), q))
	}
	return out, nil
}

// enumDDL creates an enum type like the remote's, labels in order.
func enumDDL(t RemoteType) (string, error) {
	labels := make([]string, len(t.Labels))
	for i, l := range t.Labels {
		q, err := fleet.QuoteLiteral(l)
		if err != nil {
			return "", errs.E(errs.Invalid, "Enum %s has a label pglinks cannot copy: %v.", t.QualifiedName(), err)
		}
		labels[i] = q
	}
	return fmt.Sprintf("CREATE TYPE %s AS ENUM (%s)", t.sqlName(), strings.Join(labels, ", ")), nil
}

// typeGapsError names every type the local database lacks or has wrong,
// where the remote uses it and what to do about it.
func typeGapsError(local *fleet.Database, gaps []typeGap, canCopyEnums bool) error {
	var parts []string
	for i, g := range gaps {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("and %d more types", len(gaps)-i))
			break
		}
		var desc string
		switch {
		case g.Missing:
			desc = fmt.Sprintf("%s (%s", g.QualifiedName(), g.Kind)
			if g.Extension != "" {
				desc += ", from extension " + g.Extension
			}
			desc += ", missing"
		case g.LocalKind != "":
			desc = fmt.Sprintf("%s (a %s on the remote, but a %s in %s", g.QualifiedName(), g.Kind, g.LocalKind, local.ConfigVar)
		default:
			desc = fmt.Sprintf("%s (enum; labels %s lacks: %s", g.QualifiedName(), local.ConfigVar, quoteList(g.MissingLabels))
		}
		used := g.UsedBy
		if len(used) > 3 {
			used = append(used[:3:3], fmt.Sprintf("%d more", len(g.UsedBy)-3))
		}
		desc += ", used by " + strings.Join(used, ", ") + ")"
		parts = append(parts, desc)
	}
	hint := "Fix them in " + local.ConfigVar + " first."
	if canCopyEnums {
		hint += " Missing enum types and labels can be copied for you: tick \"Copy missing enum types\"."
	}
	return errs.E(errs.Invalid, "The remote's tables use types that %s lacks or has differently: %s. %s", local.ConfigVar, strings.Join(parts, "; "), hint).OnField("remote")
}

// quoteList lists labels quoted, at most ten of them.
func quoteList(ls []string) string {
	q := make([]string, len(ls))
	for i, l := range ls {
		q[i] = "'" + l + "'"
	}
	return joinMax(q, 10)
}
