package app

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The inventory answers gzip to a client that accepts it, and the same
// page as without: the cards compressed, the CSRF token and the search
// never. Each occurrence of the token and of the query is in a stored
// block, so it is in the compressed answer byte for byte; a compressed
// one would not be.
func TestInventoryGzipLeavesTokenAndQueryUncompressed(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.signIn(adminEmail)
	const query = "BLUE"
	// The search matches one card, and is shown (reflected) with it.
	for _, path := range []string{"/", "/?q=" + url.QueryEscape(query)} {
		plain := c.do("GET", path, nil, "Accept-Encoding", "identity")
		zipped := c.do("GET", path, nil, "Accept-Encoding", "gzip, deflate")
		if plain.Status != http.StatusOK || zipped.Status != http.StatusOK {
			t.Fatalf("%s: %d / %d", path, plain.Status, zipped.Status)
		}
		if plain.Header.Get("Content-Encoding") != "" || zipped.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(zipped.Header.Get("Vary"), "Accept-Encoding") {
			t.Fatalf("%s: headers %v / %v", path, plain.Header, zipped.Header)
		}
		zr, err := gzip.NewReader(strings.NewReader(zipped.Body))
		if err != nil {
			t.Fatal(err)
		}
		page, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: not a valid gzip stream: %v", path, err)
		}
		// The test client drops <wbr> from the bodies it returns (names
		// break there); the same for this one.
		page = bytes.ReplaceAll(page, []byte("<wbr>"), nil)
		if string(page) != plain.Body {
			t.Fatalf("%s: gzip answer differs from the plain one:\n%s\n----\n%s", path, page, plain.Body)
		}
		if len(zipped.Body) >= len(plain.Body) {
			t.Errorf("%s: gzip %d bytes, plain %d", path, len(zipped.Body), len(plain.Body))
		}
		tok := []byte(c.csrf)
		n := bytes.Count(page, tok)
		if n < 2 { // the logout form and each card's Refresh
			t.Fatalf("%s: the token is in the page %d times", path, n)
		}
		if got := bytes.Count([]byte(zipped.Body), tok); got != n {
			t.Fatalf("%s: the token is %d times in the page and %d times verbatim in its gzip: some were compressed", path, n, got)
		}
		// The query as the search box reflects it.
		reflected := []byte(`value="` + query + `"`)
		if q := bytes.Count(page, reflected); q != bytes.Count([]byte(zipped.Body), reflected) || path != "/" && q != 1 {
			t.Fatalf("%s: the query is %d times in the page, %d verbatim in its gzip", path, q, bytes.Count([]byte(zipped.Body), reflected))
		}
	}
	// A client that refuses gzip gets none.
	if r := c.do("GET", "/", nil, "Accept-Encoding", "gzip;q=0"); r.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip sent with q=0")
	}
}
