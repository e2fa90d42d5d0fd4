package links

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
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
func (t RemoteType) sqlName() string { return ident(t.Schema, t.Name) }

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
func remoteTypes(ctx context.Context, conn *pgx.Conn, schema string) ([]RemoteType, error) {
	rows, err := conn.Query(ctx, sqlRemoteTypes, schema)
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

// missingTypes keeps the remote types the local database lacks.
func missingTypes(ctx context.Context, tx pgx.Tx, types []RemoteType) ([]RemoteType, error) {
	var out []RemoteType
	for _, t := range types {
		var found bool
		if err := tx.QueryRow(ctx, "SELECT to_regtype($1) IS NOT NULL", t.sqlName()).Scan(&found); err != nil {
			return nil, fmt.Errorf("links: look up type %s: %w", t.QualifiedName(), err)
		}
		if !found {
			out = append(out, t)
		}
	}
	return out, nil
}

// enumDDL creates an enum type like the remote's, labels in order.
func enumDDL(t RemoteType) (string, error) {
	labels := make([]string, len(t.Labels))
	for i, l := range t.Labels {
		q, err := quoteLiteral(l)
		if err != nil {
			return "", errs.E(errs.Invalid, "Enum %s has a label pglinks cannot copy: %v.", t.QualifiedName(), err)
		}
		labels[i] = q
	}
	return fmt.Sprintf("CREATE TYPE %s AS ENUM (%s)", t.sqlName(), strings.Join(labels, ", ")), nil
}

// missingTypesError names every missing type, where it is used and what to
// do about it.
func missingTypesError(local *Database, missing []RemoteType, canCopyEnums bool) error {
	var parts []string
	for _, t := range missing {
		desc := fmt.Sprintf("%s (%s", t.QualifiedName(), t.Kind)
		if t.Extension != "" {
			desc += ", from extension " + t.Extension
		}
		used := t.UsedBy
		if len(used) > 3 {
			used = append(used[:3:3], fmt.Sprintf("%d more", len(t.UsedBy)-3))
		}
		desc += ", used by " + strings.Join(used, ", ") + ")"
		parts = append(parts, desc)
	}
	hint := "Create them in " + local.ConfigVar + " first."
	if canCopyEnums {
		hint += " Enum types can be copied for you: tick \"Copy missing enum types\"."
	}
	return errs.E(errs.Invalid, "The remote's tables use types that %s lacks: %s. %s", local.ConfigVar, strings.Join(parts, "; "), hint).OnField("remote")
}
