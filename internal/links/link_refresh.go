package links

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// RefreshPlan is what the refresh confirmation page shows: the drift, the
// exact SQL that would fix it, and what outside the link it would take.
type RefreshPlan struct {
	Link  *Link
	Drift *Drift
	SQL   []string // in order, as it runs
	// Dependents are objects outside the link's schema that the SQL would
	// drop (views on a gone table or column, ...), found by running it in a
	// savepoint that is rolled back.
	Dependents []Dependent
	// Blockers are reasons the refresh cannot run (a column whose type
	// changed is used by a view, ...).
	Blockers    []string
	Fingerprint string
	Summary     RefreshSummary

	stmts   []statement
	tables  []string // the record's LIMIT TO list after the refresh
	applies bool
}

// RefreshSummary counts what a refresh changes.
type RefreshSummary struct {
	TablesAdded, ColumnsChanged, TablesRemoved, EnumsChanged int
}

// String says it in words: "2 tables added, 1 column changed, 1 table removed".
func (r RefreshSummary) String() string {
	var parts []string
	add := func(n int, one, many, what string) {
		if n == 1 {
			parts = append(parts, fmt.Sprintf("1 %s %s", one, what))
		} else if n > 1 {
			parts = append(parts, fmt.Sprintf("%d %s %s", n, many, what))
		}
	}
	add(r.TablesAdded, "table", "tables", "added")
	add(r.ColumnsChanged, "column", "columns", "changed")
	add(r.TablesRemoved, "table", "tables", "removed")
	add(r.EnumsChanged, "enum type", "enum types", "updated")
	if len(parts) == 0 {
		return "nothing to change"
	}
	return strings.Join(parts, ", ")
}

// Empty reports whether the plan changes nothing.
func (p *RefreshPlan) Empty() bool { return len(p.SQL) == 0 }

// RefreshRequest applies the plan the admin confirmed.
type RefreshRequest struct {
	LocalVar, Name string
	Fingerprint    string
	Actor          string
}

// RefreshResult describes an applied refresh.
type RefreshResult struct {
	Plan    *RefreshPlan
	Summary RefreshSummary
	DDL     []string
}

// PlanRefresh works out the refresh of a link: the drift, the SQL and
// what it would take with it (the SQL runs in a rolled-back savepoint).
func (s *Service) PlanRefresh(ctx context.Context, localVar, name string) (*RefreshPlan, error) {
	local, err := s.database(localVar, "local")
	if err != nil {
		return nil, err
	}
	if err := ValidateName(name); err != nil {
		return nil, errs.E(errs.NotFound, "There is no link named %q in %s.", name, localVar)
	}
	var p *RefreshPlan
	err = s.inPlanTx(ctx, local, name, func(ctx context.Context, tx pgx.Tx) (err error) {
		p, err = s.planRefresh(ctx, tx, local, name)
		return err
	})
	return p, err
}

// RefreshLink applies a refresh in one transaction under the link's lock,
// if the plan is still the one the admin confirmed.
func (s *Service) RefreshLink(ctx context.Context, req RefreshRequest) (*RefreshResult, error) {
	return retryCollisions(ctx, "refresh", req.Name, func() (*RefreshResult, error) { return s.refreshLink(ctx, req) })
}

// refreshLink is one attempt of RefreshLink.
func (s *Service) refreshLink(ctx context.Context, req RefreshRequest) (*RefreshResult, error) {
	local, err := s.database(req.LocalVar, "local")
	if err != nil {
		return nil, err
	}
	if err := ValidateName(req.Name); err != nil {
		return nil, errs.E(errs.NotFound, "There is no link named %q in %s.", req.Name, req.LocalVar)
	}
	ctx, cancel := fleet.Bound(ctx, s.Fleet.Deadlines.Write)
	defer cancel()
	tx, done, err := s.beginLocked(ctx, local, req.Name)
	if err != nil {
		return nil, err
	}
	defer done()
	p, err := s.planRefresh(ctx, tx, local, req.Name)
	if err != nil {
		return nil, err
	}
	if p.Drift.Error != "" {
		return nil, errs.E(errs.Unavailable, "The link's remote cannot be compared right now: %s Nothing was changed.", p.Drift.Error)
	}
	if req.Fingerprint != p.Fingerprint {
		return nil, errs.E(errs.Conflict, "The remote or the objects that depend on link %q changed since the confirmation page was shown. Review the new plan; nothing was changed.", req.Name)
	}
	if len(p.Blockers) > 0 {
		return nil, errs.E(errs.Conflict, "Link %q cannot be refreshed: %s. Nothing was changed.", req.Name, strings.Join(p.Blockers, "; "))
	}
	if p.Empty() {
		return nil, errs.E(errs.Invalid, "Link %q is in step with its remote: there is nothing to refresh.", req.Name)
	}
	remote, err := s.database(p.Link.RemoteConfigVar, "remote")
	if err != nil {
		return nil, err
	}
	res := &RefreshResult{Plan: p, Summary: p.Summary}
	if res.DDL, err = s.runPlan(ctx, tx, local, remote, p.Link.meta.appName(), p.stmts, changeFailed(local, remote, fmt.Sprintf("Refreshing link %q", req.Name), "the refresh")); err != nil {
		return nil, err
	}
	if err := checkImported(ctx, tx, req.Name, p.Drift.NewTables, "refresh"); err != nil {
		return nil, err
	}
	rec := p.Link.record
	if !slices.Equal(rec.Tables, p.tables) {
		rec.Tables = p.tables
		if err := s.Registry.UpdateLink(ctx, rec); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("links: refresh %s: commit: %w", req.Name, err)
	}
	s.changed(ctx, local, req.Name)
	s.Log.Info("link refreshed", "local", local.ConfigVar, "link", req.Name, "changes", p.Summary.String(), "actor", req.Actor)
	return res, nil
}

func (s *Service) planRefresh(ctx context.Context, tx pgx.Tx, local *fleet.Database, name string) (*RefreshPlan, error) {
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
		return nil, errs.E(errs.Conflict, "The schema of link %q in %s is missing or was replaced by hand, so pglinks will not refresh it.", name, local.ConfigVar)
	}
	if err := s.refuseIfElsewhere(ctx, tx, l, "a refresh"); err != nil {
		return nil, err
	}
	d, err := s.readDrift(ctx, tx, l)
	if err != nil {
		return nil, err
	}
	p := &RefreshPlan{Link: l, Drift: d, tables: l.Tables}
	if d.Error != "" {
		return p, nil
	}
	add := func(sql string, remote bool) {
		p.stmts = append(p.stmts, statement{sql: sql, remote: remote})
		p.SQL = append(p.SQL, sql)
	}
	// Enum labels first: new columns may need them.
	for _, e := range d.Enums {
		if len(e.NewLabels) == 0 {
			continue
		}
		p.Summary.EnumsChanged++
		for _, lbl := range e.NewLabels {
			q, err := fleet.QuoteLiteral(lbl)
			if err != nil {
				p.Blockers = append(p.Blockers, fmt.Sprintf("enum %s has a label pglinks cannot copy (%v)", e.Type, err))
				continue
			}
			add(fmt.Sprintf("ALTER TYPE %s ADD VALUE IF NOT EXISTS %s", e.Type, q), false)
		}
	}
	for _, t := range d.Tables {
		tbl := fleet.Ident(name, t.Table)
		for _, c := range t.Gone {
			add("ALTER FOREIGN TABLE "+tbl+" DROP COLUMN "+fleet.Ident(c.Name)+" CASCADE", false)
		}
		for _, c := range t.Added {
			q, err := fleet.QuoteLiteral(c.Name)
			if err != nil {
				p.Blockers = append(p.Blockers, fmt.Sprintf("column %q of %q has a name pglinks cannot use (%v)", c.Name, t.RemoteTable, err))
				continue
			}
			nn := ""
			if c.NotNull {
				nn = " NOT NULL"
			}
			// The type is PostgreSQL's own format_type on the remote, with
			// every name quoted as needed, as IMPORT FOREIGN SCHEMA uses it:
			// when it parses as one type name and nothing else.
			if err := checkRemoteType(c.Type); err != nil {
				p.Blockers = append(p.Blockers, fmt.Sprintf("column %q of %q: %v", c.Name, t.RemoteTable, err))
				continue
			}
			add("ALTER FOREIGN TABLE "+tbl+" ADD COLUMN "+fleet.Ident(c.Name)+" "+c.Type+" OPTIONS (column_name "+q+")"+nn, false)
		}
		for _, c := range t.TypeChanged {
			if err := checkRemoteType(c.RemoteType); err != nil {
				p.Blockers = append(p.Blockers, fmt.Sprintf("column %q of %q: %v", c.Column, t.RemoteTable, err))
				continue
			}
			add("ALTER FOREIGN TABLE "+tbl+" ALTER COLUMN "+fleet.Ident(c.Column)+" TYPE "+c.RemoteType, false)
		}
		p.Summary.ColumnsChanged += len(t.Gone) + len(t.Added) + len(t.TypeChanged)
	}
	for _, t := range d.GoneTables {
		add("DROP FOREIGN TABLE "+fleet.Ident(name, t)+" CASCADE", false)
	}
	p.Summary.TablesRemoved = len(d.GoneTables)
	if len(d.GoneTables) > 0 && p.tables != nil {
		// A LIMIT TO link forgets the remote tables that are gone.
		gone := map[string]bool{}
		for _, t := range d.GoneTables {
			gone[t] = true
		}
		var keep []string
		for _, t := range p.tables {
			if !gone[t] {
				keep = append(keep, t)
			}
		}
		p.tables = append([]string{}, keep...)
	}
	if len(d.NewTables) > 0 {
		add(importStatement(l.RemoteSchema, d.NewTables, name), true)
		p.Summary.TablesAdded = len(d.NewTables)
	}
	// What the local statements would take with them: run them in a
	// savepoint, diff pg_depend, roll back. The import only adds.
	if err := s.refreshDependents(ctx, tx, name, p); err != nil {
		return nil, err
	}
	h := sha256.New()
	for _, st := range p.SQL {
		fmt.Fprintf(h, "%s\x00", st)
	}
	fmt.Fprintf(h, "\x01%s\x01%s", fingerprint(p.Dependents), strings.Join(p.Blockers, "\x00"))
	p.Fingerprint = hex.EncodeToString(h.Sum(nil))[:16]
	return p, nil
}

// refreshDependents runs the plan's local statements in a savepoint that is
// rolled back, and lists the user objects outside the link's schema that
// disappeared; a statement PostgreSQL refuses becomes a blocker.
func (s *Service) refreshDependents(ctx context.Context, tx pgx.Tx, name string, p *RefreshPlan) error {
	var local []string
	for _, st := range p.stmts {
		if !st.remote {
			local = append(local, st.sql)
		}
	}
	if len(local) == 0 {
		return nil
	}
	before, err := cascadeKeys(ctx, tx)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "SAVEPOINT pglinks_refresh; SET LOCAL lock_timeout = 3000"); err != nil {
		return err
	}
	for _, sql := range local {
		if err := execOne(ctx, tx, sql); err != nil {
			if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT pglinks_refresh; RELEASE SAVEPOINT pglinks_refresh"); rerr != nil {
				return rerr
			}
			if fleet.PgCode(err) == codeLockNotAvailable {
				return errs.Wrap(errs.Conflict, err, "Sessions are using link %q or objects that depend on it, so pglinks cannot work out what refreshing it would change. Try again in a moment.", name)
			}
			if fleet.PgCode(err) == "" || fleet.IsTimeout(err) {
				return err
			}
			p.Blockers = append(p.Blockers, fmt.Sprintf("PostgreSQL refuses %s: %s", sql, pgMessage(err)))
			return nil
		}
	}
	after, err := cascadeKeysAfter(ctx, tx, before)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT pglinks_refresh; RELEASE SAVEPOINT pglinks_refresh"); err != nil {
		return err
	}
	p.Dependents, err = describeGone(ctx, tx, name, before, after)
	return err
}

// refuseIfElsewhere refuses a change that compares link l with its
// remote's config var and then imports through the link's own server (a
// refresh, an import) while that server points at another host, port or
// database than the config var: the plan would show one database's tables
// and the import would take the other's under the same names.
func (s *Service) refuseIfElsewhere(ctx context.Context, tx pgx.Tx, l *Link, what string) error {
	if l.IsRedis() {
		return nil
	}
	remote, ok := s.Fleet.Get(l.RemoteConfigVar)
	if !ok || remote.ConfigErr != nil || remote.IsRedis() {
		return nil // the drift read says why it cannot compare
	}
	st, err := readOptions(ctx, tx, *l)
	if err != nil {
		return err
	}
	if st.server["host"] == remote.Host && st.server["port"] == remote.Port && st.server["dbname"] == remote.DBName {
		return nil
	}
	return errs.E(errs.Conflict, "Link %q reads another database than %s names now (%s), so %s would compare with one and import from the other. Repair the link first. Nothing was changed.",
		l.Name, l.RemoteConfigVar, strings.Join(s.compare(st).Changes, "; "), what)
}
