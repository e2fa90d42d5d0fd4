package links

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// "Analyze foreign tables" gives the planner statistics of a link's
// foreign tables. On PostgreSQL 15 and older, ANALYZE of a foreign table
// reads every row of the remote table over the network and samples them
// here (16 adds analyze_sampling, which samples on the remote), so it is
// bounded: one table per transaction under the link's lock, each within
// fleet.Deadlines.AnalyzeTable, the whole run within AnalyzeAll, least recently
// analyzed tables first. A run that stops says how many are left; running
// it again continues with them. An ended request cancels the table being
// analyzed and stops the run.

// AnalyzeRequest asks to analyze a link's foreign tables.
type AnalyzeRequest struct {
	LocalVar, Name string
	Actor          string
}

// AnalyzeResult says how a run went: Analyzed of Total, the tables that
// failed and why, and how many were not reached.
type AnalyzeResult struct {
	Link      *Link
	Total     int
	Analyzed  []string
	Failed    []AnalyzeFailure
	Remaining int
	Elapsed   time.Duration
	DDL       []string // the ANALYZE statements that ran
}

// AnalyzeFailure is a table ANALYZE did not finish.
type AnalyzeFailure struct{ Table, Reason string }

// analyzeMaxTables bounds one run's list of tables.
const analyzeMaxTables = 10_000

// AnalyzeLink runs ANALYZE on a link's foreign tables; see above.
func (s *Service) AnalyzeLink(ctx context.Context, req AnalyzeRequest) (*AnalyzeResult, error) {
	local, err := s.database(req.LocalVar, "local")
	if err != nil {
		return nil, err
	}
	l, err := s.GetLink(ctx, req.LocalVar, req.Name)
	if err != nil {
		return nil, err
	}
	if l.SchemaMissing {
		return nil, errs.E(errs.Conflict, "The schema of link %q is missing or was replaced by hand.", req.Name)
	}
	start := time.Now()
	ctx, cancel := fleet.Bound(ctx, s.Fleet.Deadlines.AnalyzeAll)
	defer cancel()
	tables, err := s.analyzeOrder(ctx, local, l.Name)
	if err != nil {
		return nil, err
	}
	res := &AnalyzeResult{Link: l, Total: len(tables)}
	remote, _ := s.Fleet.Get(l.RemoteConfigVar)
	for i, t := range tables {
		left := time.Until(start.Add(s.Fleet.Deadlines.AnalyzeAll))
		if ctx.Err() != nil || left < time.Second {
			res.Remaining = len(tables) - i
			break
		}
		if err := s.analyzeTable(ctx, local, remote, l, t, min(s.Fleet.Deadlines.AnalyzeTable, left)); err != nil {
			if errs.KindOf(err) == errs.Conflict {
				return nil, err
			}
			if ctx.Err() != nil { // the run's budget or the request ended: not this table's fault
				res.Remaining = len(tables) - i
				break
			}
			res.Failed = append(res.Failed, AnalyzeFailure{Table: t, Reason: analyzeReason(err, s.Fleet.Deadlines.AnalyzeTable)})
			continue
		}
		res.Analyzed = append(res.Analyzed, t)
		res.DDL = append(res.DDL, "ANALYZE "+fleet.Ident(l.Name, t))
	}
	res.Elapsed = time.Since(start)
	s.Log.Info("link analyzed", "local", local.ConfigVar, "link", l.Name, "analyzed", len(res.Analyzed), "failed", len(res.Failed), "remaining", res.Remaining, "actor", req.Actor)
	return res, nil
}

// analyzeOrder lists the link's foreign tables, never analyzed first, then
// the least recently analyzed.
func (s *Service) analyzeOrder(ctx context.Context, local *fleet.Database, name string) ([]string, error) {
	conn, err := s.Fleet.Acquire(ctx, local, fleet.ClassUser)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	var out []string
	err = collectRows(ctx, conn, `SELECT c.relname FROM pg_catalog.pg_foreign_table ft
		  JOIN pg_catalog.pg_class c ON c.oid = ft.ftrelid
		  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname = $1
		 ORDER BY c.reltuples >= 0, pg_catalog.pg_stat_get_last_analyze_time(c.oid) NULLS FIRST, c.relname
		 LIMIT $2`, []any{name, analyzeMaxTables}, func(r pgx.Rows) error {
		var t string
		err := r.Scan(&t)
		out = append(out, t)
		return err
	})
	if err != nil {
		return nil, readError(local, fmt.Errorf("links: analyze %s: list tables: %w", name, err))
	}
	return out, nil
}

// analyzeTable analyzes one table in its own transaction under the link's
// lock, cutting the link's remote connections if the remote stops
// answering past the timeout.
func (s *Service) analyzeTable(ctx context.Context, local, remote *fleet.Database, l *Link, table string, timeout time.Duration) error {
	tctx, cancel := context.WithTimeout(ctx, timeout+2*time.Second)
	defer cancel()
	tx, done, err := s.beginLocked(tctx, local, l.Name)
	if err != nil {
		return err
	}
	defer done()
	if _, err := tx.Exec(tctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", timeout.Milliseconds())); err != nil {
		return err
	}
	if remote != nil && remote.ConfigErr == nil {
		cut := s.remoteCut(remote, l.meta.appName())
		timer := time.AfterFunc(timeout+time.Second, cut.run)
		defer func() {
			timer.Stop()
			cut.settle()
		}()
	}
	if _, err := tx.Exec(tctx, "ANALYZE "+fleet.Ident(l.Name, table)); err != nil {
		return err
	}
	return tx.Commit(tctx)
}

func analyzeReason(err error, limit time.Duration) string {
	switch {
	case fleet.IsTimeout(err):
		return fmt.Sprintf("took longer than %s: ANALYZE reads the whole remote table over the network (PostgreSQL 15 and older)", limit)
	case fleet.PgCode(err) != "":
		return pgMessage(err)
	case errs.MessageOf(err) != "":
		return errs.MessageOf(err)
	}
	return "the database stopped answering"
}
