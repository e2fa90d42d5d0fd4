package app

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Subscriptions "twin " and "twin" are two objects: every action addresses
// the one named in the form, exactly, and a typed confirmation must equal
// that name byte for byte (no trimming on either side).
func TestReplicationActionsUseExactNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Subscriptions need a superuser on PostgreSQL 15: make the local
	// database's role one, as on a self-hosted server.
	execSQL(t, cluster.SuperURL("postgres"), fmt.Sprintf(`ALTER ROLE "%s_owner" SUPERUSER`, e.local.Name))
	for i, name := range []string{"twin", "twin "} {
		execSQL(t, e.local.URL, fmt.Sprintf(`CREATE SUBSCRIPTION "%s" CONNECTION 'host=127.0.0.1 port=1 dbname=x connect_timeout=1' PUBLICATION p WITH (connect = false, slot_name = 'twin_%d')`, name, i))
	}
	subs := func() map[string]bool {
		t.Helper()
		got := map[string]bool{}
		for _, name := range []string{"twin", "twin "} {
			if queryInt(t, e.local.URL, "SELECT count(*) FROM pg_subscription WHERE subname = $1 AND subenabled", name) == 1 {
				got[name] = true
			} else if queryInt(t, e.local.URL, "SELECT count(*) FROM pg_subscription WHERE subname = $1", name) == 1 {
				got[name] = false
			}
		}
		return got
	}
	c := e.client(t)
	c.signIn(adminEmail)

	// Enabling "twin " enables that one only.
	if r := c.post("/replication/subscriptions/enable", url.Values{"db": {"DATABASE_URL"}, "name": {"twin "}}); r.Status != http.StatusSeeOther {
		t.Fatalf("enable: %d %s", r.Status, r.Body)
	}
	if got := subs(); !got["twin "] || got["twin"] {
		t.Fatalf("after enabling %q: enabled = %v", "twin ", got)
	}

	// The drop confirmation's fingerprint (its slot and publisher).
	fingerprint := func(name string) string {
		t.Helper()
		page := c.get("/replication/subscriptions/drop?db=DATABASE_URL&name=" + url.QueryEscape(name))
		m := regexp.MustCompile(`name="fingerprint" value="([^"]+)"`).FindStringSubmatch(page.Body)
		if m == nil {
			t.Fatalf("no fingerprint on the drop confirmation of %q: %d", name, page.Status)
		}
		return m[1]
	}
	// A form without the confirmation's fingerprint, or with another's,
	// drops nothing: 409 and the confirmation as it is now.
	for _, fp := range []string{"", fingerprint("twin")} {
		if r := c.post("/replication/subscriptions/drop", url.Values{"db": {"DATABASE_URL"}, "name": {"twin "}, "confirm": {"twin "}, "fingerprint": {fp}}); r.Status != http.StatusConflict || !strings.Contains(r.Body, "twin_1") {
			t.Errorf("drop with fingerprint %q: %d, want 409 naming the slot", fp, r.Status)
		}
		if got := subs(); len(got) != 2 {
			t.Fatalf("a drop without its confirmation's fingerprint dropped something: left %v", got)
		}
	}

	// A confirmation with a space more or less does not match.
	for _, tc := range []struct{ name, confirm string }{{"twin ", "twin"}, {"twin", "twin "}, {"twin", " twin"}} {
		r := c.post("/replication/subscriptions/drop", url.Values{"db": {"DATABASE_URL"}, "name": {tc.name}, "confirm": {tc.confirm}, "fingerprint": {fingerprint(tc.name)}})
		if r.Status != http.StatusUnprocessableEntity {
			t.Errorf("drop %q confirmed as %q: %d, want 422", tc.name, tc.confirm, r.Status)
		}
		if got := subs(); len(got) != 2 {
			t.Fatalf("drop %q confirmed as %q dropped something: left %v", tc.name, tc.confirm, got)
		}
	}

	// Dropping "twin " typed exactly drops "twin " and leaves "twin".
	if r := c.post("/replication/subscriptions/drop", url.Values{"db": {"DATABASE_URL"}, "name": {"twin "}, "confirm": {"twin "}, "fingerprint": {fingerprint("twin ")}}); r.Status != http.StatusSeeOther {
		t.Fatalf("drop: %d %s", r.Status, r.Body)
	}
	if got := subs(); len(got) != 1 {
		t.Fatalf("after dropping %q: left %v, want only %q", "twin ", got, "twin")
	} else if _, ok := got["twin"]; !ok {
		t.Fatalf("dropping %q took %q instead: left %v", "twin ", "twin", got)
	}
}

// A link's typed confirmation is compared exactly too.
func TestDestroyConfirmationIsExact(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	c.signIn(adminEmail)
	if r := c.post("/links", url.Values{"remote": {"HEROKU_POSTGRESQL_BLUE_URL"}, "local": {"DATABASE_URL"}, "name": {"sales"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	page := c.get("/databases/DATABASE_URL/links/sales/destroy")
	fp := regexpMust(`name="fingerprint" value="([^"]*)"`).FindStringSubmatch(page.Body)
	if fp == nil {
		t.Fatalf("no fingerprint on the confirmation page:\n%s", page.Body)
	}
	for _, typed := range []string{"sales ", " sales", "sales\t"} {
		r := c.post("/databases/DATABASE_URL/links/sales/destroy", url.Values{"confirm": {typed}, "fingerprint": {fp[1]}})
		if r.Status != http.StatusUnprocessableEntity {
			t.Errorf("confirmation %q: %d, want 422", typed, r.Status)
		}
		if n := linkCount(t, e); n != 1 {
			t.Fatalf("confirmation %q destroyed the link", typed)
		}
	}
	if r := c.post("/databases/DATABASE_URL/links/sales/destroy", url.Values{"confirm": {"sales"}, "fingerprint": {fp[1]}}); r.Status != http.StatusSeeOther {
		t.Fatalf("exact confirmation: %d %s", r.Status, r.Body)
	}
	if n := linkCount(t, e); n != 0 {
		t.Fatal("exact confirmation did not destroy the link")
	}
}
