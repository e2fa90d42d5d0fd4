package app

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/pgtest"
)

// A slot whose subscriber database pglinks cannot read is not known to be
// orphaned: the replication page says so ("some fleet databases could not
// be read, so a subscription there may still use it"). /metrics labels the
// same slot orphaned="true", flatly, which is what an alert on orphaned
// slots (and the person paged, who then drops it) acts on; here the
// subscription that uses it is right there in the unreadable database.
func TestMetricsDoNotCallASlotOrphanedWhenItsSubscriberCannotBeRead(t *testing.T) {
	t.Parallel()
	const token = "s3cret-metrics-token"
	ctx := context.Background()
	c, err := pgtest.Start(ctx, pgtest.Options{ForTests: true, Logical: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	execSQL(t, c.SuperURL("postgres"), "CREATE DATABASE pub")
	execSQL(t, c.SuperURL("postgres"), "CREATE DATABASE sub")
	pubURL, subURL := c.SuperURL("pub"), c.SuperURL("sub")
	execSQL(t, pubURL, "CREATE TABLE orders (id int PRIMARY KEY); CREATE PUBLICATION p FOR TABLE orders")
	execSQL(t, pubURL, "SELECT pg_create_logical_replication_slot('orders_sub', 'pgoutput')")
	// The subscription that uses the slot, disabled for now (connect =
	// false: it is not started, and the slot stays inactive).
	execSQL(t, subURL, "CREATE TABLE orders (id int PRIMARY KEY)")
	execSQL(t, subURL, "CREATE SUBSCRIPTION orders_sub CONNECTION '"+strings.ReplaceAll(libpqOf(t, pubURL), "'", "''")+"' PUBLICATION p WITH (connect = false, slot_name = 'orders_sub')")
	// The subscriber's config var holds a password that no longer works.
	u, _ := url.Parse(subURL)
	u.User = url.UserPassword(u.User.Username(), "rotated-away")
	e := newEnv(t, withFleet(t, token, "HEROKU_POSTGRESQL_BLUE_URL="+pubURL, "DATABASE_URL="+u.String()))
	o := e.app.cfg.Replication.Overview(ctx)
	if !o.Incomplete {
		t.Fatal("the subscriber was read after all")
	}
	r := e.client(t).do("GET", "/metrics", nil, "Authorization", "Bearer "+token)
	if strings.Contains(r.Body, `pglinks_replication_slot_active{database="HEROKU_POSTGRESQL_BLUE_URL",orphaned="true",slot="orders_sub"`) {
		var line string
		for _, l := range strings.Split(r.Body, "\n") {
			if strings.Contains(l, `slot="orders_sub"`) || strings.Contains(l, "pglinks_database_up") {
				line += l + "\n"
			}
		}
		t.Fatalf("slot orders_sub is labelled orphaned while DATABASE_URL, where subscription orders_sub uses it, could not be read:\n%s", line)
	}
}

// libpqOf is a URL in libpq's keyword form, for a CONNECTION clause.
func libpqOf(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := u.User.Password()
	return "host=" + u.Hostname() + " port=" + u.Port() + " dbname=" + strings.TrimPrefix(u.Path, "/") + " user=" + u.User.Username() + " password=" + p
}
