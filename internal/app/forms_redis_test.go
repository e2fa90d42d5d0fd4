package app

import (
	"net/url"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/links"
)

func TestDecodeRedisOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		form url.Values
		want []links.RedisTable // nil: the default
	}{
		{"NoRows", url.Values{"remote": {"REDIS_URL"}}, nil},
		{"EmptyRowsLeftOut", url.Values{"redis_table": {"redis", ""}, "redis_type": {"string", "hash"}, "redis_prefix": {"", ""}},
			[]links.RedisTable{{Name: "redis", Type: "string"}}},
		{"AllEmpty", url.Values{"redis_table": {""}, "redis_type": {"string"}, "redis_prefix": {""}}, []links.RedisTable{}},
		{"PrefixKeptVerbatim", url.Values{"redis_table": {" people "}, "redis_type": {"hash"}, "redis_prefix": {" person: "}},
			[]links.RedisTable{{Name: "people", Type: "hash", KeyPrefix: " person: "}}},
		{"PrefixWithoutName", url.Values{"redis_table": {""}, "redis_prefix": {"x:"}}, []links.RedisTable{{Type: "string", KeyPrefix: "x:"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeRedisOptions(tc.form).Tables
			if (got == nil) != (tc.want == nil) || len(got) != len(tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("row %d: got %#v, want %#v", i, got[i], tc.want[i])
				}
			}
		})
	}
	many := url.Values{}
	for range 100 {
		many.Add("redis_table", "t")
	}
	if n := len(decodeRedisOptions(many).Tables); n != links.MaxRedisTables+5 {
		t.Errorf("100 rows decoded as %d", n)
	}
	if r := decodeRedisOptions(url.Values{"redis_writable": {"1"}}); !r.Writable || r.Tables != nil {
		t.Errorf("writable: %+v", r)
	}
	if r := decodeRedisOptions(url.Values{"redis_table": {"a\x00b"}}); strings.Contains(r.Tables[0].Name, "\x00") {
		t.Errorf("a NUL got through: %q", r.Tables[0].Name)
	}
}
