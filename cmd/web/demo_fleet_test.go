package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/pgtest"
)

// checkDemoFleetPages signs in to a running demo with the printed password
// and checks the inventory at fleet scale as a person sees it: more than a
// page of databases, a pager, the retired database's card answering from
// its remembered failure without delaying the page, and a search that
// finds a store. It also runs the printed store psql line and checks that
// the store links are in the audit trail.
func checkDemoFleetPages(t *testing.T, out, stateURL string) {
	t.Helper()
	base := regexp.MustCompile(`demo is running: (http://\S+)`).FindStringSubmatch(out)
	password := regexp.MustCompile(`Password +(\S+)`).FindStringSubmatch(out)
	if base == nil || password == nil {
		t.Fatalf("no URL or password printed:\n%s", out)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	get := func(path string) (string, time.Duration) {
		t.Helper()
		start := time.Now()
		resp, err := client.Get(base[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, b)
		}
		return string(b), time.Since(start)
	}
	login, _ := get("/login")
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(login)
	if csrf == nil {
		t.Fatal("no CSRF token on the sign-in page")
	}
	resp, err := client.PostForm(base[1]+"/login", url.Values{"email": {demoAdmin}, "password": {password[1]}, "csrf": {csrf[1]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	cards := regexp.MustCompile(`<section class="card scroll-mt-4" id="db-([A-Z0-9_]+)"`)
	countCards := func(page string) []string {
		var vars []string
		for _, m := range cards.FindAllStringSubmatch(page, -1) {
			vars = append(vars, m[1])
		}
		return vars
	}
	// README's claims about the fleet, held to the demo: the page the
	// retired database's card is on, how many cards page 2 holds, what
	// the search it suggests finds.
	claims := readmeFleetClaims(t)
	page1, took := get("/")
	if took > 3*time.Second {
		t.Errorf("the inventory took %v to answer", took)
	}
	if retiredOn, _ := get("/?page=" + claims.retiredPage); !strings.Contains(retiredOn, `data-testid="db-HEROKU_POSTGRESQL_RETIRED_URL"`) {
		t.Errorf("README says the retired database's card is on page %s; it is not", claims.retiredPage)
	}
	if got := countCards(page1); len(got) != 20 {
		t.Errorf("page 1 shows %d cards, want 20: %v", len(got), got)
	}
	for _, want := range []string{`data-testid="fleet-search"`, "25 databases.", "Page 1 of 2", `data-testid="db-HEROKU_POSTGRESQL_RETIRED_URL"`, "postgresql-decommissioned-40417"} {
		if !strings.Contains(page1, want) {
			t.Errorf("page 1 lacks %q", want)
		}
	}
	retired := page1[strings.Index(page1, `id="db-HEROKU_POSTGRESQL_RETIRED_URL"`):]
	retired = retired[:strings.Index(retired, "</section>")]
	if !strings.Contains(retired, ">unreachable<") || !regexp.MustCompile(`Connection refused since [^;<]+; pglinks (asks again in \d+ s|is asking again now)\.`).MatchString(retired) {
		t.Errorf("retired database's card:\n%s", retired)
	}
	// A second view is served from the remembered failure at once.
	if _, took := get("/"); took > 2*time.Second {
		t.Errorf("the inventory took %v to answer again", took)
	}
	page2, _ := get("/?page=2")
	if got := countCards(page2); strconv.Itoa(len(got)) != claims.page2Cards || len(got) != 5 || !strings.Contains(page2, "Page 2 of 2") || !strings.Contains(page2, `id="db-HEROKU_POSTGRESQL_STORE_WARSAW_URL"`) || !strings.Contains(page2, `id="db-REDIS_URL"`) {
		t.Errorf("page 2 shows %v; README says %s cards", got, claims.page2Cards)
	}
	found, _ := get("/?q=" + claims.search)
	if got := countCards(found); strconv.Itoa(len(got)) != claims.searchCards || len(got) != 2 || got[0] != "HEROKU_POSTGRESQL_BLUE_URL" || got[1] != "HEROKU_POSTGRESQL_STORE_LISBON_URL" || !strings.Contains(found, "2 of "+claims.total+" databases match") {
		t.Errorf("search for %s shows %v; README says %s cards", claims.search, got, claims.searchCards)
	}

	storeLine := regexp.MustCompile(`(?m)^  (PGPASSFILE=\S+ psql .* store_lisbon_owner store_lisbon)$`).FindStringSubmatch(out)
	if storeLine == nil {
		t.Fatalf("no psql line for a store:\n%s", out)
	}
	if b, err := exec.Command("sh", "-c", storeLine[1]+" -Atc 'SELECT count(*) FROM sales'").CombinedOutput(); err != nil || strings.TrimSpace(string(b)) != "8" {
		t.Errorf("printed store psql line: %v %s", err, b)
	}
	if n := pgtest.MustQueryInt(t, stateURL, `SELECT count(*) FROM pglinks.audit WHERE action = 'link_create' AND actor = 'demo' AND target IN ('HEROKU_POSTGRESQL_BLUE_URL/store_lisbon', 'HEROKU_POSTGRESQL_BLUE_URL/store_porto')`); n != 2 {
		t.Errorf("audit rows for the store links: %d, want 2", n)
	}
}

// fleetClaims are what README's "Fleet scale" paragraph says of the demo.
type fleetClaims struct {
	total, page2Cards, search, searchCards, retiredPage string
}

func readmeFleetClaims(t *testing.T) fleetClaims {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(b)), " ")
	m := regexp.MustCompile(`Fleet scale: (\d+) databases, .*?\(page 2 holds (\d+) cards: [^)]*\)\. Search "(\w+)" \((\d+) cards: .*? retired database's card on page (\d+):`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal("README's Fleet scale paragraph no longer says on which page the retired database is, what page 2 and the search show")
	}
	return fleetClaims{total: m[1], page2Cards: m[2], search: m[3], searchCards: m[4], retiredPage: m[5]}
}
