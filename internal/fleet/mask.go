package fleet

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// The masks below keep passwords out of what pglinks shows and keeps: a
// fleet database's URL on its card and in logs, the SQL of the audit
// trail. They are also a second line of defence: code that builds DDL or
// error messages should not put passwords in them, but if it does, the
// audit trail and logs still must not keep them. They err on the side of
// masking too much.

// MaskSecrets applies MaskDDL and MaskURLs.
func MaskSecrets(s string) string { return MaskURLs(MaskDDL(s)) }

// MaskDDL hides password values in SQL and in libpq connection strings:
//
//	OPTIONS (user 'x', password 'secret')      -> password '***'
//	OPTIONS (SET "password" E'it\'s')          -> "password" '***'
//	CREATE ROLE r PASSWORD $$x$$               -> PASSWORD '***'
//	CONNECTION 'host=h password=secret'        -> password=***
//
// Standard, E”, U&” and dollar-quoted strings are understood, doubled
// quotes included; an unterminated value is masked to the end.
func MaskDDL(s string) string {
	lower := asciiLower(s)
	var b strings.Builder
	done := 0 // s[:done] is already written to b
	for from := 0; ; {
		j, kwEnd, ok := nextPasswordKeyword(s, lower, from)
		if !ok {
			break
		}
		from = kwEnd
		// SQL option or role syntax: password 'value'
		k := skipSpaceAndComments(s, kwEnd)
		if end, ok := scanSQLString(s, k); ok {
			b.WriteString(s[done:k])
			b.WriteString("'***'")
			done, from = end, end
			continue
		}
		// JSON: "password": "value"
		if j > 0 && s[j-1] == '"' {
			if k := skipSpaces(s, kwEnd); k < len(s) && s[k] == ':' {
				k = skipSpaces(s, k+1)
				if k < len(s) && s[k] == '"' {
					end := scanJSONString(s, k)
					b.WriteString(s[done:k])
					b.WriteString(`"***"`)
					done, from = end, end
					continue
				}
			}
		}
		// libpq keyword/value: password=value
		if k := skipSpaces(s, kwEnd); k < len(s) && s[k] == '=' {
			k = skipSpaces(s, k+1)
			if end := scanConninfoValue(s, k); end > k {
				b.WriteString(s[done:k])
				b.WriteString("***")
				done, from = end, end
			}
		}
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// nextPasswordKeyword finds the next "password" or "sslpassword" that stands
// as a word (or a double-quoted identifier) at or after from. It returns the
// keyword's start and the index just past it (past the closing quote of a
// quoted identifier).
func nextPasswordKeyword(s, lower string, from int) (start, end int, ok bool) {
	const kw = "password"
	for from < len(s) {
		i := strings.Index(lower[from:], kw)
		if i < 0 {
			return 0, 0, false
		}
		start, end = from+i, from+i+len(kw)
		from = end
		if strings.HasSuffix(lower[:start], "ssl") {
			start -= 3
		}
		if start > 0 && isWordByte(s[start-1]) {
			continue
		}
		if end < len(s) && isWordByte(s[end]) {
			continue
		}
		if start > 0 && s[start-1] == '"' && end < len(s) && s[end] == '"' {
			end++
		}
		return start, end, true
	}
	return 0, 0, false
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 ||
		('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// asciiLower lowercases ASCII letters only, so byte offsets stay valid.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func skipSpaces(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f') {
		i++
	}
	return i
}

// skipSpaceAndComments skips whitespace, -- comments and /* */ comments
// (which PostgreSQL nests).
func skipSpaceAndComments(s string, i int) int {
	for {
		i = skipSpaces(s, i)
		switch {
		case strings.HasPrefix(s[i:], "--"):
			nl := strings.IndexByte(s[i:], '\n')
			if nl < 0 {
				return len(s)
			}
			i += nl + 1
		case strings.HasPrefix(s[i:], "/*"):
			depth := 0
			for i < len(s) {
				if strings.HasPrefix(s[i:], "/*") {
					depth++
					i += 2
				} else if strings.HasPrefix(s[i:], "*/") {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
		default:
			return i
		}
	}
}

// scanSQLString reports whether a string literal starts at i and where it
// ends (len(s) if unterminated).
func scanSQLString(s string, i int) (end int, ok bool) {
	if i >= len(s) {
		return 0, false
	}
	rest := s[i:]
	switch {
	case rest[0] == '\'':
		return scanQuoted(s, i+1, false), true
	case len(rest) > 1 && (rest[0] == 'e' || rest[0] == 'E') && rest[1] == '\'':
		return scanQuoted(s, i+2, true), true
	case len(rest) > 1 && (rest[0] == 'n' || rest[0] == 'N') && rest[1] == '\'':
		return scanQuoted(s, i+2, false), true
	case len(rest) > 2 && (rest[0] == 'u' || rest[0] == 'U') && rest[1] == '&' && rest[2] == '\'':
		return scanQuoted(s, i+3, false), true
	case rest[0] == '$':
		tag, ok := dollarTag(rest)
		if !ok {
			return 0, false
		}
		close := strings.Index(rest[len(tag):], tag)
		if close < 0 {
			return len(s), true
		}
		return i + len(tag) + close + len(tag), true
	}
	return 0, false
}

// scanQuoted scans the body of a quoted string starting at i (just past the
// opening quote) and returns the index past the closing quote. ” is an
// escaped quote; in E” strings so is \'.
func scanQuoted(s string, i int, backslash bool) int {
	for i < len(s) {
		switch {
		case backslash && s[i] == '\\':
			i += 2
		case s[i] == '\'' && i+1 < len(s) && s[i+1] == '\'':
			i += 2
		case s[i] == '\'':
			return i + 1
		default:
			i++
		}
	}
	return len(s)
}

// dollarTag returns the $tag$ opening a dollar-quoted string.
func dollarTag(s string) (string, bool) {
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == '$' {
			return s[:i+1], true
		}
		if !(c == '_' || c >= 0x80 || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') ||
			(i > 1 && '0' <= c && c <= '9')) {
			return "", false
		}
	}
	return "", false
}

// scanJSONString returns the index past the JSON string starting at i.
func scanJSONString(s string, i int) int {
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(s)
}

// scanConninfoValue returns the end of a libpq value starting at i. The
// value may be quoted ('a b'), or quoted with doubled quotes because the
// connection string itself sits in an SQL literal (”a b”).
func scanConninfoValue(s string, i int) int {
	if i >= len(s) {
		return i
	}
	if strings.HasPrefix(s[i:], "''") {
		for j := i + 2; j < len(s); j++ {
			if s[j] == '\\' {
				j++
				continue
			}
			if strings.HasPrefix(s[j:], "''") {
				return j + 2
			}
		}
		return len(s)
	}
	if s[i] == '\'' {
		for j := i + 1; j < len(s); j++ {
			if s[j] == '\\' {
				j++
				continue
			}
			if s[j] == '\'' {
				return j + 1
			}
		}
		return len(s)
	}
	j := i
	for j < len(s) {
		c := s[j]
		if c == '\\' {
			j += 2
			continue
		}
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\'' || c == '"' || c == '&' {
			break
		}
		j++
	}
	return min(j, len(s))
}

// MaskURLs hides the password of every postgres://, postgresql://,
// redis:// or rediss:// URL in s, in the user info and in password= query
// parameters: postgres://user:secret@host/db -> postgres://user:***@host/db,
// rediss://:secret@host:6380 -> rediss://:***@host:6380.
func MaskURLs(s string) string {
	lower := asciiLower(s)
	var b strings.Builder
	done := 0
	for from := 0; from < len(s); {
		i, start, ok := nextMaskedScheme(lower, from)
		if !ok {
			break
		}
		if start < 0 {
			from = i + 1
			continue
		}
		tokEnd := start
		for tokEnd < len(s) && !isURLBreak(s[tokEnd]) {
			tokEnd++
		}
		authEnd := start
		for authEnd < tokEnd && !strings.ContainsRune("/?#", rune(s[authEnd])) {
			authEnd++
		}
		if lo, hi, ok := userinfoPassword(s[start:tokEnd], authEnd-start); ok {
			b.WriteString(s[done : start+lo])
			b.WriteString("***")
			done = start + hi
		}
		if q := strings.IndexByte(s[authEnd:tokEnd], '?'); q >= 0 {
			qs := authEnd + q + 1
			if qs >= done {
				b.WriteString(s[done:qs])
				b.WriteString(maskQuery(s[qs:tokEnd]))
				done = tokEnd
			}
		}
		from = max(tokEnd, start)
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// maskedSchemes are the URL schemes whose passwords MaskURLs hides.
var maskedSchemes = []string{"postgresql://", "postgres://", "rediss://", "redis://"}

// nextMaskedScheme finds the next "postgres" or "redis" at or after from:
// i is where it starts, and start is just past its "scheme://" (-1 when
// it does not start a URL of maskedSchemes).
func nextMaskedScheme(lower string, from int) (i, start int, ok bool) {
	i = -1
	for _, word := range []string{"postgres", "redis"} {
		if j := strings.Index(lower[from:], word); j >= 0 && (i < 0 || from+j < i) {
			i = from + j
		}
	}
	if i < 0 {
		return 0, 0, false
	}
	for _, scheme := range maskedSchemes {
		if strings.HasPrefix(lower[i:], scheme) {
			return i, i + len(scheme), true
		}
	}
	return i, -1, true
}

// isURLBreak ends a URL found in free text. Quotes do not: a password may
// hold them, and masking a little too much is the safe mistake.
func isURLBreak(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '<' || c == '>'
}

// userinfoPassword locates the password in tok (a URL without its scheme)
// whose authority is tok[:authLen]: from the first ':' of the user info to
// the last '@' of the whole token. Taking the last '@' catches passwords
// with a raw '@', '/', '?' or '#' (base64 passwords hold '/'), at the cost
// of hiding the host when a query parameter holds an '@'. When the
// authority has no '@', a ':' followed by digits is a port, not a password.
func userinfoPassword(tok string, authLen int) (lo, hi int, ok bool) {
	at := strings.LastIndexByte(tok, '@')
	if at < 0 {
		return 0, 0, false
	}
	colon := strings.IndexByte(tok[:at], ':')
	if colon < 0 || colon >= authLen {
		return 0, 0, false
	}
	if !strings.Contains(tok[:authLen], "@") {
		port := tok[colon+1 : authLen]
		if port != "" && strings.Trim(port, "0123456789") == "" {
			return 0, 0, false
		}
	}
	return colon + 1, at, true
}

// maskQuery masks password and sslpassword parameters in a query string.
func maskQuery(q string) string {
	frag := ""
	if h := strings.IndexByte(q, '#'); h >= 0 {
		q, frag = q[:h], q[h:]
	}
	params := strings.Split(q, "&")
	for i, p := range params {
		key, _, hasValue := strings.Cut(p, "=")
		switch strings.ToLower(key) {
		case "password", "sslpassword":
			if hasValue {
				params[i] = key + "=***"
			}
		}
	}
	return strings.Join(params, "&") + frag
}

// HidePasswords returns err with every fleet database's password in
// PostgreSQL's words (message, detail, hint, context) replaced by ***:
// for errors of statements whose text pglinks did not write (a query
// check), which could make PostgreSQL quote a value it read. Other errors
// are returned as they are.
func (f *Fleet) HidePasswords(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	var pairs []string
	for _, d := range f.Databases {
		if p := d.Password(); len(p) >= minHiddenPassword {
			pairs = append(pairs, p, "***")
		}
	}
	if len(pairs) == 0 {
		return err
	}
	r := strings.NewReplacer(pairs...)
	c := *pgErr
	c.Message, c.Detail, c.Hint, c.Where, c.InternalQuery = r.Replace(c.Message), r.Replace(c.Detail), r.Replace(c.Hint), r.Replace(c.Where), r.Replace(c.InternalQuery)
	return &c
}

// minHiddenPassword is the shortest password HidePasswords looks for: a
// shorter one would mask ordinary words.
const minHiddenPassword = 4
