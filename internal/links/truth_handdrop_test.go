package links

import (
	"context"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/errs"
)

// A DBA drops a link's foreign server by hand (DROP SERVER ... CASCADE
// takes the foreign tables and the mapping; the schema stays, empty).
// pglinks made that link and still has its record: the refusal to destroy
// must not tell the admin pglinks did not create it.
func TestLinkWhoseServerWasDroppedByHandIsNotCalledForeign(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	createSales(t, f)
	execAs(t, f.local.URL, "DROP SERVER sales CASCADE")

	_, err := f.svc.PlanDestroy(ctx, "DATABASE_URL", "sales")
	if err == nil {
		t.Fatal("destroy planned for a link without a server")
	}
	if strings.Contains(err.Error(), "was not created by pglinks") || !strings.Contains(errs.MessageOf(err), "dropped outside pglinks") {
		t.Errorf("destroy plan says: %v (pglinks created it; its server was dropped by hand and schema sales is left)", err)
	}
}
