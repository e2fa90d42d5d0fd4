package app

import (
	"net/http"
	"strings"
	"testing"
)

// A spreadsheet set to a locale whose list separator is ";" (German,
// French, ...) splits the export's lines at ";" as well: a value typed
// into a field that reaches the audit trail must not begin a cell there
// with a formula, whoever typed it. The sign-in form is open to anyone, and
// a failed sign-in stores the typed email as the row's target.
func TestAuditCSVSemicolonLocaleStartsNoFormula(t *testing.T) {
	e := newEnv(t)
	anon := e.client(t)
	const typed = "x;=cmd|' /C calc'!A0"
	if r := anon.login(typed, "wrong password", ""); r.Status != http.StatusUnauthorized {
		t.Fatalf("failed sign-in: %d", r.Status)
	}
	admin := e.client(t)
	admin.signIn(adminEmail)
	res := admin.get("/audit.csv")
	if res.Status != http.StatusOK {
		t.Fatalf("export: %d", res.Status)
	}
	if !strings.Contains(res.Body, "x;") {
		t.Fatalf("the failed sign-in is not in the export:\n%s", res.Body)
	}
	for _, line := range strings.Split(res.Body, "\n") {
		for _, cell := range strings.Split(line, ";") {
			if c := strings.TrimLeft(cell, ` "`); c != "" && strings.ContainsRune("=+-@", rune(c[0])) {
				t.Errorf("read with ';' as the separator, a cell begins a formula: %q (line %q)", cell, line)
			}
		}
	}
}
