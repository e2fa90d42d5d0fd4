package app

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
)

func TestCSVSafe(t *testing.T) {
	t.Parallel()
	got := csvSafe("=1+2", "+cmd", "-2", "@SUM(A1)", "\tx", "plain", "", "a=b",
		` "=1`, "x;=cmd|' /C calc'!A0", "a, -b\n@c\t+d", "a-b=c")
	want := []string{"'=1+2", "'+cmd", "'-2", "'@SUM(A1)", "'\tx", "plain", "", "a=b",
		`' "=1`, "x;'=cmd|' /C calc'!A0", "a, '-b\n'@c\t'+d", "a-b=c"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("cell %d: %q, want %q", i, got[i], want[i])
		}
	}
}

func TestParseAuditQuery(t *testing.T) {
	t.Parallel()
	aq, f := parseAuditQuery(url.Values{"action": {"login"}, "from": {"2026-01-02"}, "to": {"2026-01-03"}, "target": {" x "}})
	if len(aq.Errors) != 0 || f.Action != "login" || f.Target != "x" ||
		!f.Since.Equal(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)) || !f.Until.Equal(time.Date(2026, 1, 4, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("good filter: %+v %+v", aq, f)
	}
	aq, f = parseAuditQuery(url.Values{"action": {"bogus"}, "from": {"yesterday"}, "before": {"-1"}})
	if !aq.Errors.Has("action") || !aq.Errors.Has("from") || !aq.Errors.Has("") || f.Action != "" || !f.Since.IsZero() || f.BeforeID != 0 {
		t.Fatalf("bad filter: %+v %+v", aq, f)
	}
	aq, _ = parseAuditQuery(url.Values{"from": {"2026-02-01"}, "to": {"2026-01-01"}})
	if !aq.Errors.Has("to") {
		t.Fatalf("reversed range accepted: %+v", aq)
	}
	if q := (auditQuery{Target: "a/b", Action: "login"}).query().Encode(); q != "action=login&target=a%2Fb" {
		t.Errorf("query = %q", q)
	}
}

func TestSuggestNameAfterRefusal(t *testing.T) {
	t.Parallel()
	if got := suggestName("Shop-Orders", errs.Invalid); got != "shop_orders" {
		t.Errorf("invalid: %q", got)
	}
	if got := suggestName("sales", errs.Conflict); got != "sales_2" {
		t.Errorf("taken: %q", got)
	}
	long := strings.Repeat("a", fleet.MaxIdentLen)
	if got := suggestName(long, errs.Conflict); len(got) != fleet.MaxIdentLen || links.ValidateName(got) != nil {
		t.Errorf("taken long name: %q", got)
	}
}
