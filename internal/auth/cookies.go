package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/sessions"
	"golang.org/x/crypto/hkdf"
)

// CookieName is the name of the session cookie.
const CookieName = "pglinks_session"

const (
	sessionIDKey = "sid"
	flashKey     = "_flash"
	onceKey      = "_once"
	minKeyLen    = 32
)

// Flash kinds.
const (
	FlashSuccess = "success"
	FlashError   = "error"
)

// Flash is a one-time message shown on the next page.
type Flash struct {
	Kind    string // FlashSuccess or FlashError
	Message string
}

// Cookies reads and writes the signed and encrypted session cookie. The
// cookie carries only the session id, flash messages and a value to show
// once after a redirect; everything else is server-side.
type Cookies struct {
	store *sessions.CookieStore
}

// NewCookies builds the cookie codec from PGLINKS_SESSION_KEYS, split on
// commas, newest first. The newest key signs and encrypts; every key still
// decodes, so adding a key in front rotates without logging anyone out.
// Each key is hex, base64, or (at least 32 characters of) raw text, and must
// give at least 32 bytes. secure sets the Secure attribute, which should be
// on whenever the site is served over TLS, directly or behind a proxy.
func NewCookies(keys []string, secure bool) (*Cookies, error) {
	var pairs [][]byte
	n := 0
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		n++
		secret, err := decodeKey(k)
		if err != nil {
			return nil, fmt.Errorf("auth: session key %d: %w", n, err)
		}
		hashKey, blockKey := deriveKeys(secret)
		pairs = append(pairs, hashKey, blockKey)
	}
	if n == 0 {
		return nil, errors.New("auth: no session keys: set PGLINKS_SESSION_KEYS to at least one key of 32 random bytes (64 hex characters)")
	}
	store := sessions.NewCookieStore(pairs...)
	// Every option is explicit: gorilla's defaults are SameSite=None, no
	// HttpOnly and a 30-day lifetime.
	store.Options = &sessions.Options{
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   secure,
	}
	c := &Cookies{store: store}
	c.SetMaxAge(DefaultAbsoluteTimeout)
	return c, nil
}

// SetMaxAge sets the cookie's lifetime; set it to the Store's
// AbsoluteTimeout when that is changed. The signed timestamp inside the
// cookie is checked against the same age.
func (c *Cookies) SetMaxAge(d time.Duration) {
	c.store.MaxAge(int(d / time.Second))
}

// decodeKey reads one configured key. Hex is tried first (what
// GenerateSessionKey prints), then base64; a hex-looking key that is too
// short is refused rather than taken as text, since it was meant as hex.
func decodeKey(k string) ([]byte, error) {
	tooShort := fmt.Errorf("too short: need at least %d bytes (64 hex characters; generate one with `openssl rand -hex 32`)", minKeyLen)
	if b, err := hex.DecodeString(k); err == nil {
		if len(b) < minKeyLen {
			return nil, tooShort
		}
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(k); err == nil && len(b) >= minKeyLen {
			return b, nil
		}
	}
	if len(k) >= minKeyLen {
		return []byte(k), nil
	}
	return nil, tooShort
}

// deriveKeys expands one secret into independent signing and encryption
// keys, so the operator manages one value per key and the two never coincide.
func deriveKeys(secret []byte) (hashKey, blockKey []byte) {
	hashKey = make([]byte, 32)
	blockKey = make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, secret, nil, []byte("pglinks session cookie hash key")), hashKey); err != nil {
		panic(err) // only fails past 255*32 bytes
	}
	if _, err := io.ReadFull(hkdf.New(sha256.New, secret, nil, []byte("pglinks session cookie block key")), blockKey); err != nil {
		panic(err)
	}
	return hashKey, blockKey
}

// GenerateSessionKey returns 32 random bytes as hex, a valid entry for
// PGLINKS_SESSION_KEYS.
func GenerateSessionKey() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// session returns the request's cookie session. A missing, tampered or
// expired cookie gives an empty session (securecookie decodes nothing
// unless the signature checks), so callers only ever see "no session id".
// gorilla caches the session per request, so calls within one request share
// it even when decoding failed.
func (c *Cookies) session(r *http.Request) *sessions.Session {
	sess, _ := c.store.Get(r, CookieName)
	if sess == nil { // only for an invalid cookie name, which ours is not
		sess = sessions.NewSession(c.store, CookieName)
	}
	return sess
}

// save writes the cookie, or deletes it when nothing is left in it. Options
// are reset each time because gorilla caches one session per request and a
// Clear followed by AddFlash must not keep the deletion's MaxAge.
func (c *Cookies) save(w http.ResponseWriter, r *http.Request, sess *sessions.Session) error {
	opts := *c.store.Options
	if len(sess.Values) == 0 {
		opts.MaxAge = -1
	}
	sess.Options = &opts
	if err := c.store.Save(r, w, sess); err != nil {
		return fmt.Errorf("auth: save session cookie: %w", err)
	}
	return nil
}

// SessionID returns the session id in the request's cookie, or "" if there
// is no valid cookie.
func (c *Cookies) SessionID(r *http.Request) string {
	id, _ := c.session(r).Values[sessionIDKey].(string)
	return id
}

// SetSessionID stores id in the cookie, replacing any earlier one.
func (c *Cookies) SetSessionID(w http.ResponseWriter, r *http.Request, id string) error {
	sess := c.session(r)
	sess.Values[sessionIDKey] = id
	return c.save(w, r, sess)
}

// Clear removes the session id from the cookie. Pending flashes survive, so
// "You have been signed out." can still be shown.
func (c *Cookies) Clear(w http.ResponseWriter, r *http.Request) error {
	sess := c.session(r)
	for k := range sess.Values {
		if k != flashKey {
			delete(sess.Values, k)
		}
	}
	return c.save(w, r, sess)
}

// AddFlash queues a message for the next page. kind is FlashSuccess or
// FlashError; anything else is shown as an error.
func (c *Cookies) AddFlash(w http.ResponseWriter, r *http.Request, kind, message string) error {
	if kind != FlashSuccess {
		kind = FlashError
	}
	sess := c.session(r)
	// Flashes are stored as "kind\x00message" strings: gob needs no type
	// registration for strings.
	sess.AddFlash(kind+"\x00"+message, flashKey)
	return c.save(w, r, sess)
}

// Flashes returns the queued messages and clears them.
func (c *Cookies) Flashes(w http.ResponseWriter, r *http.Request) ([]Flash, error) {
	sess := c.session(r)
	raw := sess.Flashes(flashKey)
	if len(raw) == 0 {
		return nil, nil
	}
	flashes := make([]Flash, 0, len(raw))
	for _, v := range raw {
		s, ok := v.(string)
		if !ok {
			continue
		}
		kind, msg, _ := strings.Cut(s, "\x00")
		flashes = append(flashes, Flash{Kind: kind, Message: msg})
	}
	return flashes, c.save(w, r, sess)
}

// PutOnce keeps value in the cookie for one TakeOnce(name) by the same
// signed-in session: a secret (a generated password) shown once on the page
// a POST redirects to, so that reloading that page neither repeats the
// action nor shows the secret again, and the secret is in no URL and no
// log. The cookie is encrypted; a later PutOnce replaces the value.
func (c *Cookies) PutOnce(w http.ResponseWriter, r *http.Request, name, value string) error {
	sess := c.session(r)
	sid, _ := sess.Values[sessionIDKey].(string)
	sess.Values[onceKey] = sid + "\x00" + name + "\x00" + value
	return c.save(w, r, sess)
}

// TakeOnce returns the value PutOnce kept under name, and forgets it. ok is
// false when there is none, or it was kept by another session (which then
// loses it too). A value kept under another name stays.
func (c *Cookies) TakeOnce(w http.ResponseWriter, r *http.Request, name string) (value string, ok bool, err error) {
	sess := c.session(r)
	raw, found := sess.Values[onceKey].(string)
	if !found {
		return "", false, nil
	}
	sid, rest, _ := strings.Cut(raw, "\x00")
	kept, value, _ := strings.Cut(rest, "\x00")
	current, _ := sess.Values[sessionIDKey].(string)
	if sid == current && kept != name {
		return "", false, nil
	}
	delete(sess.Values, onceKey)
	if err := c.save(w, r, sess); err != nil {
		return "", false, err
	}
	if sid == "" || sid != current {
		return "", false, nil
	}
	return value, true, nil
}
