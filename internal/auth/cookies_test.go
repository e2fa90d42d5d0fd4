package auth

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Keys in each accepted form.
var (
	keyA = strings.Repeat("a1", 32)                                           // hex
	keyB = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("b", 32))) // base64
	keyC = "a raw passphrase of at least 32 characters"                       // raw text
)

func mustCookies(tb testing.TB, keys []string, secure bool) *Cookies {
	tb.Helper()
	c, err := NewCookies(keys, secure)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// next builds the browser's next request from the cookies a response set.
func next(tb testing.TB, rec *httptest.ResponseRecorder, prev *http.Request) *http.Request {
	tb.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	jar := map[string]*http.Cookie{}
	if prev != nil {
		for _, c := range prev.Cookies() {
			jar[c.Name] = c
		}
	}
	for _, c := range rec.Result().Cookies() { // the last Set-Cookie wins, as in a browser
		if c.MaxAge < 0 {
			delete(jar, c.Name)
		} else {
			jar[c.Name] = c
		}
	}
	for _, c := range jar {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

// fresh copies r's cookies into a new request. gorilla caches the decoded
// session in the request's context, so each reader needs its own request.
func fresh(r *http.Request) *http.Request {
	r2 := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range r.Cookies() {
		r2.AddCookie(c)
	}
	return r2
}

// withSessionID returns a request carrying a cookie for id written by c.
func withSessionID(tb testing.TB, c *Cookies, id string) *http.Request {
	tb.Helper()
	rec := httptest.NewRecorder()
	if err := c.SetSessionID(rec, httptest.NewRequest(http.MethodGet, "/", nil), id); err != nil {
		tb.Fatal(err)
	}
	return next(tb, rec, nil)
}

func TestNewCookies(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		for _, keys := range [][]string{{keyA}, {keyB}, {keyC}, {" " + keyA + " ", "", keyB}, {GenerateSessionKey()}} {
			if _, err := NewCookies(keys, false); err != nil {
				t.Errorf("NewCookies(%q): %v", keys, err)
			}
		}
	})

	t.Run("ErrNoKeys", func(t *testing.T) {
		for _, keys := range [][]string{nil, {}, {"", "  "}} {
			if _, err := NewCookies(keys, false); err == nil {
				t.Errorf("NewCookies(%q) accepted", keys)
			}
		}
	})

	t.Run("ErrShortKey", func(t *testing.T) {
		for _, k := range []string{
			strings.Repeat("ab", 31),                            // 31 bytes of hex
			base64.StdEncoding.EncodeToString(make([]byte, 16)), // 16 bytes of base64
			"short passphrase",                                  // raw, under 32
			strings.Repeat("0", 32),                             // hex: 16 bytes, not 32 raw characters
		} {
			_, err := NewCookies([]string{keyA, k}, false)
			if err == nil || !strings.Contains(err.Error(), "too short") || !strings.Contains(err.Error(), "key 2") {
				t.Errorf("key %q: %v", k, err)
			}
		}
	})

	t.Run("GenerateSessionKey", func(t *testing.T) {
		k := GenerateSessionKey()
		if len(k) != 64 || strings.Trim(k, "0123456789abcdef") != "" || k == GenerateSessionKey() {
			t.Fatalf("key %q", k)
		}
	})
}

func TestCookies(t *testing.T) {
	t.Parallel()
	id := newToken()

	t.Run("RoundTrip", func(t *testing.T) {
		c := mustCookies(t, []string{keyA}, false)
		r := withSessionID(t, c, id)
		if got := c.SessionID(r); got != id {
			t.Fatalf("SessionID = %q, want %q", got, id)
		}
		if raw := r.Header.Get("Cookie"); strings.Contains(raw, id) {
			t.Fatal("session id readable in the cookie: it must be encrypted")
		}
	})

	t.Run("NoCookie", func(t *testing.T) {
		c := mustCookies(t, []string{keyA}, false)
		if got := c.SessionID(httptest.NewRequest(http.MethodGet, "/", nil)); got != "" {
			t.Fatalf("SessionID = %q", got)
		}
	})

	t.Run("ErrTampered", func(t *testing.T) {
		c := mustCookies(t, []string{keyA}, false)
		good := withSessionID(t, c, id).Cookies()[0].Value
		for _, v := range []string{
			good[:len(good)-2] + "AA",
			"A" + good[1:],
			good[:len(good)/2],
			"",
			"garbage",
		} {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.AddCookie(&http.Cookie{Name: CookieName, Value: v})
			if got := c.SessionID(r); got != "" {
				t.Fatalf("tampered cookie %q gave id %q", v, got)
			}
		}
		// A different key cannot read it either.
		other := mustCookies(t, []string{keyB}, false)
		if got := other.SessionID(withSessionID(t, c, id)); got != "" {
			t.Fatalf("cookie read with the wrong key: %q", got)
		}
	})

	t.Run("KeyRotation", func(t *testing.T) {
		old := mustCookies(t, []string{keyA}, false)
		rotated := mustCookies(t, []string{keyB, keyA}, false)
		dropped := mustCookies(t, []string{keyB}, false)

		r := withSessionID(t, old, id)
		if got := rotated.SessionID(fresh(r)); got != id {
			t.Fatalf("[B, A] cannot read a cookie written with [A]: %q", got)
		}
		if got := dropped.SessionID(fresh(r)); got != "" {
			t.Fatalf("[B] still reads a cookie written with [A]: %q", got)
		}
		// New cookies are written with the newest key.
		r = withSessionID(t, rotated, id)
		if dropped.SessionID(fresh(r)) != id || old.SessionID(fresh(r)) != "" {
			t.Fatal("[B, A] did not write with B")
		}
	})

	t.Run("Options", func(t *testing.T) {
		for _, secure := range []bool{false, true} {
			c := mustCookies(t, []string{keyA}, secure)
			rec := httptest.NewRecorder()
			if err := c.SetSessionID(rec, httptest.NewRequest(http.MethodGet, "/", nil), id); err != nil {
				t.Fatal(err)
			}
			header := rec.Header().Get("Set-Cookie")
			for _, want := range []string{CookieName + "=", "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=43200"} {
				if !strings.Contains(header, want) {
					t.Errorf("secure=%v: Set-Cookie %q lacks %q", secure, header, want)
				}
			}
			if strings.Contains(header, "Secure") != secure {
				t.Errorf("secure=%v: Set-Cookie %q", secure, header)
			}
			if strings.Contains(header, "Domain=") {
				t.Errorf("Set-Cookie %q sets a Domain", header)
			}
		}
	})

	t.Run("MaxAge", func(t *testing.T) {
		c := mustCookies(t, []string{keyA}, false)
		c.SetMaxAge(DefaultIdleTimeout)
		rec := httptest.NewRecorder()
		_ = c.SetSessionID(rec, httptest.NewRequest(http.MethodGet, "/", nil), id)
		if h := rec.Header().Get("Set-Cookie"); !strings.Contains(h, "Max-Age=7200") {
			t.Fatalf("Set-Cookie %q", h)
		}
	})

	t.Run("Clear", func(t *testing.T) {
		c := mustCookies(t, []string{keyA}, true)
		r := withSessionID(t, c, id)
		rec := httptest.NewRecorder()
		if err := c.Clear(rec, r); err != nil {
			t.Fatal(err)
		}
		h := rec.Header().Get("Set-Cookie")
		if !strings.Contains(h, "Max-Age=0") || !strings.Contains(h, "HttpOnly") || !strings.Contains(h, "Secure") {
			t.Fatalf("Clear sent %q", h)
		}
		if got := c.SessionID(next(t, rec, r)); got != "" {
			t.Fatalf("id survived Clear: %q", got)
		}
	})
}

func TestFlashes(t *testing.T) {
	t.Parallel()
	c := mustCookies(t, []string{keyA}, false)

	t.Run("OK", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		rec := httptest.NewRecorder()
		if err := c.AddFlash(rec, r, FlashSuccess, "Link analytics created."); err != nil {
			t.Fatal(err)
		}
		if err := c.AddFlash(rec, r, FlashError, "Remote unreachable: a\x00b"); err != nil {
			t.Fatal(err)
		}
		r = next(t, rec, nil)

		rec = httptest.NewRecorder()
		got, err := c.Flashes(rec, r)
		if err != nil {
			t.Fatal(err)
		}
		want := []Flash{{FlashSuccess, "Link analytics created."}, {FlashError, "Remote unreachable: a\x00b"}}
		if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		// Read once: the next page has none.
		again, err := c.Flashes(httptest.NewRecorder(), next(t, rec, r))
		if err != nil || len(again) != 0 {
			t.Fatalf("flashes shown twice: %+v, %v", again, err)
		}
	})

	t.Run("UnknownKindIsError", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		rec := httptest.NewRecorder()
		_ = c.AddFlash(rec, r, "<script>", "x")
		got, _ := c.Flashes(httptest.NewRecorder(), next(t, rec, nil))
		if len(got) != 1 || got[0].Kind != FlashError {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("KeepsSessionID", func(t *testing.T) {
		id := newToken()
		r := withSessionID(t, c, id)
		rec := httptest.NewRecorder()
		_ = c.AddFlash(rec, r, FlashSuccess, "Saved.")
		r = next(t, rec, r)
		rec = httptest.NewRecorder()
		if _, err := c.Flashes(rec, r); err != nil {
			t.Fatal(err)
		}
		if got := c.SessionID(next(t, rec, r)); got != id {
			t.Fatalf("session id lost around flashes: %q", got)
		}
	})

	t.Run("SurviveClear", func(t *testing.T) {
		// Logout: end the session, then say so on the login page.
		r := withSessionID(t, c, newToken())
		rec := httptest.NewRecorder()
		if err := c.Clear(rec, r); err != nil {
			t.Fatal(err)
		}
		if err := c.AddFlash(rec, r, FlashSuccess, "You have been signed out."); err != nil {
			t.Fatal(err)
		}
		r = next(t, rec, r)
		if c.SessionID(r) != "" {
			t.Fatal("session id survived Clear")
		}
		got, _ := c.Flashes(httptest.NewRecorder(), r)
		if len(got) != 1 || got[0].Message != "You have been signed out." {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("TamperedCookieThenWrite", func(t *testing.T) {
		// A bad cookie must not break writing a fresh one in the same request.
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: CookieName, Value: "garbage"})
		rec := httptest.NewRecorder()
		id := newToken()
		if err := c.SetSessionID(rec, r, id); err != nil {
			t.Fatal(err)
		}
		if err := c.AddFlash(rec, r, FlashSuccess, "Welcome."); err != nil {
			t.Fatal(err)
		}
		r2 := next(t, rec, nil)
		if got := c.SessionID(r2); got != id {
			t.Fatalf("SessionID = %q", got)
		}
	})
}

func TestCookiesOnce(t *testing.T) {
	t.Parallel()
	c := mustCookies(t, []string{keyA}, false)
	const secret = "a generated password"
	put := func(t *testing.T, r *http.Request, name string) *http.Request {
		t.Helper()
		rec := httptest.NewRecorder()
		if err := c.PutOnce(rec, fresh(r), name, secret); err != nil {
			t.Fatal(err)
		}
		return next(t, rec, r)
	}
	take := func(t *testing.T, r *http.Request, name string) (string, bool, *http.Request) {
		t.Helper()
		rec := httptest.NewRecorder()
		v, ok, err := c.TakeOnce(rec, fresh(r), name)
		if err != nil {
			t.Fatal(err)
		}
		return v, ok, next(t, rec, r)
	}

	t.Run("OnceOnly", func(t *testing.T) {
		r := put(t, withSessionID(t, c, newToken()), "password:7")
		if strings.Contains(r.Header.Get("Cookie"), secret) {
			t.Fatal("the secret is readable in the cookie")
		}
		v, ok, r := take(t, r, "password:7")
		if !ok || v != secret {
			t.Fatalf("first take: %q %v", v, ok)
		}
		if v, ok, _ := take(t, r, "password:7"); ok || v != "" {
			t.Fatalf("second take: %q %v", v, ok)
		}
	})

	t.Run("OtherNameKeepsIt", func(t *testing.T) {
		r := put(t, withSessionID(t, c, newToken()), "password:7")
		if _, ok, r2 := take(t, r, "password:8"); ok {
			t.Fatal("taken under another name")
		} else {
			r = r2
		}
		if v, ok, _ := take(t, r, "password:7"); !ok || v != secret {
			t.Fatalf("lost after a take under another name: %q %v", v, ok)
		}
	})

	t.Run("OtherSessionNever", func(t *testing.T) {
		r := put(t, withSessionID(t, c, newToken()), "password:7")
		// The same browser signs in as someone else before looking.
		rec := httptest.NewRecorder()
		if err := c.SetSessionID(rec, fresh(r), newToken()); err != nil {
			t.Fatal(err)
		}
		r = next(t, rec, r)
		if v, ok, _ := take(t, r, "password:7"); ok || v != "" {
			t.Fatalf("another session took it: %q %v", v, ok)
		}
	})

	t.Run("SignOutForgetsIt", func(t *testing.T) {
		r := put(t, withSessionID(t, c, newToken()), "password:7")
		rec := httptest.NewRecorder()
		if err := c.Clear(rec, fresh(r)); err != nil {
			t.Fatal(err)
		}
		r = next(t, rec, r)
		if _, ok, _ := take(t, r, "password:7"); ok {
			t.Fatal("kept after sign-out")
		}
	})
}
