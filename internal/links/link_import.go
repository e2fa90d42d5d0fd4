package links

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/connect"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// MaxImportTables bounds how many tables one import adds to a link.
const MaxImportTables = 200

// ImportPlan is what the import confirmation page shows: the tables a
// LIMIT TO link would take on, and the exact SQL that would import them.
type ImportPlan struct {
	Link  *Link
	Drift *Drift
	// Tables are the chosen remote tables, in the remote's order.
	Tables []string
	SQL    []string // in order, as it runs
	// CopiedTypes are enum types the import creates locally;
	// ExtendedTypes local enums that get the remote's missing labels.
	CopiedTypes, ExtendedTypes []string
	// Blockers are reasons the import cannot run (a relation of the same
	// name in the link's schema, a statement PostgreSQL refuses, ...).
	Blockers    []string
	Fingerprint string

	stmts  []statement
	copied []string // CopiedTypes, quoted for SQL, for the record
}

// ImportRequest applies the import plan the admin confirmed.
type ImportRequest struct {
	LocalVar, Name string
	Tables         []string
	Fingerprint    string
	Actor          string
}

// ImportResult describes an applied import.
type ImportResult struct {
	Plan *ImportPlan
	DDL  []string
}

// Importable lists the remote tables d offers for a LIMIT TO link that an
// import may add: the available ones, less those the rule of Heroku Connect
// schemas (connectRefusal) keeps out when d found the link's schema to be
// one; _trigger_log stays, for a read-only link, as at creation.
func Importable(l *Link, d *Drift) []string {
	if l == nil || d == nil || l.Tables == nil {
		return nil
	}
	var out []string
	for _, t := range d.Available {
		if d.Connect && connectRefusal(t, l.ReadOnly, true) != "" {
			continue
		}
		out = append(out, t)
	}
	return out
}

// checkImportChoice refuses a choice that cannot be a list of tables to
// import, before anything is read.
func checkImportChoice(tables []string) error {
	if len(tables) == 0 {
		return errs.E(errs.Invalid, "Choose at least one table to import. Nothing was changed.").OnField("tables")
	}
	if len(tables) > MaxImportTables {
		return errs.E(errs.Invalid, "At most %d tables can be imported at once (%d were chosen): import them in steps. Nothing was changed.", MaxImportTables, len(tables)).OnField("tables")
	}
	seen := map[string]bool{}
	for _, t := range tables {
		if t == "" || len(t) > fleet.MaxIdentLen || !utf8.ValidString(t) || strings.ContainsRune(t, 0) || strings.ContainsRune(t, utf8.RuneError) {
			return errs.E(errs.Invalid, "%q is not a table name PostgreSQL can have (1 to %d bytes of text). Choose tables from the list; nothing was changed.", t, fleet.MaxIdentLen).OnField("tables")
		}
		if seen[t] {
			return errs.E(errs.Invalid, "The table %q was chosen twice; choose each table once. Nothing was changed.", t).OnField("tables")
		}
		seen[t] = true
	}
	return nil
}

// PlanImport works out importing the chosen remote tables into a LIMIT TO
// link: the SQL (enum types the tables need, then IMPORT FOREIGN SCHEMA
// ... LIMIT TO), checked in a transaction that is rolled back.
func (s *Service) PlanImport(ctx context.Context, localVar, name string, tables []string) (*ImportPlan, error) {
	local, err := s.database(localVar, "local")
	if err != nil {
		return nil, err
	}
	if err := ValidateName(name); err != nil {
		return nil, errs.E(errs.NotFound, "There is no link named %q in %s.", name, localVar)
	}
	if err := checkImportChoice(tables); err != nil {
		return nil, err
	}
	var p *ImportPlan
	err = s.inPlanTx(ctx, local, name, func(ctx context.Context, tx pgx.Tx) (err error) {
		p, err = s.planImport(ctx, tx, local, name, tables)
		return err
	})
	return p, err
}

// ImportTables applies an import in one transaction under the link's
// lock, if the plan is still the one the admin confirmed, and adds the
// tables to the link's LIMIT TO list in its record.
func (s *Service) ImportTables(ctx context.Context, req ImportRequest) (*ImportResult, error) {
	return retryCollisions(ctx, "import", req.Name, func() (*ImportResult, error) { return s.importTables(ctx, req) })
}

// importTables is one attempt of ImportTables.
func (s *Service) importTables(ctx context.Context, req ImportRequest) (*ImportResult, error) {
	local, err := s.database(req.LocalVar, "local")
	if err != nil {
		return nil, err
	}
	if err := ValidateName(req.Name); err != nil {
		return nil, errs.E(errs.NotFound, "There is no link named %q in %s.", req.Name, req.LocalVar)
	}
	if err := checkImportChoice(req.Tables); err != nil {
		return nil, err
	}
	ctx, cancel := fleet.Bound(ctx, s.Fleet.Deadlines.Write)
	defer cancel()
	tx, done, err := s.beginLocked(ctx, local, req.Name)
	if err != nil {
		return nil, err
	}
	defer done()
	p, err := s.planImport(ctx, tx, local, req.Name, req.Tables)
	if err != nil {
		return nil, err
	}
	if req.Fingerprint != p.Fingerprint {
		return nil, errs.E(errs.Conflict, "The remote or link %q changed since the confirmation page was shown. Review the new plan; nothing was changed.", req.Name)
	}
	if len(p.Blockers) > 0 {
		return nil, errs.E(errs.Conflict, "The tables cannot be imported into link %q: %s. Nothing was changed.", req.Name, strings.Join(p.Blockers, "; "))
	}
	remote, err := s.database(p.Link.RemoteConfigVar, "remote")
	if err != nil {
		return nil, err
	}
	res := &ImportResult{Plan: p}
	if res.DDL, err = s.runPlan(ctx, tx, local, remote, p.Link.meta.appName(), p.stmts, changeFailed(local, remote, fmt.Sprintf("Importing into link %q", req.Name), "the import")); err != nil {
		return nil, err
	}
	if err := checkImported(ctx, tx, req.Name, p.Tables, "import"); err != nil {
		return nil, err
	}
	rec := p.Link.record
	rec.Tables = append(slices.Clone(rec.Tables), p.Tables...)
	rec.CopiedTypes = append(slices.Clone(rec.CopiedTypes), p.copied...)
	if err := s.Registry.UpdateLink(ctx, rec); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("links: import into %s: commit: %w", req.Name, err)
	}
	s.changed(ctx, local, req.Name)
	s.Log.Info("tables imported into link", "local", local.ConfigVar, "link", req.Name, "tables", len(p.Tables), "actor", req.Actor)
	return res, nil
}

func (s *Service) planImport(ctx context.Context, tx pgx.Tx, local *fleet.Database, name string, chosen []string) (*ImportPlan, error) {
	recs, err := s.records(ctx, local.ConfigVar)
	if err != nil {
		return nil, err
	}
	ls, _, err := readLinks(ctx, tx, local, &name, recs)
	if err != nil {
		return nil, err
	}
	if len(ls) == 0 {
		return nil, errs.E(errs.NotFound, "There is no link named %q in %s.", name, local.ConfigVar)
	}
	l := &ls[0]
	if l.SchemaMissing {
		return nil, errs.E(errs.Conflict, "The schema of link %q in %s is missing or was replaced by hand, so pglinks will not import into it.", name, local.ConfigVar)
	}
	if l.IsRedis() {
		return nil, DoesNotApply(l, "Importing tables")
	}
	if err := s.refuseIfElsewhere(ctx, tx, l, "an import"); err != nil {
		return nil, err
	}
	if l.Tables == nil {
		return nil, errs.E(errs.Invalid, "Link %q imports every table of its remote schema already: tables the remote adds show as drift and come in with a refresh. Nothing was changed.", name).OnField("tables")
	}
	d, err := s.readDrift(ctx, tx, l)
	if err != nil {
		return nil, err
	}
	if d.Error != "" {
		return nil, errs.E(errs.Unavailable, "The link's remote cannot be read right now: %s Nothing was changed.", d.Error)
	}
	remote, err := s.database(l.RemoteConfigVar, "remote")
	if err != nil {
		return nil, err
	}
	// The chosen tables, in the remote's order; each must be available.
	want := map[string]bool{}
	for _, t := range chosen {
		want[t] = true
	}
	p := &ImportPlan{Link: l, Drift: d}
	for _, t := range d.Available {
		if want[t] {
			p.Tables = append(p.Tables, t)
			delete(want, t)
		}
	}
	if len(want) > 0 {
		var imported, missing []string
		for _, t := range chosen {
			switch {
			case !want[t]:
			case slices.Contains(l.Tables, t):
				imported = append(imported, fmt.Sprintf("%q", t))
			default:
				missing = append(missing, fmt.Sprintf("%q", t))
			}
		}
		var why []string
		if len(missing) > 0 {
			why = append(why, fmt.Sprintf("%s has no table %s in schema %q (any more)", remote.ConfigVar, joinMax(missing, 5), l.RemoteSchema))
		}
		if len(imported) > 0 {
			why = append(why, fmt.Sprintf("link %q imports %s already", name, joinMax(imported, 5)))
		}
		return nil, errs.E(errs.Invalid, "Not available to import: %s. Choose again from the list; nothing was changed.", strings.Join(why, "; ")).OnField("tables")
	}
	// Heroku Connect's system tables stay out, by the rule of creation.
	if _, err := s.checkConnectImport(ctx, remote, CreateRequest{
		RemoteSchema: l.RemoteSchema, Tables: p.Tables, ReadOnly: l.ReadOnly,
		ConnectTriggerLog: slices.Contains(p.Tables, connect.TableTriggerLog),
	}); err != nil {
		return nil, reworded(err, "Nothing was created.", "Nothing was changed.")
	}
	types, err := s.importTypes(ctx, remote, l.RemoteSchema, p.Tables)
	if err != nil {
		return nil, err
	}
	gaps, err := typeGaps(ctx, tx, types)
	if err != nil {
		return nil, err
	}
	add := func(sql string, remote bool) {
		p.stmts = append(p.stmts, statement{sql: sql, remote: remote})
		p.SQL = append(p.SQL, sql)
	}
	// The enum types the tables need, as creating a link copies them; a
	// failure is worded as any of the import's.
	var copied CreateResult
	enums, err := copyEnums(local, gaps, true, &copied)
	if err != nil {
		return nil, retarget(err, "tables")
	}
	for _, st := range enums {
		add(st.sql, false)
	}
	p.CopiedTypes, p.ExtendedTypes, p.copied = copied.CopiedTypes, copied.ExtendedTypes, copied.copiedSQL
	add(importStatement(l.RemoteSchema, p.Tables, name), true)

	var taken []string
	if err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(c.relname::text ORDER BY c.relname), '{}')
		FROM pg_catalog.pg_class c WHERE c.relnamespace = $1::oid AND c.relname = ANY($2)`, l.record.SchemaOID, p.Tables).Scan(&taken); err != nil {
		return nil, fmt.Errorf("links: names in %s: %w", name, err)
	}
	for _, t := range taken {
		p.Blockers = append(p.Blockers, fmt.Sprintf("the schema %s already holds a relation named %s, made outside pglinks", fleet.Ident(name), fleet.Ident(t)))
	}
	if err := checkInSavepoint(ctx, tx, name, p.stmts, &p.Blockers); err != nil {
		return nil, err
	}
	h := sha256.New()
	for _, st := range p.SQL {
		fmt.Fprintf(h, "%s\x00", st)
	}
	fmt.Fprintf(h, "\x01%s\x01%s", strings.Join(l.Tables, "\x00"), strings.Join(p.Blockers, "\x00"))
	p.Fingerprint = hex.EncodeToString(h.Sum(nil))[:16]
	return p, nil
}

// importTypes reads the user-defined types the chosen remote tables use,
// over pglinks' own bounded connection to the remote.
func (s *Service) importTypes(ctx context.Context, remote *fleet.Database, schema string, tables []string) ([]RemoteType, error) {
	ctx, cancel := fleet.Bound(ctx, s.Fleet.Deadlines.Status)
	defer cancel()
	conn, err := s.Fleet.Acquire(ctx, remote, fleet.ClassUser)
	if err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "Remote %s", errs.MessageOf(err))
	}
	defer conn.Release()
	types, err := remoteTypes(ctx, conn.Conn(), schema, tables)
	if err != nil {
		if fleet.IsTimeout(err) {
			return nil, errs.Wrap(errs.Unavailable, err, "The remote %s (%s) did not answer in time.", remote.ConfigVar, remote.ResourceName)
		}
		return nil, err
	}
	return types, nil
}

// checkInSavepoint runs the local statements of a plan in a savepoint that
// is rolled back: a statement PostgreSQL refuses becomes a blocker.
func checkInSavepoint(ctx context.Context, tx pgx.Tx, name string, stmts []statement, blockers *[]string) error {
	var local []string
	for _, st := range stmts {
		if !st.remote {
			local = append(local, st.sql)
		}
	}
	if len(local) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, "SAVEPOINT pglinks_import; SET LOCAL lock_timeout = 3000"); err != nil {
		return err
	}
	var refused error
	var at string
	for _, sql := range local {
		if err := execOne(ctx, tx, sql); err != nil {
			refused, at = err, sql
			break
		}
	}
	if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT pglinks_import; RELEASE SAVEPOINT pglinks_import"); err != nil {
		return err
	}
	switch {
	case refused == nil:
		return nil
	case fleet.PgCode(refused) == codeLockNotAvailable:
		return errs.Wrap(errs.Conflict, refused, "Sessions are using the types link %q needs, so pglinks cannot check the import. Try again in a moment.", name)
	case fleet.PgCode(refused) == "" || fleet.IsTimeout(refused):
		return refused
	}
	*blockers = append(*blockers, fmt.Sprintf("PostgreSQL refuses %s: %s", at, pgMessage(refused)))
	return nil
}

// reworded is a domain error with one phrase of its message replaced: the
// create path's checks, said of an import.
func reworded(err error, old, new string) error {
	if e, ok := err.(*errs.Error); ok {
		c := *e
		c.Message = strings.Replace(c.Message, old, new, 1)
		return &c
	}
	return err
}

// retarget puts a domain error's message next to another form field.
func retarget(err error, field string) error {
	if e, ok := err.(*errs.Error); ok {
		c := *e
		c.Field = field
		return &c
	}
	return err
}

// checkImported refuses a change whose IMPORT FOREIGN SCHEMA ... LIMIT TO
// did not bring every table of want into link name's schema: PostgreSQL
// skips, without an error, a table the remote no longer has (dropped
// between the plan and the statement), and the change would report a
// table it did not add. The transaction is then rolled back.
func checkImported(ctx context.Context, tx pgx.Tx, name string, want []string, what string) error {
	if len(want) == 0 {
		return nil
	}
	var missing []string
	if err := collectRows(ctx, tx, `SELECT t FROM unnest($2::text[]) AS t
		WHERE to_regclass(pg_catalog.quote_ident($1) || '.' || pg_catalog.quote_ident(t)) IS NULL`, []any{name, want}, func(r pgx.Rows) error {
		var t string
		err := r.Scan(&t)
		missing = append(missing, t)
		return err
	}); err != nil {
		return fmt.Errorf("links: %s of %s: check the imported tables: %w", what, name, err)
	}
	if len(missing) > 0 {
		return errs.E(errs.Conflict, "The remote no longer has %s, so the %s would not bring it in. Review the new plan; nothing was changed.", joinMax(quoteAll(missing, ""), 5), what)
	}
	return nil
}
