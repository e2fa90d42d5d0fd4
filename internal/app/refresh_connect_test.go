package app

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/links"
)

// Through the pages: a link of every table of a schema that then became a
// Heroku Connect schema. The refresh confirmation imports the new mapped
// table only and says why Connect's system tables stay out; the refresh
// leaves them out of the link.
func TestRefreshPageLeavesConnectSystemTablesOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	execSQL(t, e.remote.URL, `CREATE SCHEMA sf;
CREATE TABLE sf.account (id serial PRIMARY KEY, sfid varchar(18), _hc_lastop varchar(32), _hc_err text, name text)`)
	if _, err := e.app.cfg.Links.CreateLink(context.Background(), links.CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "sf", RemoteSchema: "sf"}); err != nil {
		t.Fatal(err)
	}
	execSQL(t, e.remote.URL, `
CREATE TABLE sf._hcmeta (id serial PRIMARY KEY, hcver integer, org_id varchar(50));
CREATE TABLE sf._trigger_log (id bigserial PRIMARY KEY, state varchar(8), action varchar(7), table_name varchar(128), record_id integer, sfid varchar(18), sf_message text);
CREATE TABLE sf._trigger_log_archive (LIKE sf._trigger_log);
CREATE TABLE sf.contact (id serial PRIMARY KEY, sfid varchar(18), _hc_lastop varchar(32), _hc_err text)`)
	c := e.client(t)
	c.signIn(adminEmail)
	page := c.get("/databases/DATABASE_URL/links/sf/refresh")
	if page.Status != http.StatusOK || !strings.Contains(page.Body, `data-testid="drift-left-out"`) || !strings.Contains(page.Body, "_hcmeta is a Heroku Connect system table") ||
		!strings.Contains(page.Body, `LIMIT TO (&#34;contact&#34;)`) || strings.Contains(page.Body, `&#34;_hcmeta&#34;`) {
		t.Fatalf("refresh page: %d\n%s", page.Status, page.Body)
	}
	fp := regexp.MustCompile(`name="fingerprint" value="([0-9a-f]+)"`).FindStringSubmatch(page.Body)
	if fp == nil {
		t.Fatal("no fingerprint on the refresh page")
	}
	if r := c.post("/databases/DATABASE_URL/links/sf/refresh", url.Values{"fingerprint": {fp[1]}}); r.Status != http.StatusSeeOther {
		t.Fatalf("refresh: %d %s", r.Status, r.Body)
	}
	if n := queryInt(t, e.local.URL, `SELECT count(*) FROM information_schema.foreign_tables WHERE foreign_table_schema = 'sf'`); n != 2 {
		t.Errorf("%d foreign tables after the refresh, want account and contact", n)
	}
	if p := c.get("/databases/DATABASE_URL/links/sf"); !strings.Contains(p.Body, `data-testid="in-step"`) || !strings.Contains(p.Body, `data-testid="drift-left-out"`) {
		t.Errorf("link page after the refresh: %s", p.Body)
	}
}
