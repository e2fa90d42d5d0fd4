package auth

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/state"
	"github.com/pglinks/pglinks/internal/state/statetest"
)

// cluster is shared by every test in the package; each test gets its own
// database.
var cluster *pgtest.Cluster

// productionParams are the hash parameters the server uses, kept before
// TestMain makes hashes cheap for the tests that only need some hash.
var (
	productionParams = defaultParams
	productionFloor  = minHashMemory
)

// useProductionHashes makes this test's hashes, and the least memory a
// hash may name, the server's, for the tests of the parameters and of the
// hash's cost. Only tests that do not call t.Parallel may use it: they run
// before the parallel ones start.
func useProductionHashes(t *testing.T) {
	saved, savedFloor := defaultParams, minHashMemory
	defaultParams, minHashMemory = productionParams, productionFloor
	t.Cleanup(func() { defaultParams, minHashMemory = saved, savedFloor })
}

func TestMain(m *testing.M) {
	UseCheapHashesInTests()
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
	db, err := statetest.CreateDatabase(context.Background(), cluster, "auth_"+pgtest.RandomToken(6))
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

// mustOpen returns a migrated Store over a fresh database, with a clock the
// test controls.
func mustOpen(tb testing.TB) (*Store, *fakeClock) {
	tb.Helper()
	db, err := state.Open(context.Background(), mustCreateDatabase(tb).URL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(db.Close)
	s := NewStore(db)
	clk := newFakeClock()
	s.now = clk.Now
	return s, clk
}

// mustAddUser adds a user with a valid password and returns it.
func mustAddUser(tb testing.TB, s *Store, email string, role Role) *User {
	tb.Helper()
	u, err := s.AddUser(context.Background(), email, role, testPassword)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

const testPassword = "correct horse battery"

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// assertKind fails unless err is a domain error of kind (and, if field is
// not empty, on that field).
func assertKind(tb testing.TB, err error, kind errs.Kind, field string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want %s", kind)
	}
	if got := errs.KindOf(err); got != kind {
		tb.Fatalf("got %s error %v, want %s", got, err, kind)
	}
	if field != "" && errs.FieldOf(err) != field {
		tb.Fatalf("error %q is on field %q, want %q", err, errs.FieldOf(err), field)
	}
}

// sessionFor starts a session for userID without checking a password, for
// tests about what happens once someone is signed in.
func (s *Store) sessionFor(ctx context.Context, userID int64) (*Session, error) {
	hash, err := s.passwordHash(ctx, userID)
	if err != nil {
		return nil, err
	}
	return s.createSession(ctx, userID, hash)
}
