package links

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pglinks/pglinks/internal/errs"
)

// QueryChecks keeps query checks in the state database (table
// pglinks.query_checks, migration 0007), the newest checksPerLink of each
// link.
type QueryChecks struct {
	pool    *pgxpool.Pool
	timeout time.Duration
}

// NewQueryChecks keeps checks in the state database behind pool.
func NewQueryChecks(pool *pgxpool.Pool) *QueryChecks {
	return &QueryChecks{pool: pool, timeout: 5 * time.Second}
}

const (
	// maxSavedPlan bounds the EXPLAIN output kept with a check; a larger
	// one is not kept (the findings are).
	maxSavedPlan = 256 << 10
	// maxSavedFindings bounds the findings kept; larger ones lose their
	// plan lines first.
	maxSavedFindings = 512 << 10
	checksPerLink    = 100
)

// CheckSummary is one saved check as the link page lists it.
type CheckSummary struct {
	ID        int64
	At        time.Time
	Actor     string
	Statement string // at most 200 characters
	Analyzed  bool
	KeptLocal int // conditions and steps kept local
}

// KeptLocalCount counts what a check found kept local.
func (c *QueryCheck) KeptLocalCount() int {
	n := len(c.Local)
	for _, s := range c.Scans {
		if s.Mine {
			n += len(s.KeptLocal)
		}
	}
	return n
}

// Save stores c and sets its ID; it keeps the newest checksPerLink checks
// of the link.
func (q *QueryChecks) Save(ctx context.Context, c *QueryCheck) error {
	ctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	findings, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if len(findings) > maxSavedFindings {
		trimmed := *c
		trimmed.Plan, trimmed.PlanTrimmed = nil, true
		if findings, err = json.Marshal(&trimmed); err != nil {
			return err
		}
		if len(findings) > maxSavedFindings {
			return errs.E(errs.Invalid, "The check's findings are too large to keep (%d bytes).", len(findings))
		}
	}
	var plan []byte
	if len(c.planJSON) <= maxSavedPlan {
		plan = c.planJSON
	}
	err = pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO pglinks.query_checks (local_config_var, link, at, actor, statement, analyzed, kept_local, findings, plan)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			c.LocalVar, c.Link, c.At, c.Actor, c.Statement, c.Analyze, c.KeptLocalCount(), findings, plan).Scan(&c.ID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM pglinks.query_checks WHERE local_config_var = $1 AND link = $2 AND id <= (
			SELECT id FROM pglinks.query_checks WHERE local_config_var = $1 AND link = $2 ORDER BY id DESC OFFSET $3 LIMIT 1)`,
			c.LocalVar, c.Link, checksPerLink)
		return err
	})
	return stateError("save query check", err)
}

// Recent lists a link's newest checks, at most limit.
func (q *QueryChecks) Recent(ctx context.Context, localVar, link string, limit int) ([]CheckSummary, error) {
	ctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	rows, err := q.pool.Query(ctx, `SELECT id, at, actor, left(statement, 200), analyzed, kept_local
		  FROM pglinks.query_checks WHERE local_config_var = $1 AND link = $2 ORDER BY id DESC LIMIT $3`, localVar, link, limit)
	if err != nil {
		return nil, stateError("list query checks", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (c CheckSummary, err error) {
		err = r.Scan(&c.ID, &c.At, &c.Actor, &c.Statement, &c.Analyzed, &c.KeptLocal)
		return c, err
	})
	return out, stateError("list query checks", err)
}

// Get reads one saved check of a link.
func (q *QueryChecks) Get(ctx context.Context, localVar, link string, id int64) (*QueryCheck, error) {
	ctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	var findings, plan []byte
	var c QueryCheck
	err := q.pool.QueryRow(ctx, `SELECT id, at, actor, statement, analyzed, findings, plan
		  FROM pglinks.query_checks WHERE local_config_var = $1 AND link = $2 AND id = $3`, localVar, link, id).
		Scan(&c.ID, &c.At, &c.Actor, &c.Statement, &c.Analyze, &findings, &plan)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "There is no saved query check %d for link %s.", id, link)
	}
	if err != nil {
		return nil, stateError("read query check", err)
	}
	id0, at, actor, st, an := c.ID, c.At, c.Actor, c.Statement, c.Analyze
	if err := json.Unmarshal(findings, &c); err != nil {
		return nil, fmt.Errorf("links: read query check %d: %w", id, err)
	}
	c.ID, c.At, c.Actor, c.Statement, c.Analyze = id0, at, actor, st, an
	c.LocalVar, c.Link = localVar, link
	c.planJSON = plan
	return &c, nil
}
