package links

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// DDL cannot take bind parameters, so the few values it needs (server
// options, comments, enum labels) are quoted here exactly as PostgreSQL's
// quote_literal does. Identifiers always go through pgx.Identifier.

// quoteLiteral quotes s as an SQL string literal. It rejects strings that
// cannot be represented (NUL bytes, invalid UTF-8) instead of mangling them.
func quoteLiteral(s string) (string, error) {
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

func ident(parts ...string) string { return pgx.Identifier(parts).Sanitize() }
