package views

import (
	"context"
	"strings"
	"testing"
)

func TestNameParts(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"customers", "customers"},
		{"\u202Eevil", "<U+202E>evil"},
		{"a\u200Bb", "a<U+200B>b"},
		{"tab\there", "tab<U+0009>here"},
		{"nul\x00", "nul<U+0000>"},
		{"bad\xffbyte", "bad<0xFF>byte"},
		{"Order Items (2024) <draft>", "Order Items (2024) <draft>"},
		{"日本語", "日本語"},
	} {
		var b strings.Builder
		for _, p := range nameParts(tc.in) {
			b.WriteString(p.Text)
		}
		if b.String() != tc.want {
			t.Errorf("nameParts(%q) = %q, want %q", tc.in, b.String(), tc.want)
		}
	}
}

// Names wrap only after "_", "." and "/": a <wbr> there, none elsewhere,
// and the text reads the same.
func TestNameWrapsAtSeparators(t *testing.T) {
	for in, want := range map[string]string{
		"store_lisbon":                       "store_<wbr>lisbon",
		"HEROKU_POSTGRESQL_STORE_LISBON_URL": "HEROKU_<wbr>POSTGRESQL_<wbr>STORE_<wbr>LISBON_<wbr>URL",
		"public.orders":                      "public.<wbr>orders",
		"DATABASE_URL/sales":                 "DATABASE_<wbr>URL/<wbr>sales",
		"trailing_":                          "trailing_",
		"customers":                          "customers",
	} {
		var b strings.Builder
		if err := Name(in).Render(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		got := strings.TrimSuffix(strings.TrimPrefix(b.String(), `<bdi class="name" dir="ltr">`), "</bdi>")
		if got != want {
			t.Errorf("Name(%q) renders %q, want %q", in, got, want)
		}
	}
}

func TestNameRendersEscapedAndIsolated(t *testing.T) {
	var b strings.Builder
	if err := Name("<b>\u202Eevil</b>").Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	if strings.Contains(got, "\u202E") || strings.Contains(got, "<b>") {
		t.Fatalf("rendered %q: raw override or markup left in", got)
	}
	if !strings.HasPrefix(got, "<bdi") || !strings.Contains(got, "&lt;U+202E&gt;") {
		t.Fatalf("rendered %q", got)
	}
}
