package fleet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pglinks/pglinks/internal/redis"
)

// Cause is why a database could not be reached, by pglinks or by a link
// through postgres_fdw, read from the SQLSTATE and the network error. It is
// the one classification cards, link pages, health badges, /metrics (its
// reason label) and the audit trail share.
type Cause string

const (
	CauseTimeout      Cause = "timeout"              // accepted nothing or answered nothing in time
	CauseConnRefused  Cause = "connection_refused"   // nothing listens at host:port
	CauseHostNotFound Cause = "host_not_found"       // the host name does not resolve
	CausePassword     Cause = "password_refused"     // 28P01
	CauseRole         Cause = "role_refused"         // 28000: no such role, may not log in, pg_hba rejects
	CauseNoDatabase   Cause = "database_missing"     // 3D000
	CauseTooMany      Cause = "too_many_connections" // 53300
	CauseTLSRequired  Cause = "tls_required"         // the server accepts the role only over TLS
	CauseTLSRefused   Cause = "tls_refused"          // the URL requires TLS; the server refuses or fails it
	CauseStarting     Cause = "starting_up"          // 57P03: starting up, recovering
	CauseShutting     Cause = "shutting_down"        // 57P03 while shutting down, 57P01/57P02
	CauseOther        Cause = "other"                // anything else; the detail says what
)

// causeFacts are each cause's words, what it means, and whether asking
// again can help.
var causeFacts = map[Cause]struct {
	words, explain string
	retried        bool
	network        bool // the database was not reached at all
}{
	CauseTimeout:      {"not answering", "no answer in time", true, true},
	CauseConnRefused:  {"connection refused", "nothing accepts connections at %[1]s", true, true},
	CauseHostNotFound: {"host not found", "the host name %[2]s does not resolve", false, true},
	CausePassword:     {"password refused", "the server does not accept the password of %[3]s; were the credentials rotated?", false, false},
	CauseRole:         {"role refused", "", false, false},
	CauseNoDatabase:   {"database does not exist", "the server answers but has no database %[4]s", false, false},
	CauseTooMany:      {"too many connections", "no connection slot is left (max_connections, or a role's or database's connection limit)", true, false},
	CauseTLSRequired:  {"TLS required", "the server accepts this connection only over TLS; set sslmode=require in %[3]s", false, false},
	CauseTLSRefused:   {"TLS refused", "%[3]s requires TLS, which the server refuses or fails", false, false},
	CauseStarting:     {"starting up", "the server is starting up or recovering and does not accept connections yet", true, false},
	CauseShutting:     {"shutting down", "the server is shutting down", true, false},
	CauseOther:        {"could not connect", "", true, false},
}

// Words is the cause as a person reads it ("password refused").
func (c Cause) Words() string {
	if f, ok := causeFacts[c]; ok {
		return f.words
	}
	return causeFacts[CauseOther].words
}

// Retried reports whether asking again can help: only a database failing
// for such a cause is backed off and said to be asked again "in N s". A
// refused password, role, database or TLS setting stays refused until the
// config var or the server changes; a host name that does not resolve
// stays unresolved.
func (c Cause) Retried() bool {
	if f, ok := causeFacts[c]; ok {
		return f.retried
	}
	return true
}

// Network reports whether the database was not reached at all (no answer,
// nothing listening, no such host), as opposed to answering and refusing.
func (c Cause) Network() bool { return causeFacts[c].network }

// Refusal reports whether the server answered and refused what was asked
// of it as it was asked (the password, the role, the database, TLS): the
// URL does not work there, whatever the server's state.
func (c Cause) Refusal() bool {
	switch c {
	case CausePassword, CauseRole, CauseNoDatabase, CauseTLSRequired, CauseTLSRefused:
		return true
	}
	return false
}

// Failure is one classified failure to reach a database: its cause and,
// in the server's or the network's own words, what happened (never a
// password: servers and the resolver do not echo one).
type Failure struct {
	Cause  Cause
	Detail string
}

// OK reports whether there was no failure.
func (f Failure) OK() bool { return f.Cause == "" }

// Explain says what the failure means for a database at hostPort (host,
// dbname) reached with urlName's credentials (a config var, or "the
// link's user mapping"): "nothing accepts connections at 10.0.0.5:5432".
func (f Failure) Explain(hostPort, host, urlName, dbname string) string {
	tmpl := causeFacts[f.Cause].explain
	if tmpl == "" {
		return f.Detail
	}
	out := tmpl
	if strings.Contains(tmpl, "%") {
		out = fmt.Sprintf(tmpl, hostPort, host, urlName, dbname)
	}
	if f.Cause == CauseTLSRefused && f.Detail != "" {
		out += " (" + f.Detail + ")"
	}
	return out
}

// Sentence is the failure after a database's name: "is unreachable:
// connection refused: nothing accepts connections at 127.0.0.1:5432" when
// it was not reached, "refused the connection: password refused: ..." when
// it answered and refused.
func (f Failure) Sentence(d *Database) string {
	why := f.Explain(d.HostPort(), d.Host, "its config var", d.DBName)
	switch {
	case f.Cause == CauseOther:
		return "could not be reached: " + why
	case f.Cause.Network():
		return "is unreachable: " + f.Cause.Words() + ": " + why
	case why == "":
		return "refused the connection: " + f.Cause.Words()
	}
	return "refused the connection: " + f.Cause.Words() + ": " + why
}

// Classify says why err, a failure to connect to a database or to reach a
// remote through postgres_fdw, happened. Through postgres_fdw the remote's
// SQLSTATE is lost and only libpq's message remains, so that is read.
func Classify(err error) Failure {
	if err == nil {
		return Failure{}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return classifyPg(pgErr)
	}
	// A Redis: its AUTH refused, or it wants a password it was not given.
	var auth *redis.AuthError
	if errors.As(err, &auth) {
		return Failure{CausePassword, "AUTH answered " + auth.Code}
	}
	var reply redis.Error
	if errors.As(err, &reply) && reply.Code() == "NOAUTH" {
		return Failure{CausePassword, "the Redis asks for a password its config var does not hold (NOAUTH)"}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		switch {
		case dnsErr.IsNotFound:
			return Failure{CauseHostNotFound, "no such host " + dnsErr.Name}
		case dnsErr.IsTimeout:
			return Failure{CauseTimeout, "the host name lookup timed out"}
		}
		return Failure{CauseOther, "host name lookup failed: " + dnsErr.Err}
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return Failure{CauseConnRefused, ""}
	}
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	if errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &recErr) {
		return Failure{CauseTLSRefused, "TLS failed: " + shortNetErr(err)}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || pgconn.Timeout(err) {
		return Failure{CauseTimeout, ""}
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		if opErr.Timeout() {
			return Failure{CauseTimeout, ""}
		}
		return Failure{CauseOther, opErr.Err.Error()}
	}
	if f := classifyText(err.Error()); f.Cause != CauseOther {
		return f
	}
	return Failure{CauseOther, shortNetErr(err)}
}

// classifyPg reads a PostgreSQL error: the server's own SQLSTATE when
// pglinks connected, or libpq's message relayed by postgres_fdw (08xxx).
func classifyPg(e *pgconn.PgError) Failure {
	msg := e.Message
	switch e.Code {
	case codeInvalidPassword:
		return Failure{CausePassword, msg}
	case codeInvalidAuthSpec:
		if f := classifyText(msg); f.Cause == CauseTLSRequired {
			return Failure{CauseTLSRequired, msg}
		}
		return Failure{CauseRole, msg}
	case codeUnknownDatabase:
		return Failure{CauseNoDatabase, msg}
	case codeTooManyConns:
		return Failure{CauseTooMany, msg}
	case codeCannotConnectNow:
		if strings.Contains(msg, "shutting down") {
			return Failure{CauseShutting, msg}
		}
		return Failure{CauseStarting, msg}
	case codeAdminShutdown, codeCrashShutdown:
		return Failure{CauseShutting, msg}
	case codeQueryCanceled:
		return Failure{CauseTimeout, msg}
	}
	if strings.HasPrefix(e.Code, "08") {
		// postgres_fdw: "could not connect to server ..." with libpq's
		// message as the detail.
		f := classifyText(e.Message + "\n" + e.Detail)
		if f.Cause == CauseOther {
			f.Detail = firstLine(e.Detail, e.Message)
		}
		return f
	}
	return Failure{CauseOther, msg}
}

// classifyText reads libpq's (and pgx's) messages, in PostgreSQL's
// English: what is left of a failure once it crossed postgres_fdw.
func classifyText(s string) Failure {
	low := strings.ToLower(s)
	has := func(subs ...string) bool {
		for _, sub := range subs {
			if strings.Contains(low, sub) {
				return true
			}
		}
		return false
	}
	detail := fatalLine(s)
	switch {
	case has("password authentication failed"):
		return Failure{CausePassword, detail}
	case has("pg_hba.conf") && has("no encryption", "ssl off"):
		return Failure{CauseTLSRequired, detail}
	case has("role \"") && has("does not exist"), has("is not permitted to log in"), has("pg_hba.conf"):
		return Failure{CauseRole, detail}
	case has("database \"") && has("does not exist"):
		return Failure{CauseNoDatabase, detail}
	case has("too many clients", "too many connections", "connection slots are reserved"):
		return Failure{CauseTooMany, detail}
	case has("shutting down"):
		return Failure{CauseShutting, detail}
	case has("starting up", "not yet accepting connections", "not accepting connections", "in recovery mode"):
		return Failure{CauseStarting, detail}
	case has("server does not support ssl", "ssl was required", "server refused tls", "ssl error", "tls: ", "certificate verify failed"):
		return Failure{CauseTLSRefused, detail}
	case has("temporary failure in name resolution"):
		return Failure{CauseOther, detail}
	case has("could not translate host name", "name or service not known", "no such host", "nodename nor servname"):
		return Failure{CauseHostNotFound, detail}
	case has("connection refused"):
		return Failure{CauseConnRefused, ""}
	case has("timeout expired", "timed out", "i/o timeout", "deadline exceeded"):
		return Failure{CauseTimeout, ""}
	}
	return Failure{CauseOther, detail}
}

// fatalLine picks the line of a libpq message that says what happened:
// the server's FATAL text, else the first line.
func fatalLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if i := strings.Index(l, "FATAL:"); i >= 0 {
			return strings.TrimSpace(l[i+len("FATAL:"):])
		}
	}
	return firstLine(s, "")
}

func firstLine(s, orElse string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i > 0 {
		s = strings.TrimSpace(s[:i])
	}
	if s == "" {
		return orElse
	}
	return s
}

// shortNetErr is err's text without pgx's connection-string prefix (which
// names the host and user, never the password, but is long).
func shortNetErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && i+2 < len(s) {
		return s[i+2:]
	}
	return s
}
