package views

import (
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/auth"
)

// Every audit action has words, said once, and sits in one group of the
// filter; an action without words shows as stored.
func TestEveryAuditActionInWords(t *testing.T) {
	seen := map[string]bool{}
	for _, g := range actionGroups(auth.Actions) {
		if g.Label == "Other" {
			t.Errorf("actions without words: %v", g.Actions)
		}
		for _, a := range g.Actions {
			if seen[a] {
				t.Errorf("%s in two groups", a)
			}
			seen[a] = true
			if w := ActionWords(a); w == a || w == "" {
				t.Errorf("%s has no words", a)
			}
		}
	}
	if len(seen) != len(auth.Actions) {
		t.Errorf("the filter offers %d actions of %d", len(seen), len(auth.Actions))
	}
	words := map[string]string{}
	for _, a := range auth.Actions {
		if other, dup := words[ActionWords(a)]; dup {
			t.Errorf("%s and %s are both %q", a, other, ActionWords(a))
		}
		words[ActionWords(a)] = a
	}
	if ActionWords("not_an_action") != "not_an_action" {
		t.Error("an action without words is not shown as stored")
	}
}

// Runs of two or more sign-ins, sign-outs and failed sign-ins fold into
// one row; a lone sign-in and every change stay rows of their own.
func TestFoldSignIns(t *testing.T) {
	e := func(action, target string) auth.AuditEntry {
		return auth.AuditEntry{Action: action, Target: target, At: time.Now()}
	}
	entries := []auth.AuditEntry{
		e(auth.ActionLogin, "a@x.io"), e(auth.ActionLogin, "B@x.io"), e(auth.ActionLogout, "a@x.io"), e(auth.ActionLoginFailed, "b@x.io"),
		e(auth.ActionLinkCreate, "DATABASE_URL/sales"),
		e(auth.ActionLogin, "a@x.io"),
		e(auth.ActionLinkDestroy, "DATABASE_URL/sales"),
	}
	rows := foldSignIns(entries)
	if len(rows) != 4 || len(rows[0].Fold) != 4 || rows[1].Entry.Action != auth.ActionLinkCreate || rows[2].Fold != nil || rows[2].Entry.Action != auth.ActionLogin {
		t.Fatalf("rows = %+v", rows)
	}
	if got := foldSummary(rows[0].Fold); got != "2 sign-ins, 1 sign-out and 1 failed sign-in by 2 users" {
		t.Errorf("summary %q", got)
	}
	if got := foldSummary(entries[:2]); got != "2 sign-ins by 2 users" {
		t.Errorf("summary %q", got)
	}
	// Filtered by an action, nothing folds.
	p := AuditPage{Entries: entries[:4], Action: auth.ActionLogin}
	if rows := p.Rows(); len(rows) != 4 || rows[0].Fold != nil {
		t.Errorf("filtered rows = %+v", rows)
	}
}
