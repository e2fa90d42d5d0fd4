package links

import (
	"context"
	"fmt"
	"strings"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// A repair brings a stale link in line with its remote's config var in
// place: ALTER SERVER for where it connects, ALTER USER MAPPING for as whom.
// It never touches the link's schema or foreign tables, so views, functions
// and grants written against the link keep working.

// RepairPlan is what a repair would run, passwords masked, for the link
// as it is (Link.Stale says what differs).
type RepairPlan struct {
	Link *Link
	// DDL is the masked SQL, only the options that changed.
	DDL []string
	// Fingerprint identifies the link and the statements shown; a repair
	// confirmed against another is refused (the server or mapping changed
	// again since).
	Fingerprint string
}

// RepairRequest asks to repair one link; Fingerprint is the plan's the
// confirmation showed.
type RepairRequest struct {
	LocalVar, Name string
	Fingerprint    string
	Actor          string
}

// repairFingerprint is a repair plan's fingerprint: the link (its record)
// and the statements as shown (passwords masked: a password rotated again
// since sets the same options).
func repairFingerprint(l *Link, ddl []string) string {
	fp := []Dependent{{Type: "link", Identity: fmt.Sprintf("%s/%d", l.record.ID, l.record.ServerOID)}}
	for _, d := range ddl {
		fp = append(fp, Dependent{Type: "statement", Identity: d})
	}
	return fingerprint(fp)
}

// RepairResult is a done repair and the probe made right after it. Link
// is the link as it was: its Stale says what was repaired.
type RepairResult struct {
	Link   *Link
	DDL    []string // what ran, passwords masked
	Health LinkHealth
}

// PlanRepair says what a repair of the link would run. It reads the local
// catalog, and proves that the remote's config var authenticates: a plan
// that would write credentials or an address that do not work is refused
// (errs.Conflict wrapping ErrEnvRefused when the remote refuses them,
// errs.Unavailable when it does not answer), and shows nothing to run.
func (s *Service) PlanRepair(ctx context.Context, localVar, name string) (*RepairPlan, error) {
	l, err := s.checkStale(ctx, localVar, name)
	if err != nil {
		return nil, err
	}
	if err := repairable(l, l.Stale); err != nil {
		return nil, err
	}
	if err := s.proveForRepair(ctx, l, true); err != nil {
		return nil, err
	}
	stmts, err := repairStatements(name, l.Stale)
	if err != nil {
		return nil, err
	}
	ddl := shownAll(stmts)
	return &RepairPlan{Link: l, DDL: ddl, Fingerprint: repairFingerprint(l, ddl)}, nil
}

func repairable(l *Link, r *StaleReport) error {
	switch {
	case r.RemoteGone:
		return errs.E(errs.Conflict, "Link %s cannot be repaired: remote %s is not in this fleet any more. Destroy it instead.", l.Name, r.RemoteVar)
	case r.RemoteMisconfigured != "":
		return errs.E(errs.Conflict, "Link %s cannot be repaired: %s.", l.Name, r.RemoteMisconfigured)
	case r.NoMapping:
		return errs.E(errs.Conflict, "Link %s cannot be repaired: %s. Destroy and recreate it.", l.Name, r.Summary())
	case !r.fixable():
		return errs.E(errs.Conflict, "Link %s matches %s: there is nothing to repair.", l.Name, r.RemoteVar)
	}
	return nil
}

// repairStatements builds the ALTER statements from a report: only the
// options that changed. Values are quoted with quoteLiteral; the masked
// form shows the password as '***'.
func repairStatements(name string, r *StaleReport) ([]statement, error) {
	var out []statement
	id := fleet.Ident(name)
	build := func(head string, ops []optionChange) error {
		if len(ops) == 0 {
			return nil
		}
		parts := make([]string, 0, len(ops))
		masked := make([]string, 0, len(ops))
		for _, op := range ops {
			if op.action == "DROP" {
				parts = append(parts, "DROP "+op.key)
				masked = append(masked, "DROP "+op.key)
				continue
			}
			v, err := fleet.QuoteLiteral(op.value)
			if err != nil {
				return errs.E(errs.Invalid, "The %s in %s cannot be used: %v.", op.key, r.RemoteVar, err)
			}
			parts = append(parts, op.action+" "+op.key+" "+v)
			if op.secret {
				v = "'***'"
			}
			masked = append(masked, op.action+" "+op.key+" "+v)
		}
		out = append(out, statement{
			sql:    head + " OPTIONS (" + strings.Join(parts, ", ") + ")",
			masked: head + " OPTIONS (" + strings.Join(masked, ", ") + ")",
		})
		return nil
	}
	if err := build("ALTER SERVER "+id, r.serverOps); err != nil {
		return nil, err
	}
	if err := build("ALTER USER MAPPING FOR CURRENT_USER SERVER "+id, r.mappingOps); err != nil {
		return nil, err
	}
	return out, nil
}

// RepairLink repairs a stale link in one transaction under the link's lock
// (the comparison is made again inside it), then probes it.
func (s *Service) RepairLink(ctx context.Context, req RepairRequest) (*RepairResult, error) {
	return retryCollisions(ctx, "repair", req.Name, func() (*RepairResult, error) { return s.repairLink(ctx, req) })
}

// repairLink is one attempt of RepairLink.
func (s *Service) repairLink(ctx context.Context, req RepairRequest) (*RepairResult, error) {
	local, err := s.database(req.LocalVar, "local")
	if err != nil {
		return nil, err
	}
	if err := ValidateName(req.Name); err != nil {
		return nil, errs.E(errs.NotFound, "There is no link named %q in %s.", req.Name, req.LocalVar)
	}
	tx, done, err := s.beginLocked(ctx, local, req.Name)
	if err != nil {
		return nil, err
	}
	defer done()
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", s.Fleet.Deadlines.RepairStatement.Milliseconds())); err != nil {
		return nil, fmt.Errorf("links: repair statement_timeout: %w", err)
	}
	st, err := s.readStored(ctx, tx, local, req.Name)
	if err != nil {
		return nil, err
	}
	report := s.compare(st)
	if err := repairable(&st.link, report); err != nil {
		return nil, err
	}
	l := st.link
	l.Stale = report
	// Proven again under the link's lock, right before it is written: the
	// config var may have been refused since the plan was shown.
	if err := s.proveForRepair(ctx, &l, false); err != nil {
		return nil, err
	}
	stmts, err := repairStatements(req.Name, report)
	if err != nil {
		return nil, err
	}
	if req.Fingerprint != repairFingerprint(&l, shownAll(stmts)) {
		return nil, errs.E(errs.Conflict, "Link %q or what its repair would run changed since the confirmation page was shown. Review the new plan; nothing was changed.", req.Name)
	}
	res := &RepairResult{Link: &l}
	// Repair statements only touch the local catalog: nothing to guard.
	res.DDL, err = s.runPlan(ctx, tx, local, nil, "", stmts, func(st statement, err error) error {
		if fleet.PgCode(err) == codeInsufficientPriv {
			return errs.Wrap(errs.Forbidden, err, "pglinks' role in %s may not change link %s: %s", local.ConfigVar, req.Name, pgMessage(err))
		}
		return fmt.Errorf("links: repair %s in %s: %s: %w", req.Name, local.ConfigVar, st.shown(), err)
	})
	if err != nil {
		return nil, err
	}
	if st.link.IsRedis() {
		// The new address and credentials must work before they are kept:
		// pglinks_redis reads the mapping as this transaction left it.
		if err := s.checkRedisRepair(ctx, tx, local, &st.link); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("links: repair %s in %s: commit: %w", req.Name, local.ConfigVar, err)
	}
	s.invalidate(local)
	s.Log.Info("link repaired", "local", local.ConfigVar, "link", req.Name, "changes", report.Summary(), "actor", req.Actor)
	if res.Health, err = s.ProbeLink(ctx, local.ConfigVar, req.Name); err != nil {
		return nil, err
	}
	if s.health != nil {
		s.health.linkProbed(local.ConfigVar, req.Name, res.Health)
	}
	return res, nil
}
