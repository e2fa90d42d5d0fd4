package state

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/pgtest"
)

// cluster is shared by every test in the package; each test gets its own
// database.
var cluster *pgtest.Cluster

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	c, err := pgtest.Start(ctx, pgtest.Options{ForTests: true})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cluster = c
	code := m.Run()
	if err := c.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// mustCreateDatabase makes a fresh, empty state database.
func mustCreateDatabase(tb testing.TB) *pgtest.Database {
	tb.Helper()
	db, err := cluster.CreateDatabase(context.Background(), "state_"+pgtest.RandomToken(6), pgtest.DBOptions{NoFDW: true})
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

// mustOpen opens (and so migrates) a fresh state database.
func mustOpen(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(context.Background(), mustCreateDatabase(tb).URL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(db.Close)
	return db
}
