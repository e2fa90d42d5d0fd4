package compat

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/connect"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/pgversion"
	"github.com/pglinks/pglinks/internal/replication"
)

// rawCatalogError matches what PostgreSQL says when a statement names a
// column, function or relation a server lacks, or one it keeps from
// ordinary roles: pglinks must never show these for a server it does not
// support, only its own plain words.
func rawCatalogError(msg string) bool {
	for _, raw := range []string{"does not exist", "permission denied"} {
		if strings.Contains(msg, raw) {
			return true
		}
	}
	return false
}

// plain fails t when err is a raw catalog error or an internal error.
func plain(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if errs.KindOf(err) == errs.Internal || rawCatalogError(errs.MessageOf(err)) {
		t.Errorf("%s: %v", what, err)
	}
}

// TestOlderServer puts a server older than pglinks supports on each side
// of a link and of a subscription: its card says what pglinks supports
// there, and no path fails with a raw catalog error.
func TestOlderServer(t *testing.T) {
	for _, p := range []pair{{olderMajor, 15}, {15, olderMajor}} {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			ctx := ctxFor(t)
			w := newLinkWorld(t, p)
			svc := w.svc

			inv := svc.Inventory(ctx)
			older := localVar
			if p.remote == olderMajor {
				older = remoteVar
			}
			want := fmt.Sprintf("PostgreSQL %d: pglinks supports %d to %d; links may work but are not tested.", olderMajor, pgversion.OldestSupported, pgversion.NewestSupported)
			for _, st := range inv {
				if !st.Reachable || st.Error != "" {
					t.Fatalf("%s: reachable %v, error %q", st.DB.ConfigVar, st.Reachable, st.Error)
				}
				note := ""
				if st.DB.ConfigVar == older {
					note = want
				}
				if st.Support.VersionNote() != note {
					t.Errorf("%s: note %q, want %q", st.DB.ConfigVar, st.Support.VersionNote(), note)
				}
			}
			html := renderInventory(t, inv)
			if !strings.Contains(html, `data-testid="version-note">`+want+`<`) || strings.Count(html, `data-testid="version-note"`) != 1 || !strings.Contains(html, versionBadge(olderMajor)) {
				t.Errorf("the cards do not show the note once, with the %d badge", olderMajor)
			}

			_, err := svc.ReadRemoteCatalog(ctx, remoteVar, "")
			plain(t, "remote catalog", err)
			_, err = svc.PreviewCreate(ctx, links.CreateRequest{RemoteVar: remoteVar, LocalVar: localVar, Name: "sales", CopyEnums: true})
			plain(t, "preview", err)
			_, err = svc.CreateLink(ctx, links.CreateRequest{RemoteVar: remoteVar, LocalVar: localVar, Name: "sales", CopyEnums: true})
			plain(t, "create", err)
			if err != nil {
				return
			}
			_, _, err = svc.LinkPage(ctx, localVar, "sales", "", 0, 50)
			plain(t, "link page", err)
			h, err := links.NewMonitor(svc).Check(ctx, localVar, "sales", true)
			plain(t, "health", err)
			plainText(t, "health reason", h.Reason)
			execAs(t, w.remote.URL, "CREATE TABLE tickets (id int)")
			d, err := svc.LinkDrift(ctx, localVar, "sales")
			plain(t, "drift", err)
			if d != nil {
				plainText(t, "drift", d.Error)
			}
			if rp, err := svc.PlanRefresh(ctx, localVar, "sales"); err != nil {
				plain(t, "refresh plan", err)
			} else {
				_, err = svc.RefreshLink(ctx, links.RefreshRequest{LocalVar: localVar, Name: "sales", Fingerprint: rp.Fingerprint})
				plain(t, "refresh", err)
			}
			sf := []string{"account", "contact", "opportunity"}
			_, err = svc.CreateLink(ctx, links.CreateRequest{RemoteVar: remoteVar, LocalVar: localVar, Name: "sf", RemoteSchema: "salesforce", Tables: sf, ReadOnly: true})
			plain(t, "Connect link", err)
			{
				st, err := connect.ReadFleetSyncState(ctx, svc.Fleet, remoteVar, "salesforce", sf, connect.DefaultOptions)
				plain(t, "Connect sync state", err)
				if st != nil {
					plainText(t, "Connect trigger log", st.TriggerLogErr)
					for _, ts := range st.Tables {
						plainText(t, "Connect table "+ts.Name, ts.Err)
					}
				}
			}
			dp, err := svc.PlanDestroy(ctx, localVar, "sales")
			plain(t, "destroy plan", err)
			if err == nil {
				_, err = svc.DestroyLink(ctx, links.DestroyRequest{LocalVar: localVar, Name: "sales", Confirm: "sales", Fingerprint: dp.Fingerprint})
				plain(t, "destroy", err)
			}

			// Replication read as the databases' own roles (no superuser),
			// as on a hosted plan: only plain notes.
			sub := newDB(t, p.local, "sub", pgtest.DBOptions{NoFDW: true})
			pub := newDB(t, p.remote, "pub", pgtest.DBOptions{NoFDW: true})
			execAs(t, pub.URL, "CREATE TABLE orders (id int PRIMARY KEY); CREATE PUBLICATION pub_orders FOR TABLE orders")
			execAs(t, sub.URL, "CREATE TABLE orders (id int PRIMARY KEY)")
			rs := replication.New(newService(t, []string{localVar + "=" + sub.URL, remoteVar + "=" + pub.URL}, 0, svc.Registry).Fleet)
			o := rs.Overview(ctx)
			for _, d := range o.Databases {
				if !d.Reachable {
					t.Errorf("%s: %s", d.DB.ConfigVar, d.Error)
				}
				for _, n := range d.Notes {
					plainText(t, d.DB.ConfigVar+" replication note", n)
				}
			}
			if d := findDB(o, older); len(d.Publications)+len(d.Slots) == 0 && older == remoteVar {
				t.Errorf("the older publisher's publication was not read: %+v", d)
			}
			pf, err := rs.PlanSubscription(ctx, replication.SubscriptionRequest{PublisherVar: remoteVar, SubscriberVar: localVar, Publication: "pub_orders", Name: "s"})
			plain(t, "subscription preflight", err)
			if pf != nil {
				for _, pr := range pf.Problems {
					plainText(t, "subscription preflight problem", pr)
				}
			}
		})
	}
}

// plainText fails t when a message pglinks shows is a raw catalog error.
func plainText(t *testing.T, what, msg string) {
	t.Helper()
	if rawCatalogError(msg) {
		t.Errorf("%s: %s", what, msg)
	}
}
