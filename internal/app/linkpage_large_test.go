package app

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/links"
)

// A large link's page through the router: the first view says the
// comparison runs in the background and offers to compare now; comparing
// now shows the result for this view; the next views show it as the last
// comparison, and the remembered table count says when it was counted.
func TestLargeLinkPageViews(t *testing.T) {
	t.Parallel()
	be := newBenchLinkEnv(t, links.LargeLinkTables+1)
	const path = "/databases/DATABASE_URL/links/bench"
	status, body := be.get(t, path)
	if status != http.StatusOK || !strings.Contains(body, `data-testid="drift-pending"`) || !strings.Contains(body, `href="/databases/DATABASE_URL/links/bench?drift=now#drift"`) ||
		!strings.Contains(body, ">501<") || strings.Contains(body, "(counted ") {
		t.Fatalf("first view: %d %s", status, body)
	}
	status, body = be.get(t, path+"?drift=now")
	if status != http.StatusOK || !strings.Contains(body, `data-testid="in-step"`) || strings.Contains(body, `data-testid="drift-remembered"`) || strings.Contains(body, `data-testid="drift-pending"`) {
		t.Fatalf("compared now: %d %s", status, body)
	}
	status, body = be.get(t, path)
	if status != http.StatusOK || !strings.Contains(body, `data-testid="in-step"`) || !strings.Contains(body, `data-testid="drift-remembered"`) || !strings.Contains(body, "501 (counted ") {
		t.Fatalf("later view: %d %s", status, body)
	}
}
