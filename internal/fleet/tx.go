package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Begin opens a transaction on d over a user connection. done rolls back
// (a no-op after Commit) and returns the connection to the pool. The
// rollback gets a context of its own: a request that ended must still end
// its transaction, and a backend that does not finish rolling back in time
// is terminated, so no transaction or advisory lock outlives the
// operation.
func (f *Fleet) Begin(ctx context.Context, d *Database, opts pgx.TxOptions) (tx pgx.Tx, done func(), err error) {
	return f.begin(ctx, d, opts, false)
}

// BeginOnce is Begin on a connection that is closed afterwards instead of
// going back to the pool: for work through a link's foreign server, whose
// remote connection postgres_fdw would otherwise keep open in a pooled
// session of pglinks' for as long as that session lives.
func (f *Fleet) BeginOnce(ctx context.Context, d *Database, opts pgx.TxOptions) (tx pgx.Tx, done func(), err error) {
	return f.begin(ctx, d, opts, true)
}

func (f *Fleet) begin(ctx context.Context, d *Database, opts pgx.TxOptions, closeAfter bool) (tx pgx.Tx, done func(), err error) {
	conn, err := f.Acquire(ctx, d, ClassUser)
	if err != nil {
		return nil, nil, err
	}
	tx, err = conn.BeginTx(ctx, opts)
	if err != nil {
		conn.Release()
		return nil, nil, ConnectError(d, err)
	}
	pid := conn.Conn().PgConn().PID()
	return tx, func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.Deadlines.Rollback)
		defer cancel()
		if err := tx.Rollback(rctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
			f.log().Warn("rollback failed; terminating the backend", "database", d.ConfigVar, "pid", pid, "err", err)
			conn.Conn().PgConn().Close(rctx)
			f.TerminateBackend(d, pid)
		} else if closeAfter {
			conn.Conn().Close(rctx) // the pool drops it on Release
		}
		conn.Release()
	}, nil
}

// Rollback ends tx (a no-op after Commit) within the Rollback deadline,
// whatever became of ctx: a transaction whose operation ended must still
// end, and a database that stops answering is given no longer than that.
// A rollback that fails leaves pgx's connection closed, so a pool never
// hands it out again.
func (f *Fleet) Rollback(ctx context.Context, tx pgx.Tx) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.Deadlines.Rollback)
	defer cancel()
	_ = tx.Rollback(rctx)
}

// TerminateBackend ends a backend of pglinks' own role in d, over another
// connection: for a transaction whose connection could not roll it back,
// or whose statement overran its bound. It signals the backend and does
// not wait for it to end: a backend waiting on a silent remote inside
// postgres_fdw's cleanup ends only when that wait does (up to 30 s), and
// nobody should wait with it.
func (f *Fleet) TerminateBackend(d *Database, pid uint32) {
	ctx, cancel := context.WithTimeout(context.Background(), f.Deadlines.Rollback)
	defer cancel()
	conn, err := f.Acquire(ctx, d, ClassUser)
	if err != nil {
		f.log().Warn("terminate backend: connect", "database", d.ConfigVar, "pid", pid, "err", err)
		return
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend($1)", int64(pid)); err != nil {
		f.log().Warn("terminate backend", "database", d.ConfigVar, "pid", pid, "err", err)
	}
}

// SetTxTimeouts sets statement_timeout and
// idle_in_transaction_session_timeout for tx alone.
func SetTxTimeouts(ctx context.Context, tx pgx.Tx, statement time.Duration) error {
	ms := statement.Milliseconds()
	if ms <= 0 {
		ms = 1
	}
	_, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d; SET LOCAL idle_in_transaction_session_timeout = %d", ms, ms+5000))
	return err
}
