package fleet

import "testing"

func TestQuoteLiteral(t *testing.T) {
	for in, want := range map[string]string{
		"plain":         "'plain'",
		"it's":          "'it''s'",
		`back\slash`:    `E'back\\slash'`,
		`'\'`:           `E'''\\'''`,
		"":              "''",
		"naïve ünïcode": "'naïve ünïcode'",
	} {
		got, err := QuoteLiteral(in)
		if err != nil || got != want {
			t.Errorf("QuoteLiteral(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"a\x00b", "\xff"} {
		if _, err := QuoteLiteral(bad); err == nil {
			t.Errorf("QuoteLiteral(%q) accepted", bad)
		}
	}
}

func TestDisplayIdent(t *testing.T) {
	for in, want := range map[string]string{
		"orders":       "orders",
		"t_01":         "t_01",
		"Orders":       `"Orders"`,
		"1st":          `"1st"`,
		"":             `""`,
		`a"b`:          `"a""b"`,
		"order items":  `"order items"`,
		"<script>":     `"<script>"`,
		"naïve":        `"naïve"`,
		"_hc_lastop":   "_hc_lastop",
		"select_2024x": "select_2024x",
	} {
		if got := DisplayIdent(in); got != want {
			t.Errorf("DisplayIdent(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestClip(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc…"},
		{"ééé", 3, "ééé"},
		{"éééé", 3, "ééé…"},
		{"a\xffbc", 2, "a\xff…"},
	} {
		if got := Clip(c.in, c.n); got != c.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
