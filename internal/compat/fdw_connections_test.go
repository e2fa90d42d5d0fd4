package compat

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/links"
)

// TestLinkRemoteConnections reads and ends the connections a local session
// holds through a link, on the remote, with a local side that has
// keep_connections (14 and later: shown, and the session reconnects by
// itself) and one that does not (13: its connections are always kept, and
// the page says the option does not exist there).
func TestLinkRemoteConnections(t *testing.T) {
	for _, p := range []pair{{14, 18}, {olderMajor, 16}} {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			ctx := ctxFor(t)
			w := newLinkWorld(t, p)
			if _, err := w.svc.CreateLink(ctx, links.CreateRequest{RemoteVar: remoteVar, LocalVar: localVar, Name: "sales", CopyEnums: true}); err != nil {
				t.Fatal(err)
			}
			session, err := pgx.Connect(ctx, w.local.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer session.Close(ctx)
			var n int
			if err := session.QueryRow(ctx, "SELECT count(*) FROM sales.customers").Scan(&n); err != nil || n != 2 {
				t.Fatalf("read through the link: %d, %v", n, err)
			}
			rc, err := w.svc.LinkConnections(ctx, localVar, "sales")
			if err != nil || rc.Unread != "" || len(rc.Conns) != 1 || rc.Endable != 1 || rc.LocalMajor != p.local {
				t.Fatalf("connections: %+v, %v", rc, err)
			}
			if want := p.local >= 14; rc.KeepSupported != want || !rc.KeepConnectionsOn() {
				t.Errorf("keep_connections on %d: supported %v, on %v", p.local, rc.KeepSupported, rc.KeepConnectionsOn())
			}
			ended, stmt, err := w.svc.EndLinkConnections(ctx, localVar, "sales", rc.Until)
			if err != nil || ended != 1 || !strings.Contains(stmt, "pg_terminate_backend") {
				t.Fatalf("end: %d, %v", ended, err)
			}
			err = session.QueryRow(ctx, "SELECT count(*) FROM sales.customers").Scan(&n)
			switch {
			case p.local >= 14 && err != nil:
				t.Fatalf("PostgreSQL %d reconnects by itself: %v", p.local, err)
			case p.local < 14 && err == nil:
				t.Logf("PostgreSQL %d reconnected too", p.local)
			}
			// 13's session fails once, then connects afresh.
			if err := session.QueryRow(ctx, "SELECT count(*) FROM sales.customers").Scan(&n); err != nil {
				t.Fatalf("second read after ending: %v", err)
			}
		})
	}
}
