package views

import (
	"strings"

	"github.com/pglinks/pglinks/internal/auth"
)

// actionGroup is a set of audit actions named in words, for the filter's
// option groups.
type actionGroup struct {
	Label   string
	Actions []string
}

// auditActionGroups names every audit action in words, the one map the
// filter and the rows use (the CSV keeps the raw action). A refused
// variant is named for what was refused; the row's outcome says so too.
var auditActionGroups = []struct {
	Label string
	Words [][2]string // action, words
}{
	{"Data links", [][2]string{
		{auth.ActionLinkCreate, "Created a link"},
		{auth.ActionLinkCreateRefused, "Link creation refused"},
		{auth.ActionLinkDestroy, "Destroyed a link"},
		{auth.ActionLinkDestroyRefused, "Link destruction refused"},
		{auth.ActionLinkRepair, "Repaired a link"},
		{auth.ActionLinkRepairRefused, "Link repair refused"},
		{auth.ActionLinkRefresh, "Refreshed a link"},
		{auth.ActionLinkRefreshRefused, "Link refresh refused"},
		{auth.ActionLinkImportTables, "Imported tables"},
		{auth.ActionLinkImportRefused, "Table import refused"},
		{auth.ActionQueryCheck, "Checked a query"},
		{auth.ActionQueryCheckRefused, "Query check refused"},
		{auth.ActionLinkOption, "Changed a link option"},
		{auth.ActionLinkOptionRefused, "Link option change refused"},
		{auth.ActionLinkAnalyze, "Analyzed foreign tables"},
		{auth.ActionLinkConnectionsEnd, "Ended connections through a link"},
		{auth.ActionLinkConnectionsEndRefused, "Ending connections refused"},
	}},
	{"Replication", [][2]string{
		{auth.ActionPublicationCreate, "Created a publication"},
		{auth.ActionSubscriptionCreate, "Created a subscription"},
		{auth.ActionSubscriptionEnable, "Enabled a subscription"},
		{auth.ActionSubscriptionDisable, "Disabled a subscription"},
		{auth.ActionSubscriptionDrop, "Dropped a subscription"},
		{auth.ActionSlotDrop, "Dropped a replication slot"},
		{auth.ActionReplicationRefused, "Replication change refused"},
	}},
	{"Users", [][2]string{
		{auth.ActionUserAdd, "Added a user"},
		{auth.ActionUserRemove, "Removed a user"},
		{auth.ActionUserSetRole, "Changed a role"},
		{auth.ActionPasswordReset, "Reset a password"},
		{auth.ActionPasswordChange, "Changed own password"},
		{auth.ActionTokenCreate, "Made an API token"},
		{auth.ActionTokenRevoke, "Revoked an API token"},
	}},
	{"Sign-ins", [][2]string{
		{auth.ActionLogin, "Signed in"},
		{auth.ActionLoginFailed, "Sign-in failed"},
		{auth.ActionLogout, "Signed out"},
		{auth.ActionDenied, "Request denied"},
	}},
}

var actionWords = func() map[string]string {
	m := map[string]string{}
	for _, g := range auditActionGroups {
		for _, aw := range g.Words {
			m[aw[0]] = aw[1]
		}
	}
	return m
}()

// ActionWords names an audit action in words ("Imported tables" for
// link_import_tables); an action without words shows as it is stored.
func ActionWords(action string) string {
	if w, ok := actionWords[action]; ok {
		return w
	}
	return action
}

// actionGroups are the filter's options: every action of actions, in
// words, grouped; actions the map lacks come last under "Other".
func actionGroups(actions []string) []actionGroup {
	known := map[string]bool{}
	for _, a := range actions {
		known[a] = true
	}
	var out []actionGroup
	placed := map[string]bool{}
	for _, g := range auditActionGroups {
		ag := actionGroup{Label: g.Label}
		for _, aw := range g.Words {
			if known[aw[0]] {
				ag.Actions = append(ag.Actions, aw[0])
				placed[aw[0]] = true
			}
		}
		if len(ag.Actions) > 0 {
			out = append(out, ag)
		}
	}
	other := actionGroup{Label: "Other"}
	for _, a := range actions {
		if !placed[a] {
			other.Actions = append(other.Actions, a)
		}
	}
	if len(other.Actions) > 0 {
		out = append(out, other)
	}
	return out
}

// signInAction reports the actions a fold of sign-ins takes in: they
// happen all day and would bury the changes.
func signInAction(action string) bool {
	switch action {
	case auth.ActionLogin, auth.ActionLogout, auth.ActionLoginFailed:
		return true
	}
	return false
}

// AuditRow is one row of the audit page: an entry, or (Fold set) a run of
// consecutive sign-ins, sign-outs and failed sign-ins folded into one.
type AuditRow struct {
	Entry auth.AuditEntry
	Fold  []auth.AuditEntry
}

// foldSignIns folds each run of two or more consecutive sign-in entries
// into one row, so the changes stand out; the rows keep their order.
func foldSignIns(entries []auth.AuditEntry) []AuditRow {
	var out []AuditRow
	for i := 0; i < len(entries); {
		j := i
		for j < len(entries) && signInAction(entries[j].Action) {
			j++
		}
		switch {
		case j-i >= 2:
			out = append(out, AuditRow{Fold: entries[i:j]})
			i = j
		default:
			out = append(out, AuditRow{Entry: entries[i]})
			i++
		}
	}
	return out
}

// foldSummary says what a fold holds: "12 sign-ins, 3 sign-outs and
// 1 failed sign-in by 3 users".
func foldSummary(fold []auth.AuditEntry) string {
	var in, out, failed int
	users := map[string]bool{}
	for _, e := range fold {
		switch e.Action {
		case auth.ActionLogin:
			in++
		case auth.ActionLogout:
			out++
		case auth.ActionLoginFailed:
			failed++
		}
		users[strings.ToLower(e.Target)] = true
	}
	var parts []string
	if in > 0 {
		parts = append(parts, plural(in, "sign-in", "sign-ins"))
	}
	if out > 0 {
		parts = append(parts, plural(out, "sign-out", "sign-outs"))
	}
	if failed > 0 {
		parts = append(parts, plural(failed, "failed sign-in", "failed sign-ins"))
	}
	s := parts[0]
	if len(parts) > 1 {
		s = strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
	}
	return s + " by " + plural(len(users), "user", "users")
}

// foldFailed counts the failed sign-ins of a fold, which its row shows
// apart so they are not buried.
func foldFailed(fold []auth.AuditEntry) int {
	n := 0
	for _, e := range fold {
		if e.Action == auth.ActionLoginFailed {
			n++
		}
	}
	return n
}
