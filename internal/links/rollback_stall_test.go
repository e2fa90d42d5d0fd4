package links

import (
	"context"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
)

// A database that stops answering between a read's last statement and its
// rollback: the drift read, the query check's remote estimates and the
// health probe end their transactions within the Rollback deadline instead
// of waiting on the connection for as long as the network lets them.
func TestRollbackOfSilentDatabaseBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	local, err := clusterA.NewProxy()
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	remote, err := clusterB.NewProxy()
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	svc := newService(t, []string{
		"DATABASE_URL=" + local.URL(f.local.URL),
		"HEROKU_POSTGRESQL_BLUE_URL=" + remote.URL(f.remote.URL),
	})
	svc.Fleet.Deadlines.Rollback = time.Second
	ctx := context.Background()
	if _, err := svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "sales", CopyEnums: true}); err != nil {
		t.Fatal(err)
	}
	// pgx ends a transaction with "rollback"; postgres_fdw's remote
	// transactions say ABORT TRANSACTION, so links keep working.
	local.Stall("pglinks:probe", "rollback")
	remote.Stall("pglinks", "rollback")
	for _, d := range svc.Fleet.Databases {
		svc.Fleet.Discard(d, fleet.ClassUser) // new connections, which stall
	}
	for name, op := range map[string]func(ctx context.Context) error{
		"LinkDrift": func(ctx context.Context) error { _, err := svc.LinkDrift(ctx, "DATABASE_URL", "sales"); return err },
		"CheckQuery": func(ctx context.Context) error {
			_, err := svc.CheckQuery(ctx, QueryCheckRequest{LocalVar: "DATABASE_URL", Name: "sales", SQL: "SELECT * FROM sales.customers WHERE id = 1", Actor: "a@x"})
			return err
		},
		"ProbeLink": func(ctx context.Context) error { _, err := svc.ProbeLink(ctx, "DATABASE_URL", "sales"); return err },
	} {
		stalled := local.Stalled() + remote.Stalled()
		done := make(chan error, 1)
		go func() { done <- op(ctx) }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: %v (its reads were answered; only the rollback stalled)", name, err)
			}
		case <-time.After(svc.Fleet.Deadlines.Rollback + 20*time.Second):
			t.Errorf("%s has not returned %v after its rollback stalled", name, svc.Fleet.Deadlines.Rollback+20*time.Second)
		}
		if local.Stalled()+remote.Stalled() == stalled {
			t.Errorf("%s: no rollback stalled: the test proves nothing", name)
		}
	}
}
