package links

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/redistest"
)

// A Redis that answers the health probe with an error of megabytes: the
// link's health reason, which every inventory page, link card, API listing
// and the log show, stays bounded ("every page has a size bound whatever
// the databases hold").
func TestRedisProbeReasonBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	local := newDB(t, clusterA, "rlocal", pgtest.DBOptions{Redis: true})
	server := startRedis(t, redistest.Options{Password: redisPassword})
	proxy, err := redistest.NewProxy(server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	url := "redis://:" + redisPassword + "@127.0.0.1:" + strconv.Itoa(proxy.Port) + "/0"
	svc := newService(t, []string{"DATABASE_URL=" + local.URL, "REDIS_URL=" + url})
	if _, err := svc.CreateLink(ctx, CreateRequest{RemoteVar: "REDIS_URL", LocalVar: "DATABASE_URL", Name: "hredis", Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	huge := "-ERR " + strings.Repeat("A", 4<<20) + "\r\n"
	proxy.RewriteRaw(func(cmd []string) []byte {
		if cmd[0] == "INFO" {
			return []byte(huge)
		}
		return nil
	})
	h, err := svc.ProbeLink(ctx, "DATABASE_URL", "hredis")
	if err != nil {
		t.Fatal(err)
	}
	if h.State != HealthBroken {
		t.Fatalf("probe: %+v", h.State)
	}
	if n := utf8.RuneCountInString(h.Reason); n > MaxReasonChars+1 || !strings.Contains(h.Reason, "AAAA") {
		t.Fatalf("the health reason of a Redis link is %d characters long, want at most %d with the start of what the Redis said (starts %q)", n, MaxReasonChars, h.Reason[:min(120, len(h.Reason))])
	}
}
