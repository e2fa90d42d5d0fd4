package views

import (
	"context"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/a-h/templ"
)

// namePart is a run of a name: plain text, or characters people could
// not see (controls, bidi overrides, zero-width spaces) shown as escapes,
// one part per run so a name of them costs one element, not one each.
type namePart struct {
	Text   string
	Escape bool
}

// nameParts splits a name read from a database so that every invisible or
// direction-changing character shows as "<U+202E>": a table named with a
// right-to-left override must not display "evil" as "live".
func nameParts(s string) []namePart {
	var out []namePart
	var plain strings.Builder
	flush := func() {
		if plain.Len() > 0 {
			out = append(out, namePart{Text: plain.String()})
			plain.Reset()
		}
	}
	escape := func(text string) {
		flush()
		if n := len(out); n > 0 && out[n-1].Escape {
			out[n-1].Text += text
			return
		}
		out = append(out, namePart{Text: text, Escape: true})
	}
	for i, w := 0, 0; i < len(s); i += w {
		r, size := utf8.DecodeRuneInString(s[i:])
		w = size
		if r == utf8.RuneError && size == 1 {
			escape(fmt.Sprintf("<0x%02X>", s[i]))
			continue
		}
		if Invisible(r) {
			escape(fmt.Sprintf("<U+%04X>", r))
			continue
		}
		plain.WriteRune(r)
	}
	flush()
	return out
}

// Invisible reports characters that change how text around them displays
// or that cannot be seen: controls, format characters (bidi controls,
// zero-width joiners, BOM), line and paragraph separators.
func Invisible(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r)
}

// HasInvisible reports whether a name holds characters shown as escapes.
func HasInvisible(s string) bool {
	for _, p := range nameParts(s) {
		if p.Escape {
			return true
		}
	}
	return false
}

// ShowName is a name as plain text with every invisible or
// direction-changing character written as its escape ("evil<U+202E>live"),
// for a terminal, where such a character would rearrange or hide what is
// printed around it.
func ShowName(s string) string {
	var b strings.Builder
	for _, p := range nameParts(s) {
		b.WriteString(p.Text)
	}
	return b.String()
}

// hasEscape reports whether any of parts is an escape.
func hasEscape(parts []namePart) bool {
	for _, p := range parts {
		if p.Escape {
			return true
		}
	}
	return false
}

// nameList shows names as views.Name does, separated by ", " with no
// space before the commas.
func nameList(names []string) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		for i, n := range names {
			if i > 0 {
				if _, err := io.WriteString(w, ", "); err != nil {
					return err
				}
			}
			if err := Name(n).Render(ctx, w); err != nil {
				return err
			}
		}
		return nil
	})
}

// wrapText writes s escaped, with a <wbr> after each "_", "." and "/"
// (not at its end): the only places a long identifier (a link, a config
// var, a schema.table) may wrap, so it never breaks inside a word.
func wrapText(s string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		start := 0
		for i := 0; i < len(s); i++ {
			if (s[i] == '_' || s[i] == '.' || s[i] == '/') && i+1 < len(s) {
				if _, err := io.WriteString(w, templ.EscapeString(s[start:i+1])+"<wbr>"); err != nil {
					return err
				}
				start = i + 1
			}
		}
		_, err := io.WriteString(w, templ.EscapeString(s[start:]))
		return err
	})
}
