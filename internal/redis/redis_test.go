package redis_test

import (
	"bufio"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/redis"
	"github.com/pglinks/pglinks/internal/redistest"
)

func startRedis(t *testing.T, opts redistest.Options) *redistest.Server {
	t.Helper()
	s, err := redistest.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func TestDialAuthSelect(t *testing.T) {
	s := startRedis(t, redistest.Options{Password: "s3cret pass"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("OK", func(t *testing.T) {
		c, err := redis.Dial(ctx, redis.Options{Addr: s.Addr(), Password: "s3cret pass", DB: 3})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Do(ctx, "SET", "k\r\nwith\x00bytes", "v"); err != nil {
			t.Fatal(err)
		}
		r, err := c.Pipeline(ctx, []string{"GET", "k\r\nwith\x00bytes"}, []string{"GET", "missing"}, []string{"DBSIZE"}, []string{"HGET"})
		if err != nil {
			t.Fatal(err)
		}
		if r[0] != "v" || r[1] != nil || r[2] != int64(1) {
			t.Fatalf("replies %#v", r)
		}
		if e, ok := r[3].(redis.Error); !ok || e.Code() != "ERR" {
			t.Fatalf("an error reply in a pipeline: %#v", r[3])
		}
		// SELECT 3 took effect: db 0 is empty.
		c0, err := redis.Dial(ctx, redis.Options{Addr: s.Addr(), Password: "s3cret pass"})
		if err != nil {
			t.Fatal(err)
		}
		defer c0.Close()
		if n, _ := c0.Do(ctx, "DBSIZE"); n != int64(0) {
			t.Fatalf("db 0 holds %v keys", n)
		}
	})
	t.Run("ErrWrongPassword", func(t *testing.T) {
		_, err := redis.Dial(ctx, redis.Options{Addr: s.Addr(), Password: "not it"})
		var ae *redis.AuthError
		if !errors.As(err, &ae) || ae.Code != "WRONGPASS" {
			t.Fatalf("err = %v, want WRONGPASS", err)
		}
		if strings.Contains(err.Error(), "not it") {
			t.Fatalf("the password is in the error: %v", err)
		}
	})
	t.Run("ErrNoPassword", func(t *testing.T) {
		c, err := redis.Dial(ctx, redis.Options{Addr: s.Addr()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, err = c.Do(ctx, "PING")
		var e redis.Error
		if !errors.As(err, &e) || e.Code() != "NOAUTH" {
			t.Fatalf("err = %v, want NOAUTH", err)
		}
	})
	t.Run("ErrSelect", func(t *testing.T) {
		_, err := redis.Dial(ctx, redis.Options{Addr: s.Addr(), Password: "s3cret pass", DB: 99})
		if err == nil || !strings.Contains(err.Error(), "SELECT 99") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestACLUser(t *testing.T) {
	s := startRedis(t, redistest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.AddUser(ctx, "app", "app-pass", true); err != nil {
		t.Fatal(err)
	}
	c, err := redis.Dial(ctx, redis.Options{Addr: s.Addr(), User: "app", Password: "app-pass"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	_, err = redis.Dial(ctx, redis.Options{Addr: s.Addr(), User: "app", Password: "wrong"})
	var ae *redis.AuthError
	if !errors.As(err, &ae) || ae.Code != "WRONGPASS" {
		t.Fatalf("err = %v", err)
	}
}

func TestTLS(t *testing.T) {
	s := startRedis(t, redistest.Options{TLS: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := redis.Dial(ctx, redis.Options{Addr: s.Addr(), TLS: s.TLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, err := c.Do(ctx, "PING"); err != nil || v != redis.Status("PONG") {
		t.Fatalf("PING = %v, %v", v, err)
	}
}

// A server that accepts and never answers ends a call at its deadline,
// and a cancel ends it before.
func TestDeadlineAndCancel(t *testing.T) {
	l, err := redistest.NewSilentListener()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := "127.0.0.1:" + strconv.Itoa(l.Port)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = redis.Dial(ctx, redis.Options{Addr: addr, Password: "x"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}

	c, err := redis.Dial(context.Background(), redis.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, ccancel)
	_, err = c.Do(cctx, "PING")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want canceled", err)
	}
	if _, err := c.Do(context.Background(), "PING"); err == nil {
		t.Fatal("a connection cut short was used again")
	}
}

func TestReplyBounds(t *testing.T) {
	lim := redis.Limits{MaxBulk: 10, MaxArray: 3}
	for in, want := range map[string]string{
		"$11\r\nhello world\r\n": "11 bytes",
		"*4\r\n":                 "4 elements",
		"$-2\r\n":                "malformed length",
		"%3\r\n":                 "unknown reply type",
		"+OK\n":                  "malformed line",
		"$3\r\nabcde":            "line end",
		"HTTP/1.1 400 Bad\r\n":   "unknown reply type",
	} {
		_, err := redis.ReadReply(bufio.NewReader(strings.NewReader(in)), lim)
		if !errors.Is(err, redis.ErrProtocol) || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadReply(%q) err = %v, want %q", in, err, want)
		}
	}
	deep := strings.Repeat("*1\r\n", 20) + ":1\r\n"
	if _, err := redis.ReadReply(bufio.NewReader(strings.NewReader(deep)), redis.DefaultLimits); !errors.Is(err, redis.ErrProtocol) {
		t.Errorf("20 nested arrays: err = %v", err)
	}
	v, err := redis.ReadReply(bufio.NewReader(strings.NewReader("*3\r\n$1\r\na\r\n$-1\r\n-ERR x\r\n")), lim)
	if err != nil {
		t.Fatal(err)
	}
	if arr := v.([]any); arr[0] != "a" || arr[1] != nil || arr[2] != redis.Error("ERR x") {
		t.Errorf("got %#v", v)
	}
}

func TestParseInfo(t *testing.T) {
	m := redis.ParseInfo("# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n\r\n# Other\r\nx:a:b\r\n")
	if m["redis_version"] != "7.0.15" || m["redis_mode"] != "standalone" || m["x"] != "a:b" {
		t.Fatalf("%v", m)
	}
}
