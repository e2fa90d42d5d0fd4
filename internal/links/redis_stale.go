package links

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// A Redis link is stale, like a PostgreSQL one, when its server or user
// mapping no longer match its remote's config var: the Redis moved (host,
// port, database number), its TLS changed (on or off, or how its
// certificate is trusted), or its password (or ACL user) was rotated. A
// repair is the same ALTER SERVER / ALTER USER MAPPING, which
// pglinks_redis follows at once.

// compareRedis is compare for a Redis link.
func (s *Service) compareRedis(st *storedLink) *StaleReport {
	r := &StaleReport{RemoteVar: st.link.RemoteConfigVar}
	remote, ok := s.Fleet.Get(st.link.RemoteConfigVar)
	switch {
	case !ok:
		r.RemoteGone = true
		return r
	case remote.ConfigErr != nil:
		r.RemoteMisconfigured = fmt.Sprintf("remote %s is misconfigured (%v), so the link cannot be compared with it", remote.ConfigVar, remote.ConfigErr)
		return r
	case !remote.IsRedis():
		r.RemoteMisconfigured = fmt.Sprintf("remote %s no longer holds a Redis URL, so the link cannot be compared with it", remote.ConfigVar)
		return r
	}
	rc := remote.Redis
	want := map[string]string{"host": remote.Host, "port": remote.Port, "db": strconv.Itoa(rc.DB), "tls": "", "tls_verify": "", "tls_ca": ""}
	if rc.TLS {
		want["tls"] = "true"
		want["tls_ca"] = rc.CAPEM
		if !rc.TLSVerify {
			want["tls_verify"] = "false"
		}
	}
	if st.server["host"] != want["host"] || orDefaultPort(st.server["port"]) != want["port"] {
		r.Changes = append(r.Changes, fmt.Sprintf("host/port changed from %s to %s", net.JoinHostPort(st.server["host"], orDefaultPort(st.server["port"])), remote.HostPort()))
	}
	if orZero(st.server["db"]) != want["db"] {
		r.Changes = append(r.Changes, fmt.Sprintf("database changed from %s to %s", orZero(st.server["db"]), want["db"]))
	}
	switch {
	case (st.server["tls"] == "true") != rc.TLS && rc.TLS:
		r.Changes = append(r.Changes, "TLS turned on (rediss://)")
	case (st.server["tls"] == "true") != rc.TLS:
		r.Changes = append(r.Changes, "TLS turned off (redis://)")
	case rc.TLS && (st.server["tls_verify"] != want["tls_verify"] || st.server["tls_ca"] != want["tls_ca"]):
		r.Changes = append(r.Changes, "how the certificate is trusted changed (tls_ca_file, tls_verify)")
	}
	for _, key := range []string{"host", "port", "db", "tls", "tls_verify", "tls_ca"} {
		if op, ok := optionDiff(st.server, key, want[key]); ok {
			r.serverOps = append(r.serverOps, op)
		}
	}
	if !st.hasMapping {
		r.NoMapping = true
		r.Changes = append(r.Changes, fmt.Sprintf("role %s has no user mapping on this link (it was made by %s)", st.role, orDefault(st.link.meta.MappingRole)))
		return r
	}
	credChanged := false
	for _, kv := range [][2]string{{"user", remote.User}, {"password", remote.Password()}} {
		if op, ok := optionDiff(st.mapping, kv[0], kv[1]); ok {
			op.secret = kv[0] == "password"
			r.mappingOps = append(r.mappingOps, op)
			credChanged = true
		}
	}
	if credChanged {
		r.Changes = append(r.Changes, "credentials changed (user or password)")
	}
	return r
}

// optionDiff is the ALTER ... OPTIONS item that makes have[key] want ("":
// absent); false when it already is.
func optionDiff(have map[string]string, key, want string) (optionChange, bool) {
	v, present := have[key]
	switch {
	case present && v == want, !present && want == "":
		return optionChange{}, false
	case want == "":
		return optionChange{action: "DROP", key: key}, true
	case present:
		return optionChange{action: "SET", key: key, value: want}, true
	}
	return optionChange{action: "ADD", key: key, value: want}, true
}

func orDefaultPort(p string) string {
	if p == "" {
		return "6379"
	}
	return p
}

func orZero(db string) string {
	if db == "" {
		return "0"
	}
	return db
}

// checkRedisRepair asks the Redis through a repaired (not yet committed)
// link: a repair never keeps an address or credentials that do not work.
func (s *Service) checkRedisRepair(ctx context.Context, tx pgx.Tx, local *fleet.Database, l *Link) error {
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", (s.Fleet.Deadlines.RemoteConnect+s.Fleet.Deadlines.Status).Milliseconds())); err != nil {
		return fmt.Errorf("links: repair statement_timeout: %w", err)
	}
	if _, err := redisPing(ctx, tx, l.Name); err != nil {
		if fleet.PgCode(err) == "" && !fleet.IsTimeout(err) {
			return fmt.Errorf("links: repair %s: check: %w", l.Name, err)
		}
		return errs.Wrap(errs.Unavailable, err, "Link %s was not repaired: with the address and credentials of %s, %s still cannot use the Redis (%s). Nothing was changed.",
			l.Name, l.RemoteConfigVar, local.ConfigVar, redisReason(l.RemoteConfigVar, err, ctx))
	}
	return nil
}
