package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestQuick runs the harness at its quick size: clusters, the real server,
// every scenario, with the answers checked (timings are not).
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two PostgreSQL clusters and the server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out strings.Builder
	start := time.Now()
	rep, err := Run(ctx, Config{Quick: true, Progress: testWriter{t}, Command: "go test ./internal/bench -run TestQuick"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("quick run in %s\n%s", time.Since(start).Round(time.Millisecond), out.String())
	if len(rep.Rows) == 0 {
		t.Fatal("no rows measured")
	}
	for _, want := range []string{"`GET /` p50, c=1", "shown unreachable", "link page", "create link", "rows fetched over the network", "seed's join", "Redis commands per joined row"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table has no %q row", want)
		}
	}
}

func TestParseCards(t *testing.T) {
	page := []byte(`<section class="card" id="db-A_URL" data-testid="db-A_URL" aria-labelledby="x"><h2><span>a</span>
		<span class="badge badge-red" data-testid="status">unreachable</span></h2>
		<p class="mt-1 text-xs text-red-800" data-testid="retry">Not answering</p></section>
		<section data-testid="db-B_URL" class="card"><span data-testid="status" class="badge badge-green">
		links supported </span></section>`)
	cards := parseCards(page)
	if len(cards) != 2 {
		t.Fatalf("got %d cards, want 2: %+v", len(cards), cards)
	}
	if c := cards[0]; c.ConfigVar != "A_URL" || !c.Unreachable || !c.Retry {
		t.Errorf("first card %+v", c)
	}
	if c := cards[1]; c.ConfigVar != "B_URL" || c.Unreachable || c.Retry || c.Status != "links supported" {
		t.Errorf("second card %+v", c)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestTableCount(t *testing.T) {
	for page, want := range map[string]int{
		`<dt class="x">Foreign tables</dt> <dd class="y">1,000</dd>`:             1000,
		`<dt>Foreign tables</dt><dd class="y">10000 (counted 07:41:02 UTC)</dd>`: 10000,
		`<dt>Foreign tables</dt><dd>none</dd>`:                                   -1,
	} {
		if got := tableCount([]byte(page)); got != want {
			t.Errorf("tableCount(%q) = %d, want %d", page, got, want)
		}
	}
}
