package links

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The connections local sessions hold through a link are read on the
// remote (postgres_fdw_get_connections() would show only pglinks' own
// session's) and ended there, after which the sessions connect afresh.
func TestLinkRemoteConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	createSales(t, f)
	session, err := pgx.Connect(ctx, f.local.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close(ctx)
	read := func() int {
		t.Helper()
		var n int
		if err := session.QueryRow(ctx, "SELECT count(*) FROM sales.customers").Scan(&n); err != nil {
			t.Fatalf("a local session's read through the link: %v", err)
		}
		return n
	}
	read()

	rc, err := f.svc.LinkConnections(ctx, "DATABASE_URL", "sales")
	if err != nil {
		t.Fatal(err)
	}
	if rc.Unread != "" || len(rc.Conns) != 1 || rc.Endable != 1 || rc.Role != f.remote.Owner || !strings.HasPrefix(rc.AppName, "pglinks/") {
		t.Fatalf("connections: %+v", rc)
	}
	c := rc.Conns[0]
	if c.Role != f.remote.Owner || c.Client != "127.0.0.1" || c.BackendStart.IsZero() || c.State != "idle" || c.Query != "COMMIT TRANSACTION" {
		t.Errorf("connection: %+v", c)
	}
	if !rc.KeepSupported || rc.KeepConnections != "" || !rc.KeepConnectionsOn() || rc.LocalMajor < 14 {
		t.Errorf("keep_connections: %q, supported %v, on %v (local %d)", rc.KeepConnections, rc.KeepSupported, rc.KeepConnectionsOn(), rc.LocalMajor)
	}

	if rc.Until.IsZero() {
		t.Fatal("no remote clock read with the connections")
	}
	n, stmt, err := f.svc.EndLinkConnections(ctx, "DATABASE_URL", "sales", rc.Until)
	if err != nil || n != 1 || !strings.Contains(stmt, "pg_terminate_backend(pid)") || !strings.Contains(stmt, "'"+rc.AppName+"'") || !strings.Contains(stmt, "backend_start <=") {
		t.Fatalf("end: %d, %q, %v", n, stmt, err)
	}
	// The session reconnects at its next read, as a new connection.
	if read() != 2 {
		t.Fatal("customers")
	}
	after, err := f.svc.LinkConnections(ctx, "DATABASE_URL", "sales")
	if err != nil || len(after.Conns) != 1 || after.Conns[0].PID == c.PID {
		t.Fatalf("after ending: %+v, %v", after, err)
	}

	// keep_connections is shown as the link's server has it.
	execAs(t, f.local.URL, "ALTER SERVER sales OPTIONS (ADD keep_connections 'off')")
	if rc, err := f.svc.LinkConnections(ctx, "DATABASE_URL", "sales"); err != nil || rc.KeepConnections != "off" || rc.KeepConnectionsOn() {
		t.Errorf("keep_connections off: %+v, %v", rc, err)
	}

	// A remote that is not in this fleet any more cannot be read: said so.
	gone := newService(t, []string{"DATABASE_URL=" + f.local.URL})
	gone.Registry = f.svc.Registry
	rc, err = gone.LinkConnections(ctx, "DATABASE_URL", "sales")
	if err != nil || !strings.Contains(rc.Unread, "not in this fleet any more") || len(rc.Conns) != 0 {
		t.Fatalf("remote gone: %+v, %v", rc, err)
	}
	if _, _, err := gone.EndLinkConnections(ctx, "DATABASE_URL", "sales", time.Time{}); err == nil || !strings.Contains(err.Error(), "Nothing was ended") {
		t.Fatalf("end with the remote gone: %v", err)
	}
}
