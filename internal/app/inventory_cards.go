package app

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"hash/fnv"
	"html"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/replication"
	"github.com/pglinks/pglinks/views"
)

// The inventory is the page looked at most, and its cards are most of its
// weight (20 cards, 30-70 KB of HTML). Each card is rendered once per
// change of what it shows (its snapshot, its links' health, its
// replication warnings, the links reading from it, the viewer's role, and
// the second: its ages are relative) and kept with its deflated form. A
// view renders the page around the cards and splices them in. A client
// that accepts gzip gets a gzip stream of the cards' cached deflated
// blocks and the rest of the page in stored (uncompressed) blocks.
//
// The CSRF token is never compressed: guessing a secret from compressed
// sizes (BREACH) needs the secret and input the attacker chooses in one
// compressed stream. The page's reflected input (the search) and the
// token are in stored blocks only, and each card is deflated on its own,
// with its CSRF field cut out and spliced back in stored.

// cardCache keeps the rendered cards, one per database and role.
type cardCache struct {
	// token marks, in a rendered card, where the viewer's CSRF token
	// goes; slot marks, in a rendered page, where card i goes. Random per
	// process, so no text a database holds can look like them.
	token, slot string

	mu sync.Mutex
	m  map[cardSlot]*renderedCard
}

type cardSlot struct {
	configVar string
	admin     bool
}

// renderedCard is a card's HTML cut where the CSRF token goes, and each
// part deflated on its own (sync-flushed, no final block), made when a
// client first asks for gzip.
type renderedCard struct {
	key   uint64
	parts [][]byte

	gzOnce sync.Once
	gz     [][]byte
}

// deflated is each part deflated, made once.
func (rc *renderedCard) deflated() [][]byte {
	rc.gzOnce.Do(func() {
		for _, p := range rc.parts {
			rc.gz = append(rc.gz, deflate(p))
		}
	})
	return rc.gz
}

func newCardCache() *cardCache {
	b := make([]byte, 12)
	rand.Read(b)
	r := hex.EncodeToString(b)
	return &cardCache{token: "pglinkscsrf" + r, slot: "\x00pglinks-card-" + r + "-", m: map[cardSlot]*renderedCard{}}
}

func (cc *cardCache) slotMarker(i int) string { return cc.slot + strconv.Itoa(i) + "\x00" }

// cardKey hashes everything a card shows besides the database itself.
func cardKey(st links.DatabaseStatus, health map[string]links.LinkHealth, ws []replication.Warning, readBy []links.Link, now time.Time) uint64 {
	h := fnv.New64a()
	var b [8]byte
	num := func(n int64) {
		binary.LittleEndian.PutUint64(b[:], uint64(n))
		h.Write(b[:])
	}
	str := func(s string) {
		num(int64(len(s)))
		h.Write([]byte(s))
	}
	num(now.Unix())
	num(st.AsOf.UnixNano())
	num(st.FailingSince.UnixNano())
	num(st.RetryAt.UnixNano())
	if st.Pending {
		num(1)
	}
	str(st.Error)
	for _, l := range st.Links {
		hl := health[links.HealthKey(st.DB.ConfigVar, l.Name)]
		str(l.Name)
		str(string(hl.State))
		str(hl.Reason)
		num(hl.CheckedAt.UnixNano())
		num(int64(hl.RTT))
	}
	num(int64(len(ws)))
	for _, w := range ws {
		str(w.Kind)
		str(w.Object)
		str(w.Message)
	}
	num(int64(len(readBy)))
	for _, l := range readBy {
		str(l.LocalConfigVar)
		str(l.Name)
	}
	return h.Sum64()
}

var flaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.DefaultCompression)
	return w
}}

// deflate compresses p as a stream of its own, sync-flushed and not
// finished, so that such pieces concatenate into one deflate stream.
func deflate(p []byte) []byte {
	var out bytes.Buffer
	w := flaters.Get().(*flate.Writer)
	w.Reset(&out)
	w.Write(p)
	w.Flush()
	flaters.Put(w)
	return out.Bytes()
}

// card returns st's card for the viewer's role as shown at now, rendering
// it when what it shows changed.
func (cc *cardCache) card(ctx context.Context, st links.DatabaseStatus, admin bool, health map[string]links.LinkHealth, ws []replication.Warning, readBy []links.Link, now time.Time) (*renderedCard, error) {
	v := st.DB.ConfigVar
	key := cardKey(st, health, ws, readBy, now)
	slot := cardSlot{v, admin}
	cc.mu.Lock()
	rc := cc.m[slot]
	cc.mu.Unlock()
	if rc != nil && rc.key == key {
		return rc, nil
	}
	p := views.InventoryPage{
		Page:                views.Page{Viewer: &views.Viewer{IsAdmin: admin, CSRF: cc.token}},
		Health:              health,
		ReplicationWarnings: map[string][]replication.Warning{v: ws},
		ReadBy:              map[string][]links.Link{v: readBy},
	}
	buf := templ.GetBuffer()
	defer templ.ReleaseBuffer(buf)
	if err := views.DatabaseCard(p, st).Render(ctx, buf); err != nil {
		return nil, err
	}
	rc = &renderedCard{key: key}
	for _, part := range bytes.Split(buf.Bytes(), []byte(cc.token)) {
		rc.parts = append(rc.parts, bytes.Clone(part))
	}
	cc.mu.Lock()
	cc.m[slot] = rc
	cc.mu.Unlock()
	return rc, nil
}

// piece is part of a page: raw bytes, and their deflated form when they
// may be compressed (nil: sent stored).
type piece struct{ raw, gz []byte }

// writeCardPage answers with page (rendered with card slots) and the
// cards spliced into it, gzip-compressed as above when the client accepts
// it.
func (cc *cardCache) writeCardPage(c echo.Context, status int, page []byte, cards []*renderedCard, csrf string) error {
	token := []byte(html.EscapeString(csrf))
	gzip := len(cards) > 0 && acceptsGzip(c.Request())
	var pieces []piece
	rest := page
	for i, rc := range cards {
		m := []byte(cc.slotMarker(i))
		at := bytes.Index(rest, m)
		if at < 0 {
			break // not shown (never happens: every card has its slot)
		}
		pieces = append(pieces, piece{raw: rest[:at]})
		rest = rest[at+len(m):]
		var gz [][]byte
		if gzip {
			gz = rc.deflated()
		}
		for j := range rc.parts {
			if j > 0 {
				pieces = append(pieces, piece{raw: token})
			}
			p := piece{raw: rc.parts[j]}
			if gzip {
				p.gz = gz[j]
			}
			pieces = append(pieces, p)
		}
	}
	pieces = append(pieces, piece{raw: rest})
	h := c.Response().Header()
	h.Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
	h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	out := templ.GetBuffer()
	defer templ.ReleaseBuffer(out)
	if !gzip {
		for _, p := range pieces {
			out.Write(p.raw)
		}
	} else {
		h.Set(echo.HeaderContentEncoding, "gzip")
		writeGzip(out, pieces)
	}
	h.Set(echo.HeaderContentLength, strconv.Itoa(out.Len()))
	c.Response().WriteHeader(status)
	_, err := c.Response().Write(out.Bytes())
	return err
}

// writeGzip writes pieces as one gzip member (RFC 1952): the deflated
// pieces as they are, the others in stored blocks, then an empty final
// block, the CRC-32 and the length of it all.
func writeGzip(out *bytes.Buffer, pieces []piece) {
	out.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	crc := uint32(0)
	size := uint32(0)
	for _, p := range pieces {
		crc = crc32.Update(crc, crc32.IEEETable, p.raw)
		size += uint32(len(p.raw))
		if p.gz != nil {
			out.Write(p.gz)
			continue
		}
		for raw := p.raw; len(raw) > 0; {
			n := min(len(raw), 0xffff)
			// A stored block: not final, type 00, byte-aligned (every
			// piece before ends on a byte: sync flush), LEN, NLEN.
			out.Write([]byte{0, byte(n), byte(n >> 8), byte(^n), byte(^n >> 8)})
			out.Write(raw[:n])
			raw = raw[n:]
		}
	}
	out.Write([]byte{1, 0, 0, 0xff, 0xff}) // final, stored, empty
	var tail [8]byte
	binary.LittleEndian.PutUint32(tail[:4], crc)
	binary.LittleEndian.PutUint32(tail[4:], size)
	out.Write(tail[:])
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get(echo.HeaderAcceptEncoding), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
