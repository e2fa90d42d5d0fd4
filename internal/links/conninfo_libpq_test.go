package links

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// The keyword/value string is read by libpq itself (psql here, the
// subscription's worker in production) exactly as the URL meant it: spaces,
// plus signs, percent signs, quotes, backslashes and options survive.
func TestLibpqConnInfoAsLibpqReadsIt(t *testing.T) {
	t.Parallel()
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql not installed")
	}
	db := newDB(t, clusterA, "kv", pgtest.DBOptions{NoFDW: true})
	const appName = `odd pub+plus%pct'q\b"dq`
	raw := withQuery(db.URL, "application_name=odd%20pub%2Bplus%25pct%27q%5Cb%22dq&options=-c%20statement_timeout%3D12345")
	fl, err := fleet.Load([]string{"DATABASE_URL=" + raw})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := fl.Get("DATABASE_URL")
	conninfo, masked, err := d.LibpqConnInfo(map[string]string{"connect_timeout": "5"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(masked, db.Password) || !strings.Contains(masked, "password=***") {
		t.Errorf("masked conninfo shows the password or no mask: %s", masked)
	}
	if !strings.Contains(conninfo, "connect_timeout=5") {
		t.Errorf("no default connect_timeout: %s", masked)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, psql, conninfo, "-XAtc", "SELECT current_setting('application_name') || '|' || current_setting('statement_timeout')").CombinedOutput()
	if err != nil {
		t.Fatalf("psql with %s: %v\n%s", masked, err, out)
	}
	if got, want := strings.TrimSpace(string(out)), appName+"|12345ms"; got != want {
		t.Errorf("libpq read %q, want %q (conninfo %s)", got, want, masked)
	}

	// A URL-encoded plus in a value is a plus; a literal plus too (libpq
	// does not read "+" as a space).
	fl, _ = fleet.Load([]string{"DATABASE_URL=" + withQuery(db.URL, "application_name=a+b")})
	d, _ = fl.Get("DATABASE_URL")
	conninfo, _, err = d.LibpqConnInfo(nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err = exec.CommandContext(ctx, psql, conninfo, "-XAtc", "SELECT current_setting('application_name')").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "a+b" {
		t.Errorf("application_name=a+b: %v %q", err, out)
	}

	// NUL cannot be expressed to libpq: refused, not cut.
	fl, _ = fleet.Load([]string{"DATABASE_URL=" + withQuery(db.URL, "application_name=a%00b")})
	d, _ = fl.Get("DATABASE_URL")
	if _, _, err := d.LibpqConnInfo(nil); err == nil {
		t.Error("a NUL byte was accepted")
	}
}

func withQuery(u, q string) string {
	if strings.Contains(u, "?") {
		return u + "&" + q
	}
	return u + "?" + q
}
