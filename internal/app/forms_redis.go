package app

import (
	"net/url"
	"strings"

	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/views"
)

// decodeRedisOptions reads the create form's Redis tables: parallel
// redis_table, redis_type and redis_prefix fields, one row each. Rows
// without a name or a prefix are the form's empty rows and are left out;
// a form that posted no row at all gets the default table (Tables nil).
// Prefixes are kept verbatim (a space may be part of a key).
func decodeRedisOptions(form url.Values) views.RedisForm {
	r := views.RedisForm{Writable: form.Get("redis_writable") != ""}
	names, types, prefixes := form["redis_table"], form["redis_type"], form["redis_prefix"]
	n := max(len(names), len(types), len(prefixes))
	if n == 0 {
		return r
	}
	r.Tables = []links.RedisTable{}
	at := func(vs []string, i int) string {
		if i < len(vs) {
			return vs[i]
		}
		return ""
	}
	// A few more than a link may have, so the domain names the excess.
	for i := 0; i < min(n, links.MaxRedisTables+5); i++ {
		t := links.RedisTable{
			Name:      strings.TrimSpace(nameField(at(names, i))),
			Type:      strings.TrimSpace(nameField(at(types, i))),
			KeyPrefix: nameField(at(prefixes, i)),
		}
		if t.Name == "" && t.KeyPrefix == "" {
			continue
		}
		if t.Type == "" {
			t.Type = "string"
		}
		r.Tables = append(r.Tables, t)
	}
	return r
}
