package links

import (
	"context"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/errs"
)

// A DBA hands the link's schema to another role. pglinks' role may no
// longer drop it: the destroy confirmation must say so (who owns it now,
// what would let pglinks destroy it), not fail as an internal error with a
// request id, and destroy must refuse the same way.
func TestDestroyOfALinkWhoseSchemaChangedOwnerSaysWhy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	createSales(t, f)
	role := f.local.Name + "_dba"
	execAs(t, clusterA.SuperURL(f.local.Name), "CREATE ROLE "+role+"; ALTER SCHEMA sales OWNER TO "+role)
	t.Cleanup(func() {
		// Roles are the cluster's: give the schema back and drop it.
		execAs(t, clusterA.SuperURL(f.local.Name), "REASSIGN OWNED BY "+role+" TO "+f.local.Owner+"; DROP ROLE "+role)
	})

	_, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", "sales")
	if err == nil {
		t.Fatal("planned a destroy pglinks' role cannot run")
	}
	if !errs.Is(err, errs.Forbidden) || !strings.Contains(errs.MessageOf(err), role) {
		t.Errorf("destroy confirmation: kind %s, message %q (err %v); want the refusal naming the schema's owner %s", errs.KindOf(err), errs.MessageOf(err), err, role)
	}
	_, err = f.svc.DestroyLink(ctx, DestroyRequest{LocalVar: "DATABASE_URL", Name: "sales", Confirm: "sales"})
	if !errs.Is(err, errs.Forbidden) || !strings.Contains(errs.MessageOf(err), role) {
		t.Errorf("destroy: kind %s, message %q; want the same refusal", errs.KindOf(err), errs.MessageOf(err))
	}
}
