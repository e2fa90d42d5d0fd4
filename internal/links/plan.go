package links

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// statement is one statement of a plan (create, refresh, import, repair,
// destroy): what runs, and what the preview and the audit trail show.
type statement struct {
	sql, masked string // masked: sql with passwords hidden ("" when it holds none)
	remote      bool   // talks to the remote through the foreign server
	// fails, when set, words this statement's failure in its own terms
	// (the plan's words otherwise).
	fails func(error) error
}

// shown is the statement as previews and the audit trail show it.
func (st statement) shown() string {
	if st.masked != "" {
		return st.masked
	}
	return st.sql
}

// shownAll is every statement as shown.
func shownAll(stmts []statement) []string {
	out := make([]string, len(stmts))
	for i, st := range stmts {
		out[i] = st.shown()
	}
	return out
}

// runPlan runs a confirmed plan's statements in tx, a transaction on
// local, in order, and returns them as shown. A statement that talks to
// remote through the link's server (named appName on the remote) is
// guarded (guardRemote), so a remote that stops answering ends it within
// a couple of seconds after its statement_timeout. failed words a failure
// the statement does not word itself.
func (s *Service) runPlan(ctx context.Context, tx pgx.Tx, local, remote *fleet.Database, appName string, stmts []statement, failed func(statement, error) error) ([]string, error) {
	var ran []string
	for _, st := range stmts {
		stop := func() {}
		if st.remote {
			stop = s.guardRemote(ctx, tx, local, remote, appName)
		}
		err := execOne(ctx, tx, st.sql)
		stop()
		if err != nil {
			if st.fails != nil {
				return nil, st.fails(err)
			}
			return nil, failed(st, err)
		}
		ran = append(ran, st.shown())
	}
	return ran, nil
}

// changeFailed words the failure of a refresh's or an import's statement:
// the remote's own words through postgres_fdw, a remote that stopped
// answering, or PostgreSQL's refusal. doing ("Refreshing link \"x\"") and
// during ("the refresh") name the change.
func changeFailed(local, remote *fleet.Database, doing, during string) func(statement, error) error {
	return func(st statement, err error) error {
		if e := fdwError(local, remote, err); e != err {
			return e
		}
		if fleet.IsTimeout(err) {
			return errs.Wrap(errs.Unavailable, err, "%s stopped answering during %s, so pglinks gave up; nothing was changed.", remote.ConfigVar, during)
		}
		return errs.Wrap(errs.Conflict, err, "%s failed at %s: %s. Nothing was changed.", doing, st.sql, pgMessage(err))
	}
}
