package links

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/pglinks/pglinks/internal/errs"
)

// A local enum of the same name with fewer labels: rows with the missing
// label would fail every query through the link. Refused with the labels
// named, or, when copying is allowed, the labels are added.
func TestCreateEnumLabelMismatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("Refused", func(t *testing.T) {
		f := newFixture(t)
		execAs(t, f.remote.URL, "ALTER TYPE order_status ADD VALUE 'refunded'")
		execAs(t, f.local.URL, "CREATE TYPE public.order_status AS ENUM ('pending', 'paid')")
		_, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "mism"})
		msg := errs.MessageOf(err)
		if !errs.Is(err, errs.Invalid) || !strings.Contains(msg, "public.order_status") || !strings.Contains(msg, "'shipped', 'refunded'") {
			t.Fatalf("err = %v", err)
		}
		assertNothingLeft(t, f.local.URL, "mism")
	})
	t.Run("LabelsAdded", func(t *testing.T) {
		f := newFixture(t)
		execAs(t, f.remote.URL, "ALTER TYPE order_status ADD VALUE 'refunded'")
		execAs(t, f.remote.URL, "INSERT INTO orders (customer_id, total, status) VALUES (1, 3, 'refunded')")
		execAs(t, f.local.URL, "CREATE TYPE public.order_status AS ENUM ('pending', 'paid')")
		res, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "mism", CopyEnums: true})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(res.ExtendedTypes, ",") != "public.order_status" || len(res.CopiedTypes) != 0 {
			t.Fatalf("extended %v, copied %v", res.ExtendedTypes, res.CopiedTypes)
		}
		if n := queryInt(t, f.local.URL, "SELECT count(*) FROM mism.orders WHERE status = 'refunded'"); n != 1 {
			t.Fatalf("query through the link saw %d refunded orders", n)
		}
	})
	t.Run("ErrKindMismatch", func(t *testing.T) {
		f := newFixture(t)
		execAs(t, f.local.URL, "CREATE DOMAIN public.order_status AS text")
		_, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "mism", CopyEnums: true})
		if !errs.Is(err, errs.Invalid) || !strings.Contains(errs.MessageOf(err), "a enum on the remote, but a domain") {
			t.Fatalf("err = %v", err)
		}
		assertNothingLeft(t, f.local.URL, "mism")
	})
}

// Two creates at once that both copy the same enum: both succeed (the
// second finds the type the first made), or one says something a person
// understands; never a raw catalog error.
func TestConcurrentEnumCopies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	var wg sync.WaitGroup
	errsOut := make([]error, 2)
	for i, name := range []string{"one", "two"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errsOut[i] = f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: name, CopyEnums: true})
		}()
	}
	wg.Wait()
	for i, err := range errsOut {
		if err != nil {
			t.Errorf("create %d: %v", i, err)
		}
	}
	if n := queryInt(t, f.local.URL, "SELECT count(*) FROM pg_type WHERE typname = 'order_status'"); n != 1 {
		t.Fatalf("%d order_status types", n)
	}
}
