package app

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
)

// When pglinks cannot read its own records of links (the state database's
// table is locked by a migration or a VACUUM FULL, or it does not answer),
// a database's answer must not list "no links": a script, or `pglinks
// links`, reading "links": [] beside a reachable database concludes none
// exists, while the link is there and working.
func TestRefreshWithoutRecordsDoesNotAnswerNoLinks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	createSales(t, e)
	a := e.api(t, adminEmail, "cli")

	conn, err := e.state.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "LOCK TABLE pglinks.links IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	r := a.do("POST", "/api/v1/databases/DATABASE_URL/refresh", nil)
	tx.Rollback(ctx)
	var got struct {
		Reachable bool            `json:"reachable"`
		Error     string          `json:"error"`
		Links     json.RawMessage `json:"links"`
	}
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatal(err)
	}
	if r.Status == http.StatusOK && got.Reachable && string(got.Links) != "null" {
		t.Fatalf("refresh answered a reachable database with links %s (error %q) while link sales exists: %d server(s)\n%s",
			got.Links, got.Error, linkCount(t, e), r.Body)
	}
	if got.Error == "" {
		t.Fatalf("no error says why the links are not known:\n%s", r.Body)
	}
}
