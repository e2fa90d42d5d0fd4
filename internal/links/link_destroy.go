package links

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// Dependent is an object outside a link's schema that would be dropped
// along with the link: a whole object, or only a column of a table.
type Dependent struct {
	Type, Schema, Identity string
	// Description is PostgreSQL's own, schema-qualified: "view
	// public.totals", "column note of table public.keep".
	Description string
}

// DestroyPlan is what the confirmation page shows before a destroy.
type DestroyPlan struct {
	Link       Link
	Tables     []string    // foreign tables in the link's schema
	Dependents []Dependent // objects elsewhere that depend on them
	// Blockers are objects pglinks will not drop: another user mapping or
	// a foreign table elsewhere using the link's server, or anything in the
	// link's schema besides its own foreign tables and views.
	Blockers []string
	// Fingerprint identifies the link, what is in its schema, the
	// dependents and the types shown; destroy refuses if any changed since.
	Fingerprint string
	// Types are the enum types pglinks copied for the link: dropped when
	// nothing else uses them once the link is gone.
	Types []TypeFate
	// SQL is what destroy runs, in order.
	SQL []string
}

// DestroyRequest asks to destroy a link; Confirm is the name the user typed.
type DestroyRequest struct {
	LocalVar, Name string
	Confirm        string
	Fingerprint    string
	Actor          string
}

// DestroyResult describes a destroyed link.
type DestroyResult struct {
	Link       Link
	Dependents []Dependent
	DDL        []string
	Types      []TypeFate // the copied enums, dropped or kept
}

// ErrNotALink marks refusals to touch something pglinks did not create.
var ErrNotALink = errors.New("not a pglinks link")

// PlanDestroy reads what destroying a link would remove.
func (s *Service) PlanDestroy(ctx context.Context, localVar, name string) (*DestroyPlan, error) {
	local, err := s.database(localVar, "local")
	if err != nil {
		return nil, err
	}
	if err := checkDestroyable(localVar, name); err != nil {
		return nil, err
	}
	var plan *DestroyPlan
	err = s.inPlanTx(ctx, local, name, func(ctx context.Context, tx pgx.Tx) (err error) {
		plan, err = s.planDestroy(ctx, tx, local, name)
		return err
	})
	return plan, err
}

// inPlanTx runs fn in a transaction that is always rolled back, bounded by
// the Read deadline (the context and statement_timeout): for plans that find out
// what a change would do by making it and undoing it. It is read-write for
// that reason.
func (s *Service) inPlanTx(ctx context.Context, local *fleet.Database, name string, fn func(context.Context, pgx.Tx) error) error {
	_, err := retryCollisions(ctx, "plan", name, func() (struct{}, error) {
		return struct{}{}, s.planTxOnce(ctx, local, name, fn)
	})
	return err
}

// planTxOnce is one attempt of inPlanTx. A plan runs its DDL in a savepoint
// it rolls back, so it holds the link's lock like a change does.
func (s *Service) planTxOnce(ctx context.Context, local *fleet.Database, name string, fn func(context.Context, pgx.Tx) error) error {
	ctx, cancel := fleet.Bound(ctx, s.Fleet.Deadlines.Read)
	defer cancel()
	tx, done, err := s.Fleet.BeginOnce(ctx, local, pgx.TxOptions{})
	if err != nil {
		return err
	}
	defer done()
	if err := fleet.SetTxTimeouts(ctx, tx, s.Fleet.Deadlines.Read); err != nil {
		return readError(local, err)
	}
	if err := lockLink(ctx, tx, name, s.Fleet.Deadlines.Lock); err != nil {
		return err
	}
	return readError(local, fn(ctx, tx))
}

// DestroyLink removes exactly a link's schema (with what it holds), its
// user mapping and its server, in one transaction, and only for a link
// pglinks created.
func (s *Service) DestroyLink(ctx context.Context, req DestroyRequest) (*DestroyResult, error) {
	return retryCollisions(ctx, "destroy", req.Name, func() (*DestroyResult, error) { return s.destroyLink(ctx, req) })
}

// destroyLink is one attempt of DestroyLink.
func (s *Service) destroyLink(ctx context.Context, req DestroyRequest) (*DestroyResult, error) {
	local, err := s.database(req.LocalVar, "local")
	if err != nil {
		return nil, err
	}
	if err := checkDestroyable(req.LocalVar, req.Name); err != nil {
		return nil, err
	}
	if req.Confirm != req.Name {
		return nil, errs.E(errs.Invalid, "The name you typed does not match %q. Nothing was destroyed.", req.Name).OnField("confirm")
	}
	ctx, cancel := fleet.Bound(ctx, s.Fleet.Deadlines.Write)
	defer cancel()
	tx, done, err := s.beginLocked(ctx, local, req.Name)
	if err != nil {
		return nil, err
	}
	defer done()
	plan, err := s.planDestroy(ctx, tx, local, req.Name)
	if err != nil {
		return nil, err
	}
	if len(plan.Blockers) > 0 {
		return nil, errs.E(errs.Conflict, "Link %q cannot be destroyed while these are in the way: %s. Nothing was destroyed.", req.Name, strings.Join(plan.Blockers, "; "))
	}
	if req.Fingerprint != plan.Fingerprint {
		return nil, errs.E(errs.Conflict, "Link %q, what is in its schema or the objects that depend on it changed since the confirmation page was shown. Review them again; nothing was destroyed.", req.Name)
	}
	res := &DestroyResult{Link: plan.Link, Dependents: plan.Dependents}
	// Dropping talks to no remote: nothing to guard.
	res.DDL, err = s.runPlan(ctx, tx, local, nil, "", destroyStatements(plan.Link), func(st statement, err error) error {
		if fleet.PgCode(err) == codeInsufficientPriv {
			return errs.Wrap(errs.Forbidden, err, "pglinks' role in %s may not destroy %q: %s. Nothing was destroyed.", local.ConfigVar, req.Name, pgMessage(err))
		}
		return fmt.Errorf("links: destroy %s: %s: %w", req.Name, st.sql, err)
	})
	if err != nil {
		return nil, err
	}
	// The copied enums go too, unless something else uses them now.
	if res.Types, err = dropCopiedTypes(ctx, tx, plan.Link.record.CopiedTypes, func(ddl string) { res.DDL = append(res.DDL, ddl) }); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("links: destroy %s: commit: %w", req.Name, err)
	}
	s.forget(ctx, plan.Link.record)
	s.invalidate(local)
	if s.health != nil {
		s.health.linkGone(local.ConfigVar, req.Name)
	}
	s.Log.Info("link destroyed", "local", local.ConfigVar, "link", req.Name, "dependents", len(res.Dependents), "actor", req.Actor)
	return res, nil
}

// checkDestroyable refuses names that can never be a link before any
// database is touched.
func checkDestroyable(localVar, name string) error {
	if err := ValidateName(name); err != nil {
		return errs.Wrap(errs.Forbidden, ErrNotALink, "%q is not a link created by pglinks in %s; pglinks destroys only links it created. Nothing was destroyed.", name, localVar)
	}
	return nil
}

// planDestroy verifies that name is a link pglinks made (its record in the
// registry matches the server and the schema) and lists what goes with it.
func (s *Service) planDestroy(ctx context.Context, tx pgx.Tx, local *fleet.Database, name string) (*DestroyPlan, error) {
	recs, err := s.records(ctx, local.ConfigVar)
	if err != nil {
		return nil, err
	}
	ls, _, err := readLinks(ctx, tx, local, &name, recs)
	if err != nil {
		return nil, err
	}
	if len(ls) == 0 {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)
			OR EXISTS (SELECT 1 FROM pg_foreign_server WHERE srvname = $1)`, name).Scan(&exists); err != nil {
			return nil, fmt.Errorf("links: look up %s: %w", name, err)
		}
		for _, r := range recs {
			if r.Name == name {
				// pglinks made it; its server went outside pglinks.
				return nil, errs.Wrap(errs.Conflict, ErrNotALink, "Link %q in %s was made by pglinks (%s, %s) but its foreign server is gone: it was dropped outside pglinks, and what is left (the schema %s, if it remains) is not something pglinks can prove is the link's, so it does not drop it. Drop it by hand if it is no longer needed. Nothing was destroyed.",
					name, local.ConfigVar, r.CreatedBy, r.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"), fleet.Ident(name))
			}
		}
		if exists {
			return nil, errs.Wrap(errs.Forbidden, ErrNotALink, "%q in %s was not created by pglinks; pglinks destroys only links it created. Nothing was destroyed.", name, local.ConfigVar)
		}
		return nil, errs.E(errs.NotFound, "There is no link named %q in %s.", name, local.ConfigVar)
	}
	l := ls[0]
	if l.SchemaMissing {
		return nil, errs.Wrap(errs.Forbidden, ErrNotALink, "The schema of link %q in %s is missing or was replaced by hand, so pglinks will not drop it. Nothing was destroyed.", name, local.ConfigVar)
	}
	plan := &DestroyPlan{Link: l}
	if err := collectRows(ctx, tx, `SELECT c.relname::text FROM pg_class c
		WHERE c.relnamespace = to_regnamespace($1) AND c.relkind IN ('f', 'v', 'm', 'r', 'p')
		ORDER BY 1`, []any{fleet.Ident(name)}, func(r pgx.Rows) error {
		var t string
		err := r.Scan(&t)
		plan.Tables = append(plan.Tables, t)
		return err
	}); err != nil {
		return nil, fmt.Errorf("links: tables of %s: %w", name, err)
	}
	// The schema must hold only what a link holds. Anything else (a real
	// table, a function, a type, a collation someone put there) would go
	// with DROP SCHEMA ... CASCADE: refuse and say what it is.
	if err := collectRows(ctx, tx, sqlSchemaContents, []any{fleet.Ident(name), l.record.ServerOID}, func(r pgx.Rows) error {
		var what string
		err := r.Scan(&what)
		plan.Blockers = append(plan.Blockers, "the schema also holds "+what+", which is not part of the link")
		return err
	}); err != nil {
		return nil, fmt.Errorf("links: contents of %s: %w", name, err)
	}
	if plan.Dependents, err = cascadeDependents(ctx, tx, name); err != nil {
		if fleet.PgCode(err) == codeInsufficientPriv {
			return nil, notOwnerError(ctx, tx, local, name, err)
		}
		if fleet.PgCode(err) == codeLockNotAvailable {
			return nil, errs.Wrap(errs.Conflict, err, "Sessions are using link %q or objects that depend on it, so pglinks cannot work out what destroying it would drop. Try again in a moment.", name)
		}
		return nil, fmt.Errorf("links: dependents of %s: %w", name, err)
	}
	if err := collectRows(ctx, tx, `
		SELECT 'user mapping for ' || um.usename::text
		  FROM pg_user_mappings um
		 WHERE um.srvname = $1 AND um.usename <> $2
		UNION ALL
		SELECT 'foreign table ' || n.nspname || '.' || c.relname
		  FROM pg_foreign_table ft JOIN pg_foreign_server s ON s.oid = ft.ftserver
		  JOIN pg_class c ON c.oid = ft.ftrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE s.srvname = $1 AND n.nspname <> $1
		 ORDER BY 1`, []any{name, l.record.MappingRole}, func(r pgx.Rows) error {
		var b string
		err := r.Scan(&b)
		plan.Blockers = append(plan.Blockers, b+" uses the link's server")
		return err
	}); err != nil {
		return nil, fmt.Errorf("links: blockers of %s: %w", name, err)
	}
	if plan.Types, err = copiedTypeFates(ctx, tx, name, l.record.CopiedTypes); err != nil {
		if fleet.PgCode(err) == codeLockNotAvailable {
			return nil, errs.Wrap(errs.Conflict, err, "Sessions are using link %q, so pglinks cannot work out what destroying it would drop. Try again in a moment.", name)
		}
		return nil, fmt.Errorf("links: copied types of %s: %w", name, err)
	}
	plan.SQL = shownAll(destroyStatements(l))
	for _, t := range plan.Types {
		if t.Drop {
			plan.SQL = append(plan.SQL, "DROP TYPE "+t.Type)
		}
	}
	// The fingerprint is of everything the page showed that destroy acts
	// on: which link this is (a link destroyed and made again under the
	// same name since is another), what is in its schema, what depends on
	// it and the copied types' fates.
	r := l.record
	fp := []Dependent{{Type: "link", Identity: fmt.Sprintf("%s/%d/%d", r.ID, r.ServerOID, r.SchemaOID), Description: r.RemoteConfigVar}}
	for _, t := range plan.Tables {
		fp = append(fp, Dependent{Type: "in schema", Identity: t})
	}
	fp = append(fp, plan.Dependents...)
	for _, t := range plan.Types {
		fp = append(fp, Dependent{Type: "copied type", Identity: t.Type, Description: fmt.Sprint(t.Drop)})
	}
	plan.Fingerprint = fingerprint(fp)
	return plan, nil
}

// notOwnerError says why pglinks' role may not drop link name's schema
// (err, PostgreSQL's "must be owner"): who owns it now, and how to give it
// back.
func notOwnerError(ctx context.Context, tx pgx.Tx, local *fleet.Database, name string, err error) error {
	var owner, me string
	if qerr := tx.QueryRow(ctx, "SELECT nspowner::regrole::text, current_user::text FROM pg_catalog.pg_namespace WHERE nspname = $1", name).Scan(&owner, &me); qerr != nil {
		return errs.Wrap(errs.Forbidden, err, "pglinks' role in %s may not destroy %q: %s. Nothing was destroyed.", local.ConfigVar, name, pgMessage(err))
	}
	return errs.Wrap(errs.Forbidden, err, "pglinks' role %s in %s may not destroy %q: %s. Its schema is owned by %s now; ALTER SCHEMA %s OWNER TO %s gives it back. Nothing was destroyed.",
		me, local.ConfigVar, name, pgMessage(err), owner, fleet.Ident(name), fleet.Ident(me))
}

// destroyStatements are the statements that remove a link itself.
func destroyStatements(l Link) []statement {
	id := fleet.Ident(l.Name)
	return []statement{
		{sql: "DROP SCHEMA " + id + " CASCADE"},
		{sql: "DROP USER MAPPING IF EXISTS FOR " + fleet.Ident(l.record.MappingRole) + " SERVER " + id},
		{sql: "DROP SERVER " + id},
	}
}

// cascadeDependents lists everything outside schema name that DROP SCHEMA
// name CASCADE would drop, down to single columns, by asking PostgreSQL
// itself: the drop runs inside a savepoint that is rolled back, and the
// user objects that disappeared are the answer. No walk of pg_depend
// written here can miss a dependency kind PostgreSQL follows.
func cascadeDependents(ctx context.Context, tx pgx.Tx, name string) ([]Dependent, error) {
	before, err := cascadeKeys(ctx, tx)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, "SAVEPOINT pglinks_plan; SET LOCAL lock_timeout = 3000"); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, "DROP SCHEMA "+fleet.Ident(name)+" CASCADE"); err != nil {
		tx.Exec(ctx, "ROLLBACK TO SAVEPOINT pglinks_plan")
		return nil, err
	}
	after, err := cascadeKeysAfter(ctx, tx, before)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT pglinks_plan; RELEASE SAVEPOINT pglinks_plan"); err != nil {
		return nil, err
	}
	return describeGone(ctx, tx, name, before, after)
}

// describeGone describes the objects in before and not in after, outside
// schema name.
func describeGone(ctx context.Context, tx pgx.Tx, name string, before, after map[objKey]bool) ([]Dependent, error) {
	var classes, objs []uint32
	var subs []int32
	for k := range before {
		if !after[k] {
			classes, objs, subs = append(classes, k.class), append(objs, k.obj), append(subs, k.sub)
		}
	}
	if len(classes) == 0 {
		return nil, nil
	}
	// Describe with every name schema-qualified, then put search_path back.
	if _, err := tx.Exec(ctx, "SAVEPOINT pglinks_describe; SET LOCAL search_path = ''"); err != nil {
		return nil, err
	}
	var out []Dependent
	err := collectRows(ctx, tx, sqlDescribeDropped, []any{classes, objs, subs, name}, func(r pgx.Rows) error {
		var d Dependent
		err := r.Scan(&d.Type, &d.Schema, &d.Identity, &d.Description)
		out = append(out, d)
		return err
	})
	if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT pglinks_describe; RELEASE SAVEPOINT pglinks_describe"); err == nil {
		err = rerr
	}
	return out, err
}

type objKey struct {
	class, obj uint32
	sub        int32
}

func cascadeKeys(ctx context.Context, tx pgx.Tx) (map[objKey]bool, error) {
	keys := map[objKey]bool{}
	err := collectRows(ctx, tx, sqlCascadeKeys, nil, func(r pgx.Rows) error {
		var k objKey
		err := r.Scan(&k.class, &k.obj, &k.sub)
		keys[k] = true
		return err
	})
	return keys, err
}

// cascadeKeysAfter is cascadeKeys run after a drop, plus the columns of
// before that are still there: a column is in pg_depend only while
// something refers to it (its default, for one), so a column whose default
// the drop took leaves pg_depend without being dropped itself.
func cascadeKeysAfter(ctx context.Context, tx pgx.Tx, before map[objKey]bool) (map[objKey]bool, error) {
	after, err := cascadeKeys(ctx, tx)
	if err != nil {
		return nil, err
	}
	var rels []uint32
	var nums []int32
	for k := range before {
		if k.class == pgClassOID && k.sub > 0 && !after[k] {
			rels, nums = append(rels, k.obj), append(nums, k.sub)
		}
	}
	if len(rels) == 0 {
		return after, nil
	}
	err = collectRows(ctx, tx, `SELECT a.attrelid, a.attnum FROM unnest($1::oid[], $2::int2[]) AS u(rel, num)
		JOIN pg_attribute a ON a.attrelid = u.rel AND a.attnum = u.num WHERE NOT a.attisdropped`, []any{rels, nums}, func(r pgx.Rows) error {
		k := objKey{class: pgClassOID}
		var num int16
		err := r.Scan(&k.obj, &num)
		k.sub = int32(num)
		after[k] = true
		return err
	})
	return after, err
}

// pgClassOID is pg_class's own oid, fixed in every PostgreSQL.
const pgClassOID = 1259

func fingerprint(deps []Dependent) string {
	h := sha256.New()
	for _, d := range deps {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", d.Type, d.Schema, d.Identity, d.Description)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// collectRows runs a query on a connection or transaction and hands each
// row to scan.
func collectRows(ctx context.Context, q querier, sql string, args []any, scan func(pgx.Rows) error) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
