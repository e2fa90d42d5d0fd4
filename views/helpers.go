package views

import (
	"net/url"
	"strconv"

	"github.com/jackc/pgx/v5"
)

func itoa(n int) string { return strconv.Itoa(n) }

// plural is "1 column" or "21 columns": the count with the noun that
// agrees with it.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return itoa(n) + " " + many
}

// Plural is plural for messages built outside templates (flashes, audit
// details), so every count pglinks says agrees with its noun the same way.
func Plural(n int, one, many string) string { return plural(n, one, many) }

// quoteIdent quotes an identifier the way psql users would type it.
func quoteIdent(s string) string {
	simple := s != ""
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || (i > 0 && r >= '0' && r <= '9')) {
			simple = false
			break
		}
	}
	if simple {
		return s
	}
	return pgx.Identifier{s}.Sanitize()
}

func urlQuery(s string) string { return url.QueryEscape(s) }
