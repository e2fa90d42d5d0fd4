package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/pglinks/pglinks/internal/fleet"
)

// Shared is the table of background results every process shares
// (fleet.SharedStore), pglinks.background_results.
type Shared struct{ db *DB }

// Shared is the state database's table of background results.
func (db *DB) Shared() *Shared { return &Shared{db: db} }

func tstz(t time.Time) pgtype.Timestamptz { return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()} }

// Save keeps recs in one statement, each unless a newer result of the
// same kind and key is kept already. recs must not repeat a kind and key.
func (s *Shared) Save(ctx context.Context, recs []fleet.SharedRecord) error {
	n := len(recs)
	kinds, keys, targets, downs, causes := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	asOf, failing, retry := make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
	bodies := make([]pgtype.Text, n)
	took := make([]int32, n)
	for i, r := range recs {
		kinds[i], keys[i], targets[i], downs[i], causes[i] = r.Kind, r.Key, r.Target, r.Down, string(r.Cause)
		took[i] = int32(min(r.Took.Milliseconds(), 1<<31-1))
		asOf[i], failing[i], retry[i] = tstz(r.AsOf), tstz(r.FailingSince), tstz(r.RetryAt)
		bodies[i] = pgtype.Text{String: string(r.Body), Valid: r.Body != nil}
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultCallTimeout)
	defer cancel()
	_, err := s.db.pool.Exec(ctx, `INSERT INTO pglinks.background_results AS r (kind, key, target, as_of, took_ms, failing_since, retry_at, down, cause, body)
		SELECT k, key, tg, a, t, f, rt, d, c, b::json
		  FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int[], $5::timestamptz[], $6::timestamptz[], $7::text[], $8::text[], $9::text[], $10::text[]) AS u(k, key, a, t, f, rt, d, b, c, tg)
		ON CONFLICT (kind, key, target) DO UPDATE
		   SET as_of = excluded.as_of, took_ms = excluded.took_ms, failing_since = excluded.failing_since, retry_at = excluded.retry_at,
		       down = excluded.down, cause = excluded.cause, body = excluded.body, seq = nextval('pglinks.background_seq')
		 WHERE excluded.as_of >= r.as_of`, kinds, keys, asOf, took, failing, retry, downs, bodies, causes, targets)
	if err != nil {
		return fmt.Errorf("state: save background results: %w", err)
	}
	return nil
}

// Since returns up to limit results written after seq, in seq order.
func (s *Shared) Since(ctx context.Context, seq int64, limit int) ([]fleet.SharedRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultCallTimeout)
	defer cancel()
	rows, err := s.db.pool.Query(ctx, `SELECT kind, key, target, as_of, took_ms, failing_since, retry_at, down, cause, body::text, seq
		  FROM pglinks.background_results WHERE seq > $1 ORDER BY seq LIMIT $2`, seq, limit)
	if err != nil {
		return nil, fmt.Errorf("state: read background results: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (fleet.SharedRecord, error) {
		var r fleet.SharedRecord
		var failing, retry pgtype.Timestamptz
		var body pgtype.Text
		var took int32
		var cause string
		err := row.Scan(&r.Kind, &r.Key, &r.Target, &r.AsOf, &took, &failing, &retry, &r.Down, &cause, &body, &r.Seq)
		r.Cause = fleet.Cause(cause)
		r.FailingSince, r.RetryAt = failing.Time, retry.Time
		r.Took = time.Duration(took) * time.Millisecond
		if body.Valid {
			r.Body = []byte(body.String)
		}
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("state: read background results: %w", err)
	}
	return out, nil
}

// Leases are the state database's leases (fleet.LeaseStore),
// pglinks.leases.
type Leases struct{ db *DB }

// Leases is the state database's table of leases.
func (db *DB) Leases() *Leases { return &Leases{db: db} }

// TryAcquire takes the lease name for holder for ttl, by the state
// database's clock, when it is free, expired or holder's already.
func (l *Leases) TryAcquire(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	var ok bool
	err := l.db.pool.QueryRow(ctx, `INSERT INTO pglinks.leases AS l (name, holder, expires_at, since)
		VALUES ($1, $2, now() + $3 * interval '1 millisecond', now())
		ON CONFLICT (name) DO UPDATE
		   SET holder = excluded.holder, expires_at = excluded.expires_at,
		       since = CASE WHEN l.holder = excluded.holder THEN l.since ELSE excluded.since END
		 WHERE l.holder = excluded.holder OR l.expires_at < now()
		RETURNING true`, name, holder, ttl.Milliseconds()).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("state: lease %s: %w", name, err)
	}
	return ok, nil
}

// Release gives the lease up if holder has it.
func (l *Leases) Release(ctx context.Context, name, holder string) error {
	if _, err := l.db.pool.Exec(ctx, `DELETE FROM pglinks.leases WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return fmt.Errorf("state: give up lease %s: %w", name, err)
	}
	return nil
}

// Holder says who holds the lease name and until when; "" when nobody
// does (or it expired).
func (l *Leases) Holder(ctx context.Context, name string) (holder string, since time.Time, err error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultCallTimeout)
	defer cancel()
	err = l.db.pool.QueryRow(ctx, `SELECT holder, since FROM pglinks.leases WHERE name = $1 AND expires_at >= now()`, name).Scan(&holder, &since)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("state: lease %s: %w", name, err)
	}
	return holder, since, nil
}
