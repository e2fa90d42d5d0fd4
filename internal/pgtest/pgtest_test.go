package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestClusterOwnerDatabase(t *testing.T) {
	ctx := context.Background()
	c, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })

	db, err := c.CreateDatabase(ctx, "shop", DBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var super, usage bool
	if err := conn.QueryRow(ctx, `SELECT rolsuper, has_foreign_data_wrapper_privilege('postgres_fdw', 'USAGE')
		FROM pg_roles WHERE rolname = current_user`).Scan(&super, &usage); err != nil {
		t.Fatal(err)
	}
	if super || !usage {
		t.Fatalf("owner role: superuser=%v fdw usage=%v, want false/true", super, usage)
	}

	if _, err := pgx.Connect(ctx, c.URL(db.Owner, "wrong", db.Name)); err == nil {
		t.Fatal("wrong password accepted: the cluster must ask for passwords over TCP")
	}
}

func TestHaltResume(t *testing.T) {
	ctx := context.Background()
	c, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if err := c.Exec(ctx, "postgres", "CREATE TABLE kept (id int)"); err != nil {
		t.Fatal(err)
	}
	c.Halt()
	if err := c.Exec(ctx, "postgres", "SELECT 1"); err == nil {
		t.Fatal("a halted cluster still answers")
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Resume(ctx, port); err != nil {
		t.Fatal(err)
	}
	if c.Port != port {
		t.Fatalf("port = %d, want %d", c.Port, port)
	}
	if err := c.Exec(ctx, "postgres", "SELECT * FROM kept"); err != nil {
		t.Fatalf("data lost across Halt/Resume: %v", err)
	}
}
