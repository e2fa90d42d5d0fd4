package links

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/pgversion"
)

// postgres_fdw keeps a connection to the remote per local session (and
// user mapping), open after each transaction unless the server's
// keep_connections is off (PostgreSQL 14 and later). Those connections
// outlive a repair: a session that connected before a rotation or a
// failover keeps its old connection, with the credentials or the address
// of before. They are only visible on the remote, in its pg_stat_activity,
// under the link's own application_name; postgres_fdw_get_connections()
// and postgres_fdw_disconnect() only see and end the calling session's
// own connections, so pglinks reads and ends them on the remote, over its
// own connection to the remote fleet database.

// MaxRemoteConns bounds the connections a link page lists.
const MaxRemoteConns = 50

// keepConnectionsFrom is the first major whose postgres_fdw has the
// keep_connections server option (and postgres_fdw_disconnect).
const keepConnectionsFrom = 14

// RemoteConnections are the connections local sessions hold through a
// link, as the remote's pg_stat_activity shows them.
type RemoteConnections struct {
	Link *Link
	// Remote is where they were read: the link's remote fleet database.
	Remote *fleet.Database
	// AppName is the link's application_name, which postgres_fdw gives
	// every connection it opens through the link's server.
	AppName string
	// KeepConnections is the server's keep_connections option as set
	// ("" when unset: on, PostgreSQL's default); KeepSupported is false
	// when the local server is older than 14, whose postgres_fdw always
	// keeps its connections.
	KeepConnections string
	KeepSupported   bool
	LocalMajor      int
	// Unread says why the remote could not be read ("" when it was).
	Unread string
	// Conns are up to MaxRemoteConns of them, oldest first; More is set
	// when there are more.
	Conns []RemoteConn
	More  bool
	// Role is pglinks' role on the remote: it may end the connections of
	// that role only (Endable).
	Role    string
	Endable int
	AsOf    time.Time
	// Until is the remote's clock when they were read: ending them ends
	// only connections started by then (EndConnectionsSQL), not a session
	// that connected afterwards, with the link as it is now.
	Until time.Time
}

// KeepConnectionsOn reports whether local sessions keep their connections
// through the link between transactions.
func (rc *RemoteConnections) KeepConnectionsOn() bool {
	return !rc.KeepSupported || rc.KeepConnections == "" || rc.KeepConnections == "on" || rc.KeepConnections == "true"
}

// RemoteConn is one connection through a link, on the remote.
type RemoteConn struct {
	PID          int32
	Role         string
	Client       string // address of the local server, as the remote sees it
	BackendStart time.Time
	State        string // "" when pglinks' role may not see it
	StateChange  *time.Time
	Query        string // the last statement, cut to 120 characters in SQL
	QueryCut     bool
}

// remoteConnsWhere is how a link's connections are found on its remote,
// $1 being its application_name: by list, by end, and by the stall guard.
const remoteConnsWhere = `left(application_name, length($1)) = $1 AND pid <> pg_backend_pid()`

// LinkConnections reads the connections local sessions hold through a
// link, on its remote, within the Status deadline. Errors are for the
// link itself (not found, local database failing); a remote that cannot
// be read says why in Unread.
func (s *Service) LinkConnections(ctx context.Context, localVar, name string) (*RemoteConnections, error) {
	rc := &RemoteConnections{}
	err := s.withLink(ctx, localVar, name, func(ctx context.Context, conn *pgxpool.Conn, local *fleet.Database, l *Link) error {
		rc.Link, rc.AppName = l, l.meta.appName()
		var vnum int
		err := conn.QueryRow(ctx, `SELECT current_setting('server_version_num')::int,
				coalesce((SELECT option_value FROM pg_options_to_table(s.srvoptions) WHERE option_name = 'keep_connections'), '')
			  FROM pg_foreign_server s WHERE s.srvname = $1`, l.Name).Scan(&vnum, &rc.KeepConnections)
		if err != nil {
			return readError(local, fmt.Errorf("links: keep_connections of %s: %w", l.Name, err))
		}
		rc.LocalMajor = pgversion.Major(vnum)
		rc.KeepSupported = rc.LocalMajor >= keepConnectionsFrom
		return nil
	})
	if err != nil {
		return nil, err
	}
	remote, why := s.connectionsRemote(rc.Link)
	rc.Remote = remote
	if why != "" {
		rc.Unread = why
		return rc, nil
	}
	ctx, cancel := fleet.Bound(ctx, s.Fleet.Deadlines.Status)
	defer cancel()
	conn, err := s.Fleet.Acquire(ctx, remote, fleet.ClassUser)
	if err != nil {
		rc.Unread = "Not read: " + errs.MessageOf(err)
		return rc, nil
	}
	defer conn.Release()
	rows, err := conn.Query(ctx, `SELECT pid, coalesce(usename::text, ''), CASE WHEN client_addr IS NOT NULL THEN host(client_addr) WHEN usename = current_user THEN 'local socket' ELSE '' END, backend_start,
			coalesce(state, ''), state_change, left(coalesce(query, ''), 120), length(query) > 120, usename = current_user, current_user
		  FROM pg_stat_activity WHERE `+remoteConnsWhere+`
		 ORDER BY backend_start, pid LIMIT `+fmt.Sprint(MaxRemoteConns+1), rc.AppName)
	if err != nil {
		rc.Unread = "Not read: " + errs.MessageOf(readError(remote, err))
		return rc, nil
	}
	rc.AsOf = time.Now()
	for rows.Next() {
		var c RemoteConn
		var start *time.Time
		var mine bool
		if err := rows.Scan(&c.PID, &c.Role, &c.Client, &start, &c.State, &c.StateChange, &c.Query, &c.QueryCut, &mine, &rc.Role); err != nil {
			rows.Close()
			return nil, fmt.Errorf("links: connections of %s on %s: %w", rc.Link.Name, remote.ConfigVar, err)
		}
		if start != nil {
			c.BackendStart = *start
		}
		if mine {
			rc.Endable++
		}
		rc.Conns = append(rc.Conns, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		rc.Unread = "Not read: " + errs.MessageOf(readError(remote, err))
		return rc, nil
	}
	if err := conn.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&rc.Until); err != nil {
		rc.Unread = "Not read: " + errs.MessageOf(readError(remote, err))
		return rc, nil
	}
	if len(rc.Conns) > MaxRemoteConns {
		rc.Conns, rc.More = rc.Conns[:MaxRemoteConns], true
	}
	return rc, nil
}

// connectionsRemote is the fleet database pglinks reads a link's remote
// connections on, or why there is none to read them on.
func (s *Service) connectionsRemote(l *Link) (*fleet.Database, string) {
	remote, ok := s.Fleet.Get(l.RemoteConfigVar)
	switch {
	case !ok:
		return nil, fmt.Sprintf("Remote %s is not in this fleet any more: pglinks has no connection to it, so the link's connections there cannot be read.", l.RemoteConfigVar)
	case remote.ConfigErr != nil:
		return nil, fmt.Sprintf("%s is misconfigured (%v): pglinks cannot connect to read the link's connections there.", remote.ConfigVar, remote.ConfigErr)
	}
	if o, down := s.Fleet.Outage(remote.ConfigVar); down && time.Now().Before(o.RetryAt) {
		return remote, fmt.Sprintf("Not read: %s does not answer (%s); pglinks asks again in %d s.", remote.ConfigVar, o.Cause.Words(), int(time.Until(o.RetryAt).Seconds())+1)
	}
	return remote, ""
}

// EndConnectionsSQL is what ending a link's remote connections runs on
// the remote, for the confirmation page and the audit trail: the
// connections started by until (the remote's clock when the confirmation
// read them; all of them when zero).
func EndConnectionsSQL(appName string, until time.Time) string {
	lit, _ := fleet.QuoteLiteral(appName)
	stmt := "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE left(application_name, " +
		fmt.Sprint(len(appName)) + ") = " + lit + " AND usename = current_user AND pid <> pg_backend_pid()"
	if !until.IsZero() {
		stmt += " AND backend_start <= '" + until.UTC().Format("2006-01-02 15:04:05.999999") + "+00'"
	}
	return stmt
}

// EndLinkConnections ends, on the remote, the connections local sessions
// hold through a link (pg_terminate_backend as pglinks' role there, which
// is the link's own remote role when the link was made from the remote's
// config var): each session then connects afresh at its next statement
// through the link, with the server's and user mapping's options as they
// are now (PostgreSQL 14 and later reconnect by themselves; on 13 the
// session's next statement fails once). It returns how many it ended and
// the statement it ran.
//
// until is the remote's clock when the confirmation read them
// (RemoteConnections.Until): connections started later are not ended.
func (s *Service) EndLinkConnections(ctx context.Context, localVar, name string, until time.Time) (int, string, error) {
	l, err := s.GetLink(ctx, localVar, name)
	if err != nil {
		return 0, "", err
	}
	remote, why := s.connectionsRemote(l)
	if why != "" {
		return 0, "", errs.E(errs.Unavailable, "%s Nothing was ended.", why)
	}
	app := l.meta.appName()
	ctx, cancel := fleet.Bound(ctx, s.Fleet.Deadlines.Status)
	defer cancel()
	conn, err := s.Fleet.Acquire(ctx, remote, fleet.ClassUser)
	if err != nil {
		return 0, "", errs.Wrap(errs.Unavailable, err, "%s Nothing was ended.", errs.MessageOf(err))
	}
	defer conn.Release()
	var ended []int32
	stmt := EndConnectionsSQL(app, until)
	if err := conn.QueryRow(ctx, `SELECT coalesce(array_agg(pid) FILTER (WHERE ended), '{}') FROM (`+stmt+`) AS t(pid, ended)`).Scan(&ended); err != nil {
		return 0, "", errs.Wrap(errs.Unavailable, err, "Ending the connections of link %s on %s failed: %s", name, remote.ConfigVar, pgMessage(err))
	}
	n := len(ended)
	// pg_terminate_backend only signals: wait (briefly) for the backends
	// to exit, so the page that says they were ended no longer lists them.
	waitGone(ctx, conn.Conn(), ended, endWait)
	s.Log.Info("ended a link's remote connections", "local", localVar, "link", name, "remote", remote.ConfigVar, "connections", n)
	return n, stmt, nil
}

// endWait bounds how long ending a link's connections waits for the
// ended backends to exit.
const endWait = 2 * time.Second

// waitGone polls until none of pids is in c's pg_stat_activity, for at
// most limit (and ctx): a backend told to terminate exits at its next
// interrupt check, within milliseconds unless it is stuck.
func waitGone(ctx context.Context, c *pgx.Conn, pids []int32, limit time.Duration) {
	if len(pids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		var left int
		if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)`, pids).Scan(&left); err != nil || left == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}
