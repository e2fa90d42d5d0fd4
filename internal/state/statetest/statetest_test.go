package statetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/state"
)

// Databases made side by side are migrated copies, each wholly its own
// owner's: nothing in them belongs to the template's role, the owner can
// write, and state.Open has nothing left to apply.
func TestCreateDatabase(t *testing.T) {
	ctx := context.Background()
	c, err := pgtest.Start(ctx, pgtest.Options{ForTests: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	dbs := make([]*pgtest.Database, 4)
	var wg sync.WaitGroup
	for i := range dbs {
		wg.Go(func() {
			var err error
			if dbs[i], err = CreateDatabase(ctx, c, fmt.Sprintf("state_%d", i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, d := range dbs {
		if n := pgtest.MustQueryInt(t, d.URL, "SELECT count(*) FROM pglinks.schema_migrations"); n < 9 {
			t.Fatalf("%s: %d migrations recorded", d.Name, n)
		}
		if n := pgtest.MustQueryInt(t, d.URL, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = 'pglinks' AND pg_get_userbyid(c.relowner) <> current_user`); n != 0 {
			t.Fatalf("%s: %d relations in pglinks not the owner's", d.Name, n)
		}
		if owner := pgtest.MustQueryString(t, d.URL, "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'pglinks'"); owner != d.Owner {
			t.Fatalf("%s: schema pglinks belongs to %s", d.Name, owner)
		}
		before := pgtest.MustQueryInt(t, d.URL, "SELECT count(*) FROM pglinks.schema_migrations")
		db, err := state.Open(ctx, d.URL)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		if after := pgtest.MustQueryInt(t, d.URL, "SELECT count(*) FROM pglinks.schema_migrations"); after != before {
			t.Fatalf("%s: state.Open applied %d more migrations", d.Name, after-before)
		}
		pgtest.MustExec(t, d.URL, "INSERT INTO pglinks.schema_migrations (version, name) VALUES (9999, 'written by the owner')")
	}
	if conn, err := pgx.Connect(ctx, c.SuperURL(templateName)); err == nil {
		conn.Close(ctx)
		t.Fatal("the template takes connections")
	}
}
