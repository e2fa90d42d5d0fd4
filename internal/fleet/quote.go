package fleet

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// DDL cannot take bind parameters, so the few values it needs (server
// options, comments, enum labels, a subscription's connection) are quoted
// here exactly as PostgreSQL's quote_literal does. Identifiers always go
// through pgx.Identifier.

// MaxIdentLen is the longest name PostgreSQL keeps (NAMEDATALEN - 1), in
// bytes: link, table, subscription and application names alike.
const MaxIdentLen = 63

// QuoteLiteral quotes s as an SQL string literal. It rejects strings that
// cannot be represented (NUL bytes, invalid UTF-8) instead of mangling them.
func QuoteLiteral(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", fmt.Errorf("value contains a NUL byte")
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("value is not valid UTF-8")
	}
	q := strings.ReplaceAll(s, "'", "''")
	if strings.Contains(q, `\`) {
		return "E'" + strings.ReplaceAll(q, `\`, `\\`) + "'", nil
	}
	return "'" + q + "'", nil
}

// Ident quotes a (schema-qualified) identifier.
func Ident(parts ...string) string { return pgx.Identifier(parts).Sanitize() }

// DisplayIdent quotes an identifier only where SQL needs it, the way
// format('%I') does, for messages people read.
func DisplayIdent(s string) string {
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || i > 0 && r >= '0' && r <= '9') {
			return Ident(s)
		}
	}
	if s == "" {
		return Ident(s)
	}
	return s
}

// Clip cuts s, text a database said (a message, a reason, a name), to n
// characters, marking a cut with an ellipsis: whatever a remote sends,
// what pglinks keeps and shows of it has a bound.
func Clip(s string, n int) string {
	if len(s) <= n || utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := range s {
		if i == n {
			return s[:k] + "…"
		}
		i++
	}
	return s
}
