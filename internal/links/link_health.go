package links

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// HealthState is what the last probe of a link found.
type HealthState string

const (
	HealthUnknown HealthState = "unknown" // not checked yet
	HealthHealthy HealthState = "healthy"
	HealthBroken  HealthState = "broken"
)

// LinkHealth is the result of one probe through a link.
type LinkHealth struct {
	State HealthState
	// RTT is how long the probe query through the link took, remote
	// connection included (the probe always opens a fresh one).
	RTT time.Duration
	// Reason says in words why a broken link is broken: remote unreachable
	// (not answering, connection refused, host not found), password
	// refused, database does not exist, remote table missing, ... At most
	// MaxReasonChars characters, whatever the remote said.
	Reason string
	// Cause classifies a broken link's failure as cards classify a
	// database's (fleet.Classify), or CauseTableMissing,
	// CausePasswordNotAsked: /metrics labels it with this.
	Cause     fleet.Cause
	CheckedAt time.Time
	// Redis is what the Redis of a Redis link said of itself through the
	// link (pglinks_redis_ping); nil otherwise.
	Redis *fleet.RedisInfo
}

// Causes of a broken link that are the link's own, beside the fleet's
// causes of a failure to reach a database.
const (
	CauseTableMissing     fleet.Cause = "remote_table_missing"
	CausePasswordNotAsked fleet.Cause = "password_not_requested"
)

// Age is how long ago the probe ran.
func (h LinkHealth) Age(now time.Time) time.Duration {
	if h.CheckedAt.IsZero() {
		return 0
	}
	return now.Sub(h.CheckedAt)
}

// probeTableName is the zero-column foreign table the probe makes (and
// rolls back) so it works for links with no foreign tables.
const probeTableName = "pglinks_probe"

// ProbeLink checks a link the way the local database's users use it: on a
// fresh session of the local database (postgres_fdw caches remote
// connections per session, and a cached connection keeps working after the
// remote's password is rotated), in a transaction that is rolled back, it
// makes a temporary zero-column foreign table on the link's server over the remote's
// pg_catalog.pg_database and counts its rows (the round trip reported),
// checks on the remote's catalog that every table the server's foreign
// tables point at still exists, and reads one row of one of them that is a
// table without row-level security on the remote, if there is one. The
// whole probe is bounded by the fleet's connect and status deadlines plus
// the server's connect_timeout.
//
// Errors are returned only when the link cannot be read (it does not
// exist); a failing probe is a LinkHealth with State HealthBroken.
func (s *Service) ProbeLink(ctx context.Context, localVar, name string) (LinkHealth, error) {
	h, err := s.probeLink(ctx, localVar, name)
	h.Reason = fleet.Clip(h.Reason, MaxReasonChars)
	return h, err
}

// MaxReasonChars bounds a link's health reason, and every PostgreSQL
// message pglinks quotes (pgMessage), which can be what a remote said (an
// error of megabytes, from its owner's view or a hostile server): every
// card, page, flash, API answer, audit row and log line that shows it.
const MaxReasonChars = 500

func (s *Service) probeLink(ctx context.Context, localVar, name string) (LinkHealth, error) {
	local, err := s.database(localVar, "local")
	if err != nil {
		return LinkHealth{}, err
	}
	if err := ValidateName(name); err != nil {
		return LinkHealth{}, errs.E(errs.NotFound, "There is no link named %q in %s.", name, localVar)
	}
	h := LinkHealth{State: HealthBroken}
	dl := s.Fleet.Deadlines
	// Budget: local connect, remote connect_timeout (read below, bounded
	// by the statement_timeout anyway), the probe itself.
	ctx, cancel := context.WithTimeout(ctx, dl.Connect+dl.RemoteConnect+dl.Status+time.Second)
	defer cancel()

	// A probe is background work: it counts against the inventory's share
	// of the connection cap, never a person's.
	conn, err := s.Fleet.Dial(ctx, local, "pglinks:probe", fleet.ClassStatus)
	if errors.Is(err, fleet.ErrConnCap) {
		return h, errs.Wrap(errs.Unavailable, err, "The link %s was not probed: %s (%s). Try again in a moment.", name, fleet.ErrConnCap, s.Fleet.CapHint(fleet.ClassStatus))
	}
	if errs.Is(err, errs.Invalid) {
		return h, err
	}
	if err != nil {
		h.CheckedAt, h.Cause = time.Now(), fleet.Classify(err).Cause
		h.Reason = "local database " + errs.MessageOf(fleet.ConnectError(local, err))
		return h, nil
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
		defer ccancel()
		conn.Close(cctx)
	}()

	tx, err := conn.Begin(ctx)
	if err != nil {
		h.CheckedAt, h.Cause = time.Now(), fleet.Classify(err).Cause
		h.Reason = "local database " + errs.MessageOf(fleet.ConnectError(local, err))
		return h, nil
	}
	defer s.Fleet.Rollback(ctx, tx)

	// Shared with other probes; a change to the link holds it exclusively,
	// and the probe then stands aside rather than take the link's catalog
	// locks in the other order.
	if err := tryLinkShared(ctx, tx, name); err != nil {
		if errors.Is(err, errLinkBusy) {
			return LinkHealth{}, errs.Wrap(errs.Unavailable, err, "Link %s was not probed: a change to it is in progress. Try again in a moment.", name)
		}
		h.CheckedAt, h.Cause = time.Now(), fleet.Classify(err).Cause
		h.Reason = "local database " + errs.MessageOf(fleet.ConnectError(local, err))
		return h, nil
	}
	st, err := s.readStored(ctx, tx, local, name)
	if err != nil {
		return LinkHealth{}, err
	}
	if st.link.IsRedis() {
		return s.probeRedis(ctx, tx, st), nil
	}
	remote := &fleet.Database{ConfigVar: st.link.RemoteConfigVar, ResourceName: st.link.RemoteResourceName}

	budget := dl.Status
	if ct, err := strconv.Atoi(st.server["connect_timeout"]); err == nil && ct > 0 && ct < 600 {
		budget += time.Duration(ct) * time.Second
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", budget.Milliseconds())); err != nil {
		h.CheckedAt, h.Cause = time.Now(), fleet.CauseOther
		h.Reason = "could not set a time limit: " + pgMessage(err)
		return h, nil
	}

	// In the session's temporary schema: it cannot clash with a table the
	// link imported, and it goes with the session even if the rollback did
	// not happen.
	probe := "pg_temp." + fleet.Ident(probeTableName)
	if _, err := tx.Exec(ctx, "CREATE FOREIGN TABLE "+probe+" () SERVER "+fleet.Ident(name)+
		" OPTIONS (schema_name 'pg_catalog', table_name 'pg_database')"); err != nil {
		h.CheckedAt, h.Cause = time.Now(), fleet.CauseOther
		h.Reason = "could not prepare the probe: " + pgMessage(err)
		return h, nil
	}

	start := time.Now()
	var n int64
	err = tx.QueryRow(ctx, "SELECT count(*) FROM "+probe).Scan(&n)
	h.CheckedAt = time.Now()
	h.RTT = h.CheckedAt.Sub(start)
	var readable string
	if err == nil {
		// Every remote table the link's foreign tables name must exist...
		var missing []string
		if missing, readable, err = checkRemoteTables(ctx, tx, name); err == nil && len(missing) > 0 {
			h.CheckedAt, h.RTT, h.Cause = time.Now(), 0, CauseTableMissing
			h.Reason = "remote table missing: " + joinMax(missing, 5)
			return h, nil
		}
	}
	if err == nil && readable != "" && !st.link.SchemaMissing {
		// ...and one of them must be readable by the link's remote user.
		var one int
		err = tx.QueryRow(ctx, "SELECT count(*) FROM (SELECT 1 FROM "+fleet.Ident(name, readable)+" LIMIT 1) t").Scan(&one)
	}
	if err != nil {
		h.CheckedAt, h.RTT = time.Now(), 0
		h.Reason, h.Cause = probeReason(remote, st, err, ctx)
		return h, nil
	}
	h.State = HealthHealthy
	return h, nil
}

// checkRemoteTables lists the remote tables that foreign tables on the
// server name point at and that the remote does not have (any more), in
// one remote query per remote schema: two temporary foreign tables over
// the remote's pg_class and pg_namespace, joined on the remote. It also
// picks the link's first foreign table whose remote relation is a table
// without row-level security, which the probe may read a row of: reading
// a view would run the functions it calls, and reading a table with
// row-level security its policies, as the link's remote role, and both are
// code the remote relation's owner wrote.
func checkRemoteTables(ctx context.Context, tx pgx.Tx, name string) (missing []string, readable string, err error) {
	type foreign struct{ local, schema, table string }
	var fts []foreign
	rows, err := tx.Query(ctx, `SELECT CASE WHEN n.nspname = $1 THEN c.relname::text ELSE '' END,
			coalesce((SELECT option_value FROM pg_options_to_table(ft.ftoptions) WHERE option_name = 'schema_name'), n.nspname),
			coalesce((SELECT option_value FROM pg_options_to_table(ft.ftoptions) WHERE option_name = 'table_name'), c.relname)
		  FROM pg_foreign_table ft
		  JOIN pg_class c ON c.oid = ft.ftrelid
		  JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE ft.ftserver = (SELECT oid FROM pg_foreign_server WHERE srvname = $1)
		   AND n.oid <> pg_my_temp_schema()
		 ORDER BY 2, 3, 1`, name)
	if err != nil {
		return nil, "", err
	}
	want := map[string][]string{}
	var schemas []string
	for rows.Next() {
		var f foreign
		if err := rows.Scan(&f.local, &f.schema, &f.table); err != nil {
			rows.Close()
			return nil, "", err
		}
		if _, ok := want[f.schema]; !ok {
			schemas = append(schemas, f.schema)
		}
		if !slices.Contains(want[f.schema], f.table) {
			want[f.schema] = append(want[f.schema], f.table)
		}
		fts = append(fts, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(schemas) == 0 {
		return nil, "", err
	}
	srv := fleet.Ident(name)
	if _, err := tx.Exec(ctx, "CREATE FOREIGN TABLE pg_temp.pglinks_probe_rel (relname name, relnamespace oid, relkind \"char\", relrowsecurity bool) SERVER "+srv+
		" OPTIONS (schema_name 'pg_catalog', table_name 'pg_class')"); err != nil {
		return nil, "", err
	}
	if _, err := tx.Exec(ctx, "CREATE FOREIGN TABLE pg_temp.pglinks_probe_ns (oid oid, nspname name) SERVER "+srv+
		" OPTIONS (schema_name 'pg_catalog', table_name 'pg_namespace')"); err != nil {
		return nil, "", err
	}
	type remoteRel struct{ plain bool }
	have := map[[2]string]remoteRel{}
	for _, schema := range schemas {
		rows, err := tx.Query(ctx, `SELECT r.relname::text, r.relkind IN ('r', 'p') AND NOT r.relrowsecurity FROM pg_temp.pglinks_probe_rel r
			JOIN pg_temp.pglinks_probe_ns n ON n.oid = r.relnamespace WHERE n.nspname = $1`, schema)
		if err != nil {
			return nil, "", err
		}
		for rows.Next() {
			var rel string
			var plain bool
			if err := rows.Scan(&rel, &plain); err != nil {
				rows.Close()
				return nil, "", err
			}
			have[[2]string{schema, rel}] = remoteRel{plain: plain}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, "", err
		}
		for _, t := range want[schema] {
			if _, ok := have[[2]string{schema, t}]; !ok {
				missing = append(missing, fleet.DisplayIdent(schema)+"."+fleet.DisplayIdent(t))
			}
		}
	}
	slices.SortFunc(fts, func(a, b foreign) int { return strings.Compare(a.local, b.local) })
	for _, f := range fts {
		if f.local != "" && have[[2]string{f.schema, f.table}].plain {
			readable = f.local
			break
		}
	}
	return missing, readable, nil
}

// listSome joins up to n items and says how many more there are.

// probeReason puts a failed probe in words and classifies it: a failure
// to reach the remote by its cause (fleet.Classify, the words cards use),
// read from what postgres_fdw relays of libpq's message.
func probeReason(remote *fleet.Database, st *storedLink, err error, ctx context.Context) (string, fleet.Cause) {
	who := remote.ConfigVar
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		text := pgErr.Message + " " + pgErr.Detail
		switch {
		case pgErr.Code == "42P01" || strings.Contains(text, "relation") && strings.Contains(text, "does not exist"):
			return "remote table missing: " + pgErr.Message, CauseTableMissing
		case pgErr.Code == codePasswordRequired || strings.Contains(text, "does not request a password"):
			return "refused: " + who + " does not ask for a password, which postgres_fdw requires for non-superusers", CausePasswordNotAsked
		}
	} else if ctx.Err() != nil {
		return "remote unreachable: not answering: " + who + " did not answer in time", fleet.CauseTimeout
	}
	f := fleet.Classify(err)
	host := st.server["host"]
	why := f.Explain(net.JoinHostPort(host, st.server["port"]), host, "the link's user mapping", st.server["dbname"])
	switch {
	case f.Cause == fleet.CauseOther:
		return "query through the link failed: " + f.Detail, f.Cause
	case f.Cause == fleet.CauseTimeout:
		return "remote unreachable: not answering: " + who + " did not answer in time", f.Cause
	case f.Cause.Network():
		return "remote unreachable: " + f.Cause.Words() + ": " + why, f.Cause
	case f.Cause == fleet.CausePassword:
		return "password refused: " + who + " rejected the credentials stored in the link", f.Cause
	case why == "":
		return f.Cause.Words() + ": " + who, f.Cause
	}
	return f.Cause.Words() + ": " + who + ": " + why, f.Cause
}
