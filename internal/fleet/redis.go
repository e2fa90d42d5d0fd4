package fleet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/redis"
)

// pglinks talks to a Redis of the fleet itself, for its card (version,
// keys, latency): one short connection per read, counted against the
// connection cap like a PostgreSQL connection of the same class (a
// Redis' maxclients is as finite as a PostgreSQL's max_connections), and
// bounded by the same deadlines.

// RedisInfo is what a Redis says about itself.
type RedisInfo struct {
	Version string // redis_version
	Mode    string // redis_mode: standalone, cluster, sentinel
	Keys    int64  // DBSIZE of the URL's database
	// Latency is the round trip of PING, INFO server and DBSIZE, sent
	// together once connected.
	Latency time.Duration
}

// DialRedis connects and authenticates to d, a Redis, within the Connect
// deadline, holding a connection of class under the cap until Close.
func (f *Fleet) DialRedis(ctx context.Context, d *Database, class Class) (*redis.Conn, error) {
	if !d.IsRedis() {
		return nil, errs.E(errs.Invalid, "%s is not a Redis.", d.ConfigVar)
	}
	if d.ConfigErr != nil {
		return nil, errs.Wrap(errs.Invalid, d.ConfigErr, "%s is misconfigured: %v", d.ConfigVar, d.ConfigErr)
	}
	ctx, cancel := Bound(ctx, f.Deadlines.Connect)
	defer cancel()
	base := (&net.Dialer{KeepAlive: f.Deadlines.Keepalive}).DialContext
	c, err := redis.Dial(withDialClass(ctx, class), redis.Options{
		Addr: d.HostPort(), TLS: d.Redis.TLSConfig(),
		User: d.User, Password: d.password, DB: d.Redis.DB,
		Dial: f.connBudget().dialFunc(base),
	})
	if err != nil {
		if errors.Is(err, ErrConnCap) {
			return nil, errs.Wrap(errs.Unavailable, err, "%s (%s) was not asked: %s (%s); try again in a moment", d.ConfigVar, d.ResourceName, ErrConnCap, f.CapHint(class))
		}
		return nil, RedisError(d, err)
	}
	return c, nil
}

// ReadRedis reads d's card facts over a connection of class, bounded by
// the Status deadline. Failures are errs.Unavailable saying why in words
// (RedisError); IsBusy tells pglinks' own cap from the Redis.
func (f *Fleet) ReadRedis(ctx context.Context, d *Database, class Class) (RedisInfo, error) {
	ctx, cancel := Bound(ctx, f.Deadlines.Status)
	defer cancel()
	c, err := f.DialRedis(ctx, d, class)
	if err != nil {
		return RedisInfo{}, err
	}
	defer c.Close()
	start := time.Now()
	r, err := c.Pipeline(ctx, []string{"PING"}, []string{"INFO", "server"}, []string{"DBSIZE"})
	info := RedisInfo{Latency: time.Since(start)}
	if err != nil {
		return RedisInfo{}, RedisError(d, err)
	}
	for i, cmd := range []string{"PING", "INFO", "DBSIZE"} {
		if e, ok := r[i].(redis.Error); ok {
			return RedisInfo{}, RedisError(d, fmt.Errorf("%s: %w", cmd, e))
		}
	}
	text, _ := r[1].(string)
	fields := redis.ParseInfo(text)
	info.Version, info.Mode = printable(fields["redis_version"]), printable(fields["redis_mode"])
	info.Keys, _ = r[2].(int64)
	return info, nil
}

// printable keeps a short value a server reported, or "" when it is not
// plain text (a server that is not Redis may say anything).
func printable(s string) string {
	if len(s) > 64 {
		return ""
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return ""
		}
	}
	return s
}

// RedisError says in words why pglinks could not use d, a Redis, the
// way ConnectError does for PostgreSQL: not answering, connection
// refused, host not found, password refused, TLS required or refused,
// certificate not trusted. It never holds the password. Domain errors
// pass as they are.
func RedisError(d *Database, err error) error {
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	return errs.Wrap(errs.Unavailable, err, "%s (%s) %s", d.ConfigVar, d.ResourceName, classifyRedisErr(d, err))
}

func classifyRedisErr(d *Database, err error) string {
	var auth *redis.AuthError
	var reply redis.Error
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var recErr tls.RecordHeaderError
	var dnsErr *net.DNSError
	tlsURL := d.Redis != nil && d.Redis.TLS
	switch {
	case errors.As(err, &auth) && auth.Code == "ERR":
		return "refused the password in its config var: this Redis asks for no password (AUTH answered ERR)"
	case errors.As(err, &auth):
		return "refused the password in its config var (" + auth.Code + ")"
	case errors.As(err, &reply) && reply.Code() == "NOAUTH":
		return "requires a password, and its config var has none (NOAUTH)"
	case errors.As(err, &reply) && reply.Code() == "NOPERM":
		return "refused a command to the user of its config var (NOPERM): " + printable(string(reply))
	case errors.As(err, &reply):
		return "answered with an error: " + reply.Code()
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid):
		return "has a TLS certificate pglinks does not trust (" + certReason(err) + "): trust its CA with ?tls_ca_file=/path/ca.pem in the URL, or, for a test server, ?tls_verify=false"
	case errors.As(err, &recErr):
		return "does not speak TLS on that port: use redis:// for a port without TLS, or the TLS port"
	case errors.As(err, &dnsErr):
		return "is unreachable: host name not found"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "is unreachable: connection refused"
	case errors.Is(err, redis.ErrProtocol):
		return "answered with something that is not Redis: is this a Redis port?"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), isNetTimeout(err):
		if tlsURL {
			return "is unreachable: no answer in time (or no TLS handshake: check that the port is Redis' TLS port)"
		}
		return "is unreachable: no answer in time"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		if !tlsURL {
			return "closed the connection without answering: if it requires TLS there, use rediss://"
		}
		return "closed the connection during the TLS handshake"
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return "is unreachable: " + opErr.Err.Error()
	}
	if strings.Contains(err.Error(), "tls:") {
		return "refused the TLS handshake: " + tlsReason(err)
	}
	return "is unreachable"
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// certReason is the certificate problem in a few words.
func certReason(err error) string {
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknownCA):
		return "signed by an unknown authority"
	case errors.As(err, &hostErr):
		return "not valid for " + hostErr.Host
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			return "expired or not yet valid"
		}
		return "invalid"
	}
	return "not verified"
}

// tlsReason is crypto/tls' own words, without the "tls: " prefix.
func tlsReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "tls: "); i >= 0 {
		msg = msg[i+len("tls: "):]
	}
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return msg
}

// RedisAddr is host:port and the database, for cards: "10.0.0.5:6380 db 0".
func (d *Database) RedisAddr() string {
	if d.Redis == nil {
		return d.HostPort()
	}
	return d.HostPort() + " db " + strconv.Itoa(d.Redis.DB)
}
