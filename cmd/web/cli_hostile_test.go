package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/pgtest"
)

// noTerminalControl fails when a verb's output holds a character that
// rewrites the terminal (ESC, BEL, CR, a bidi override): names read from
// a remote reach a person's terminal only as escapes ("<U+001B>").
func noTerminalControl(t *testing.T, what string, r cliRun) {
	t.Helper()
	for _, s := range []struct{ name, text string }{{"stdout", r.out}, {"stderr", r.err}} {
		if i := strings.IndexAny(s.text, "\x1b\x07\r\u202e"); i >= 0 {
			t.Errorf("%s: a control character from a remote name reached the terminal on %s (exit %d):\n%q", what, s.name, r.code, s.text)
		}
	}
}

// A remote's owner names tables and columns after the link was made: the
// CLI's health line (a table gone), the refresh plan's SQL (a column
// added, a table dropped) and what refresh says it did print those names
// as escapes, as links:info does.
func TestCLIHostileRemoteNamesAfterCreate(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	e.asAdmin(t, "links:create", "HEROKU_POSTGRESQL_BLUE_URL", "DATABASE_URL", "--as", "sales").want(t, 0, "stdout", "done")
	pgtest.MustExec(t, e.remote.URL, "DROP TABLE \"\x1b[2J\"; ALTER TABLE customers ADD COLUMN \"\x1b]0;owned\x07\" int")

	// links:check exits 1 on a broken link: its reason is printed by main.
	r := e.asAdmin(t, "links:check", "DATABASE_URL", "sales")
	if r.code != 1 || !strings.Contains(r.err, "remote table missing") || !strings.Contains(r.err, "<U+001B>[2J") {
		t.Fatalf("links:check does not say the table is gone, escaped (exit %d):\n%s%s", r.code, r.out, r.err)
	}
	noTerminalControl(t, "links:check", r)
	noTerminalControl(t, "links:info", e.asAdmin(t, "links:info", "DATABASE_URL", "sales"))
	noTerminalControl(t, "links", e.asAdmin(t, "links"))

	// --json keeps every name exact, the control characters as \u escapes.
	r = e.asAdmin(t, "links:info", "DATABASE_URL", "sales", "--json")
	noTerminalControl(t, "links:info --json", r)
	if !json.Valid([]byte(r.out)) || !strings.Contains(r.out, `\u001b]0;owned\u0007`) && !strings.Contains(r.out, `\u001b[2J`) {
		t.Errorf("links:info --json does not keep the names as escapes:\n%s", r.out)
	}

	r = e.asAdmin(t, "links:refresh", "DATABASE_URL", "sales", "--confirm", "sales")
	r.want(t, 0, "stdout", "Refresh runs:", "DROP FOREIGN TABLE", "ADD COLUMN")
	noTerminalControl(t, "links:refresh", r)
}

// terminalWriter escapes what would rewrite a terminal and nothing else;
// in JSON the escapes decode to the same strings.
func TestTerminalWriter(t *testing.T) {
	in := "a\x1b[2J\x07b\r\n\tc\u202eevil\U000E0001 ü \xff\n"
	var human bytes.Buffer
	fmt.Fprint(terminalWriter{w: &human}, in)
	if want := "a<U+001B>[2J<U+0007>b<U+000D>\n\tc<U+202E>evil<U+E0001> ü <0xFF>\n"; human.String() != want {
		t.Errorf("human:\n got %q\nwant %q", human.String(), want)
	}
	v := map[string]string{"name": strings.ToValidUTF8(in, "\uFFFD")}
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	terminalWriter{w: &out, json: true}.Write(raw)
	var back map[string]string
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || back["name"] != v["name"] {
		t.Errorf("JSON through the writer: %q (%v), want %q", back["name"], err, v["name"])
	}
	if strings.ContainsAny(out.String(), "\x1b\x07\r\u202e\U000E0001") {
		t.Errorf("JSON through the writer keeps a control character: %q", out.String())
	}
}
