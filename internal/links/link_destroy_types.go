package links

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pglinks/pglinks/internal/fleet"
)

// TypeFate is what destroying a link does to an enum type pglinks copied
// for it: dropped when nothing else uses it, kept (and why) otherwise.
type TypeFate struct {
	Type   string // quoted, schema-qualified
	Drop   bool
	Reason string // why it is kept
}

const codeDependentObjects = "2BP01"

// copiedTypeFates works out, inside a savepoint rolled back at the end,
// which of the link's copied enums would still be used once its schema is
// gone: PostgreSQL itself answers, by refusing DROP TYPE for a type in use.
func copiedTypeFates(ctx context.Context, tx pgx.Tx, name string, types []string) ([]TypeFate, error) {
	if len(types) == 0 {
		return nil, nil
	}
	if _, err := tx.Exec(ctx, "SAVEPOINT pglinks_types; SET LOCAL lock_timeout = 3000"); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, "DROP SCHEMA "+fleet.Ident(name)+" CASCADE"); err != nil {
		tx.Exec(ctx, "ROLLBACK TO SAVEPOINT pglinks_types")
		return nil, err
	}
	fates, err := dropCopiedTypes(ctx, tx, types, nil)
	if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT pglinks_types; RELEASE SAVEPOINT pglinks_types"); err == nil {
		err = rerr
	}
	return fates, err
}

// dropCopiedTypes drops each type nothing uses, each in a savepoint of its
// own; run, when not nil, gets the DDL of each drop that happened.
func dropCopiedTypes(ctx context.Context, tx pgx.Tx, types []string, run func(string)) ([]TypeFate, error) {
	var out []TypeFate
	for _, typ := range types {
		f := TypeFate{Type: typ}
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT to_regtype($1) IS NOT NULL", typ).Scan(&exists); err != nil {
			return nil, err
		}
		if !exists {
			f.Reason = "it no longer exists"
			out = append(out, f)
			continue
		}
		ddl := "DROP TYPE " + typ
		if _, err := tx.Exec(ctx, "SAVEPOINT pglinks_type"); err != nil {
			return nil, err
		}
		err := execOne(ctx, tx, ddl)
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			f.Drop = true
			if run != nil {
				run(ddl)
			}
			if _, err := tx.Exec(ctx, "RELEASE SAVEPOINT pglinks_type"); err != nil {
				return nil, err
			}
		case errors.As(err, &pgErr) && pgErr.Code == codeDependentObjects:
			f.Reason = "still in use: " + strings.ReplaceAll(pgErr.Detail, "\n", "; ")
			if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT pglinks_type; RELEASE SAVEPOINT pglinks_type"); err != nil {
				return nil, err
			}
		default:
			tx.Exec(ctx, "ROLLBACK TO SAVEPOINT pglinks_type; RELEASE SAVEPOINT pglinks_type")
			return nil, fmt.Errorf("links: drop type %s: %w", typ, err)
		}
		out = append(out, f)
	}
	return out, nil
}
