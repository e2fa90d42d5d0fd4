package app

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A signed-in user who follows a link to /login?next=... is sent on at
// once: wherever next says, the browser must stay on this site. An encoded
// slash next to a character that must be escaped in a path made the
// re-encoded path begin with "//" (or "///"), which a browser reads as
// another host.
func TestSignedInLoginNextStaysOnSite(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.signIn(viewerEmail)
	base, err := url.Parse(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, next := range []string{"/%2Fevil.example/|", "/%2F/evil.example/|", "/%2Fevil.example/ x", "/%2F%2Fevil.example{"} {
		r := c.get("/login?next=" + url.QueryEscape(next))
		if r.Status != http.StatusSeeOther {
			t.Fatalf("next=%q: %d, want a redirect", next, r.Status)
		}
		to, err := base.Parse(r.Location)
		if err != nil {
			t.Fatalf("next=%q: Location %q: %v", next, r.Location, err)
		}
		// A browser skips any run of slashes (and backslashes) after the
		// scheme of an http(s) URL: "///evil" is evil's root too.
		if to.Host != base.Host || strings.HasPrefix(r.Location, "//") || strings.HasPrefix(r.Location, `/\`) {
			t.Errorf("next=%q: redirected to %q, off the site", next, r.Location)
		}
	}
}

// The same values, through safeNext itself: its result is written as a
// Location header as it is.
func TestSafeNextEncodedSlashes(t *testing.T) {
	for _, in := range []string{"/%2Fevil.example/|", "/%2F/evil.example/|", "/%2Fevil.example/ x", "/%2F%2Fevil.example{", "/%2Fevil.example\"", "/%2Fevil.example<"} {
		got := safeNext(in)
		if strings.HasPrefix(got, "//") || strings.HasPrefix(got, `/\`) {
			t.Errorf("safeNext(%q) = %q, which a browser reads as another host", in, got)
		}
	}
}
