package links

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pglinks/pglinks/internal/fleet"
)

// SQLSTATEs pglinks_redis raises (README, "Redis links").
const (
	codeFDWUnableToEstablish = "HV00N" // refused, DNS, TLS, a refused SELECT
	codeConnectionFailure    = "08006" // no answer in time, a dropped connection
	codeProtocolViolation    = "08P01" // a reply no Redis sends
	codeInvalidAuthSpec      = "28000" // Redis requires a password, or asks for none
	codeInvalidPassword      = "28P01"
	codeQueryCanceled        = "57014"
)

// redisPing asks the Redis behind server, through pglinks_redis in the
// local database (a fresh Redis connection with the role's user mapping),
// what it says of itself. The function is called by its extension's
// schema and exact signature, so nothing else of that name runs.
func redisPing(ctx context.Context, q rowQuerier, server string) (fleet.RedisInfo, error) {
	var schema string
	if err := q.QueryRow(ctx, `SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
		WHERE e.extname = 'pglinks_redis'`).Scan(&schema); err != nil {
		return fleet.RedisInfo{}, fmt.Errorf("links: pglinks_redis' schema: %w", err)
	}
	var info fleet.RedisInfo
	var ms float64
	err := q.QueryRow(ctx, `SELECT coalesce(redis_version, ''), coalesce(redis_mode, ''), dbsize, latency_ms FROM `+
		fleet.Ident(schema, "pglinks_redis_ping")+`($1::name)`, server).Scan(&info.Version, &info.Mode, &info.Keys, &ms)
	info.Latency = time.Duration(ms * float64(time.Millisecond))
	return info, err
}

// probeRedis is ProbeLink for a Redis link, in its fresh session's
// transaction: pglinks_redis_ping through the link, bounded by the
// Status deadline plus the server's connect_timeout.
func (s *Service) probeRedis(ctx context.Context, tx pgx.Tx, st *storedLink) LinkHealth {
	h := LinkHealth{State: HealthBroken}
	budget := s.Fleet.Deadlines.Status
	if ct, err := strconv.ParseFloat(st.server["connect_timeout"], 64); err == nil && ct > 0 && ct < 600 {
		budget += time.Duration(ct * float64(time.Second))
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", budget.Milliseconds())); err != nil {
		h.CheckedAt = time.Now()
		h.Reason = "could not set a time limit: " + pgMessage(err)
		return h
	}
	start := time.Now()
	info, err := redisPing(ctx, tx, st.link.Name)
	h.CheckedAt = time.Now()
	if err != nil {
		h.Reason = redisReason(st.link.RemoteConfigVar, err, ctx)
		return h
	}
	h.State, h.RTT, h.Redis = HealthHealthy, h.CheckedAt.Sub(start), &info
	return h
}

// redisReason puts a failure of pglinks_redis in words, by its SQLSTATE
// (the wrapper's messages name the Redis by host and port, never its
// password).
func redisReason(remoteVar string, err error, ctx context.Context) string {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
			return "timeout: no answer in time"
		}
		return "probe failed: " + err.Error()
	}
	msg := pgErr.Message
	switch pgErr.Code {
	case codeInvalidPassword:
		return "password refused: " + remoteVar + " rejected the password stored in the link (" + msg + ")"
	case codeInvalidAuthSpec:
		if strings.Contains(msg, "does not ask for a password") {
			return "refused: " + msg + ", and pglinks_redis lets only superusers use a Redis anyone can use: give it a password (requirepass or an ACL user)"
		}
		return "password required: " + msg + ", and the link has none"
	case codePasswordRequired:
		return "no password: the link's user mapping has none, and pglinks_redis requires one for roles that are not superusers (" + remoteVar + " needs a password)"
	case codeFDWUnableToEstablish:
		switch {
		case strings.Contains(msg, "could not resolve"):
			return "remote unreachable: host not found (" + msg + ")"
		case strings.Contains(msg, "Connection refused"):
			return "remote unreachable: connection refused"
		case strings.Contains(msg, "could not verify the TLS certificate"):
			return "TLS certificate not trusted: " + msg + " (trust its CA with ?tls_ca_file= in " + remoteVar + ", or ?tls_verify=false for a test server)"
		case strings.Contains(msg, "TLS handshake"):
			return "TLS refused: " + msg + " (is it Redis' TLS port? a port without TLS needs redis://)"
		}
		return "remote unreachable: " + msg
	case codeConnectionFailure:
		if strings.Contains(msg, "closed the connection") || strings.Contains(msg, "reset by peer") {
			return "connection closed: " + msg + " (if it requires TLS, " + remoteVar + " needs rediss://)"
		}
		return "timeout: " + msg
	case codeQueryCanceled:
		return "timeout: " + remoteVar + " did not answer in time"
	case codeProtocolViolation:
		return "not Redis: " + msg
	case codeInsufficientPriv:
		return "not allowed: " + msg
	}
	return "query through the link failed: " + msg
}
