package links

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// A link is stale when what its foreign server and user mapping hold no
// longer matches the remote's config var as pglinks read it at start: the
// remote's credentials were rotated, or it moved (failover, recovery onto
// new hardware). Only the options that say where and as whom the link
// connects are compared: host, port, dbname, sslmode and the mapping's user
// and password. Tuning options (connect_timeout, keepalives*,
// application_name, ...) are pglinks' own and never make a link stale.
//
// A difference alone does not make a link stale: several pglinks
// processes share one state database, and one started before a rotation
// holds an older config var than the link another one repaired. So the
// config var's credentials are proven (link_proof.go): a link differs from
// a config var the remote refuses is not stale, and this pglinks'
// environment is said to be older (EnvNote).

// StaleReport says whether and how a link differs from its remote's config
// var. It never holds a password.
type StaleReport struct {
	// RemoteVar is the config var the link was made from.
	RemoteVar string
	// RemoteGone is set when RemoteVar is not in the fleet any more: there
	// is nothing to compare with and nothing to repair to.
	RemoteGone bool
	// RemoteMisconfigured holds why the remote's config var cannot be used.
	RemoteMisconfigured string
	// NoMapping is set when pglinks' role has no user mapping on the server.
	NoMapping bool
	// Changes are the differences, in words, e.g. "host/port changed from
	// 10.0.0.5:5432 to 10.0.0.9:5432" or "credentials changed (user or
	// password)".
	Changes []string

	// EnvKnown is set when RemoteVar's credentials were proven (a fresh
	// connect as its role, the way the link would connect) for a link
	// that differs from it; EnvFailure is why they did not authenticate
	// (zero when they did).
	EnvKnown   bool
	EnvFailure fleet.Failure
	// LinkWorks and LinkRefused say what a probe of the link made now
	// found (neither when there is none, or it failed for another
	// reason): whether the link's own credentials work.
	LinkWorks, LinkRefused bool

	serverOps  []optionChange
	mappingOps []optionChange
}

// Stale reports whether the link needs a repair (or, when the remote is
// gone, cannot be repaired): it differs from its remote's config var, and
// that config var is not refused by the remote (EnvRefused).
func (r *StaleReport) Stale() bool {
	return r != nil && (r.RemoteGone || r.RemoteMisconfigured != "" || len(r.Changes) > 0 && !r.EnvRefused())
}

// fixable reports whether ALTER statements could bring the link in line
// with its remote's config var, before that config var is proven.
func (r *StaleReport) fixable() bool {
	return r != nil && !r.RemoteGone && r.RemoteMisconfigured == "" && !r.NoMapping && (len(r.serverOps) > 0 || len(r.mappingOps) > 0)
}

// Repairable reports whether a repair can bring the link in line and is
// offered: there is something to change and the config var's credentials
// were proven to authenticate.
func (r *StaleReport) Repairable() bool {
	return r.fixable() && r.EnvKnown && r.EnvFailure.OK()
}

// Differs reports whether the link's address or credentials differ from
// its remote's config var, whichever of them is right.
func (r *StaleReport) Differs() bool { return r != nil && len(r.Changes) > 0 }

// EnvRefused reports whether the remote refuses this pglinks' config var
// (its password, role, database or TLS setting): then the config var is
// no reference to repair the link to.
func (r *StaleReport) EnvRefused() bool {
	return r != nil && r.EnvKnown && r.EnvFailure.Cause.Refusal()
}

// EnvNote says, for a link that differs from its remote's config var,
// what is known of that config var when it does not simply work: refused
// (and which side is newer, when the link's own probe tells), not proven
// because the remote did not answer, or not proven yet. "" otherwise.
func (r *StaleReport) EnvNote() string {
	switch {
	case !r.Differs() || r.RemoteGone || r.RemoteMisconfigured != "":
		return ""
	case !r.EnvKnown:
		return fmt.Sprintf("Checking whether this pglinks' %s authenticates to the remote before a repair is offered.", r.RemoteVar)
	case r.EnvRefused() && r.LinkWorks:
		return fmt.Sprintf("This pglinks' %s is refused by the remote (%s) while the link's own credentials work: its environment is older than the link's; restart it with the current config var.", r.RemoteVar, r.EnvFailure.Cause.Words())
	case r.EnvRefused() && r.LinkRefused:
		return fmt.Sprintf("This pglinks' %s is refused by the remote too (%s), like the link's own credentials: the remote's credentials are newer than both; restart this pglinks with the current config var, then repair the link.", r.RemoteVar, r.EnvFailure.Cause.Words())
	case r.EnvRefused():
		return fmt.Sprintf("This pglinks' %s is refused by the remote too (%s): its environment is older than the remote's credentials; restart it with the current config var.", r.RemoteVar, r.EnvFailure.Cause.Words())
	case !r.EnvFailure.OK():
		return fmt.Sprintf("This pglinks could not prove that %s's credentials authenticate (%s), so no repair is offered until it answers.", r.RemoteVar, r.EnvFailure.Cause.Words())
	}
	return ""
}

// Summary is the report in one sentence.
func (r *StaleReport) Summary() string {
	switch {
	case r == nil:
		return ""
	case r.RemoteGone:
		return fmt.Sprintf("remote %s is not in this fleet any more", r.RemoteVar)
	case r.RemoteMisconfigured != "":
		return r.RemoteMisconfigured
	}
	return strings.Join(r.Changes, "; ")
}

// optionChange is one ALTER ... OPTIONS item: SET, ADD or DROP key.
type optionChange struct {
	action, key, value string
	secret             bool
}

// storedLink is what the local catalog holds for a link, as pglinks' role
// sees it.
type storedLink struct {
	link       Link
	server     map[string]string
	mapping    map[string]string
	hasMapping bool
	role       string
}

type rowQuerier interface {
	querier
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// readStored reads a link with its server options and pglinks' own user
// mapping. pg_user_mappings shows umoptions (the password too) to the
// mapping's own role only; it is compared here and never leaves the package.
func (s *Service) readStored(ctx context.Context, q rowQuerier, local *fleet.Database, name string) (*storedLink, error) {
	recs, err := s.records(ctx, local.ConfigVar)
	if err != nil {
		return nil, err
	}
	ls, _, err := readLinks(ctx, q, local, &name, recs)
	if err != nil {
		return nil, err
	}
	if len(ls) == 0 {
		return nil, errs.E(errs.NotFound, "There is no link named %q in %s.", name, local.ConfigVar)
	}
	return readOptions(ctx, q, ls[0])
}

// readOptions reads the server options and pglinks' own user mapping of
// link l.
func readOptions(ctx context.Context, q rowQuerier, l Link) (*storedLink, error) {
	name := l.Name
	st := &storedLink{link: l}
	var srvOpts, umOpts []string
	var err error
	err = q.QueryRow(ctx, `SELECT coalesce(s.srvoptions, '{}'), um.umid IS NOT NULL, coalesce(um.umoptions, '{}'), current_user
		  FROM pg_foreign_server s
		  LEFT JOIN pg_user_mappings um ON um.srvid = s.oid AND um.usename = current_user
		 WHERE s.srvname = $1`, name).Scan(&srvOpts, &st.hasMapping, &umOpts, &st.role)
	if errors.Is(err, pgx.ErrNoRows) { // dropped since the link was listed
		return nil, errs.E(errs.NotFound, "There is no link named %q in %s.", name, l.LocalConfigVar)
	}
	if err != nil {
		return nil, fmt.Errorf("links: read options of %s: %w", name, err)
	}
	st.server, st.mapping = optionMap(srvOpts), optionMap(umOpts)
	return st, nil
}

func optionMap(opts []string) map[string]string {
	m := make(map[string]string, len(opts))
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		m[k] = v
	}
	return m
}

// compare builds the report for a stored link against the fleet.
func (s *Service) compare(st *storedLink) *StaleReport {
	if st.link.IsRedis() {
		return s.compareRedis(st)
	}
	r := &StaleReport{RemoteVar: st.link.RemoteConfigVar}
	remote, ok := s.Fleet.Get(st.link.RemoteConfigVar)
	if !ok {
		r.RemoteGone = true
		return r
	}
	if remote.ConfigErr != nil {
		r.RemoteMisconfigured = fmt.Sprintf("remote %s is misconfigured (%v), so the link cannot be compared with it", remote.ConfigVar, remote.ConfigErr)
		return r
	}
	if remote.IsRedis() {
		r.RemoteMisconfigured = fmt.Sprintf("remote %s now holds a Redis URL, so the link cannot be compared with it", remote.ConfigVar)
		return r
	}
	set := func(key, want string) {
		have, present := st.server[key]
		switch {
		case present && have == want:
		case want == "" && present:
			r.serverOps = append(r.serverOps, optionChange{action: "DROP", key: key})
		case want == "":
		case present:
			r.serverOps = append(r.serverOps, optionChange{action: "SET", key: key, value: want})
		default:
			r.serverOps = append(r.serverOps, optionChange{action: "ADD", key: key, value: want})
		}
	}
	oldHP := net.JoinHostPort(st.server["host"], st.server["port"])
	if st.server["host"] != remote.Host || st.server["port"] != remote.Port {
		r.Changes = append(r.Changes, fmt.Sprintf("host/port changed from %s to %s", oldHP, remote.HostPort()))
	}
	set("host", remote.Host)
	set("port", remote.Port)
	if st.server["dbname"] != remote.DBName {
		r.Changes = append(r.Changes, fmt.Sprintf("database name changed from %s to %s", st.server["dbname"], remote.DBName))
	}
	set("dbname", remote.DBName)
	if st.server["sslmode"] != remote.SSLMode {
		r.Changes = append(r.Changes, fmt.Sprintf("sslmode changed from %s to %s", orDefault(st.server["sslmode"]), orDefault(remote.SSLMode)))
	}
	set("sslmode", remote.SSLMode)

	if !st.hasMapping {
		r.NoMapping = true
		r.Changes = append(r.Changes, fmt.Sprintf("role %s has no user mapping on this link (it was made by %s)", st.role, orDefault(st.link.meta.MappingRole)))
		return r
	}
	credChanged := false
	for _, kv := range [][2]string{{"user", remote.User}, {"password", remote.Password()}} {
		have, present := st.mapping[kv[0]]
		if present && have == kv[1] {
			continue
		}
		credChanged = true
		action := "SET"
		if !present {
			action = "ADD"
		}
		r.mappingOps = append(r.mappingOps, optionChange{action: action, key: kv[0], value: kv[1], secret: kv[0] == "password"})
	}
	if credChanged {
		r.Changes = append(r.Changes, "credentials changed (user or password)")
	}
	return r
}

func orDefault(s string) string {
	if s == "" {
		return "(default)"
	}
	return s
}

// checkStale reads a link with its comparison with its remote's config
// var (Link.Stale). It reads the local catalog only: no remote is
// contacted.
func (s *Service) checkStale(ctx context.Context, localVar, name string) (*Link, error) {
	local, err := s.database(localVar, "local")
	if err != nil {
		return nil, err
	}
	if err := ValidateName(name); err != nil {
		return nil, errs.E(errs.NotFound, "There is no link named %q in %s.", name, localVar)
	}
	ctx, cancel := context.WithTimeout(ctx, s.Fleet.Deadlines.Status)
	defer cancel()
	conn, err := s.Fleet.Acquire(ctx, local, fleet.ClassUser)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	st, err := s.readStored(ctx, conn, local, name)
	if err != nil {
		return nil, err
	}
	l := st.link
	l.Stale = s.compare(st)
	return &l, nil
}

// compareAll compares each link with the fleet (Link.Stale), from the
// server and mapping options (role's) the status statement read with the
// links: the inventory's snapshot carries the result, so a page view asks
// no database.
func (s *Service) compareAll(ls []Link, cands []candidateLink, role string) {
	byName := make(map[string]*candidateLink, len(cands))
	for i := range cands {
		byName[cands[i].Name] = &cands[i]
	}
	for i := range ls {
		c, ok := byName[ls[i].Name]
		if !ok {
			continue
		}
		ls[i].Stale = s.compare(&storedLink{link: ls[i], server: optionMap(c.ServerOptions), mapping: optionMap(c.MappingOptions), hasMapping: c.HasMapping, role: role})
	}
}
