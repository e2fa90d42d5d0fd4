package fleet

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pglinks/pglinks/internal/errs"
)

// Session is one status connection to one database, shared by the reads
// of one background round (the inventory's card, the replication state):
// one PostgreSQL session per database and round, so a fleet larger than
// the cap pays one connection (one scram handshake) per database per round
// rather than one per domain. It is opened on first use; a failure to open
// it is remembered and returned to every later read, so a database that
// does not answer costs one connect timeout per round, not one per read.
//
// In a fleet no larger than the status class's share of the cap, the
// connection comes from the database's status pool and goes back to it,
// so every round reuses it. In a larger fleet it could not stay open until
// the database's next round anyway (another database would need the slot
// first): the session is a plain connection, opened for the round and
// closed after it, and no pool is kept per database.
type Session struct {
	// D is the database.
	D *Database

	f      *Fleet
	pooled *pgxpool.Conn
	conn   *pgx.Conn
	err    error
	opened bool
}

// NewSession prepares a session to d; nothing is opened yet.
func (f *Fleet) NewSession(d *Database) *Session { return &Session{D: d, f: f} }

// pooledStatus reports whether status sessions are pooled: the fleet fits
// in the status class's share of the cap.
func (f *Fleet) pooledStatus() bool { return len(f.Databases) <= f.statusConns() }

// Conn is the session's connection, opened with ctx on first use. Its
// error is Acquire's: errs.Unavailable saying busy (IsBusy), unreachable
// or refused.
func (s *Session) Conn(ctx context.Context) (*pgx.Conn, error) {
	if s.opened {
		return s.conn, s.err
	}
	s.opened = true
	if s.f.pooledStatus() {
		s.pooled, s.err = s.f.Acquire(ctx, s.D, ClassStatus)
		if s.err == nil {
			s.conn = s.pooled.Conn()
		}
		return s.conn, s.err
	}
	s.conn, s.err = s.f.dialStatus(ctx, s.D)
	return s.conn, s.err
}

// dialStatus opens a status connection to d outside any pool, named and
// counted like a pooled one; its errors are Acquire's.
func (f *Fleet) dialStatus(ctx context.Context, d *Database) (*pgx.Conn, error) {
	conn, err := f.dial(ctx, d, "pglinks", ClassStatus, func(cfg *pgx.ConnConfig) {
		// Used for one round: a prepared statement would not be used
		// again, so each statement is sent in one round trip, unprepared.
		cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	})
	switch {
	case err == nil:
		return conn, nil
	case errors.Is(err, ErrConnCap):
		return nil, errs.Wrap(errs.Unavailable, err, "%s (%s) was not asked: %s (%s); try again in a moment", d.ConfigVar, d.ResourceName, ErrConnCap, f.CapHint(ClassStatus))
	case errs.Is(err, errs.Invalid):
		return nil, err
	}
	return nil, ConnectError(d, err)
}

// Broken ends the session after a read that timed out on it: the backend
// may still be busy with the statement, so the connection is not reused
// (a pool's is replaced, see Fleet.Discard). Later reads of the round get
// err.
func (s *Session) Broken(err error) {
	if s.pooled != nil {
		s.pooled.Release()
		s.pooled = nil
		s.f.Discard(s.D, ClassStatus)
	} else if s.conn != nil {
		s.closeConn()
	}
	s.conn = nil
	s.opened, s.err = true, err
}

// Reopen drops a connection the server ended while it was idle (Ended: a
// DBA's pg_terminate_backend, a pooler, a restart) and lets the next Conn
// open a fresh one: the database was not slow, and a read on a new
// connection says what it is now. Call it once per read.
func (s *Session) Reopen() {
	s.Close()
	s.opened, s.err = false, nil
}

// Close gives the connection back to its pool, or closes it.
func (s *Session) Close() {
	switch {
	case s.pooled != nil:
		s.pooled.Release()
		s.pooled = nil
	case s.conn != nil:
		s.closeConn()
	}
	s.conn = nil
}

func (s *Session) closeConn() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	s.conn.Close(ctx) // gives its token back
	cancel()
}
