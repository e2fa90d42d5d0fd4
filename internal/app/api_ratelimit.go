package app

import (
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// API rate limits, per token and per pglinks process: a burst of
// DefaultAPIBurst requests, refilled at DefaultAPIRate a second. A script
// listing links or applying a change never comes near it; a loop gone
// wrong is slowed down before it costs the fleet's databases anything.
const (
	DefaultAPIRate  = 5
	DefaultAPIBurst = 60
	// apiLimiterIdle is how long an unused token's bucket is kept; a full
	// bucket forgotten is the same as a new one.
	apiLimiterIdle = 10 * time.Minute
)

// apiLimiter is a token bucket per API token.
type apiLimiter struct {
	rate  rate.Limit
	burst int

	mu    sync.Mutex
	m     map[int64]*apiBucket
	swept time.Time
}

type apiBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newAPILimiter(perSecond float64, burst int) *apiLimiter {
	if perSecond <= 0 {
		perSecond = DefaultAPIRate
	}
	if burst <= 0 {
		burst = DefaultAPIBurst
	}
	return &apiLimiter{rate: rate.Limit(perSecond), burst: burst, m: map[int64]*apiBucket{}}
}

// allow takes one request from token id's bucket; when it is empty it
// returns how long until the next request is allowed.
func (l *apiLimiter) allow(id int64, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > apiLimiterIdle {
		for k, b := range l.m {
			if now.Sub(b.seen) > apiLimiterIdle {
				delete(l.m, k)
			}
		}
		l.swept = now
	}
	b, ok := l.m[id]
	if !ok {
		b = &apiBucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.m[id] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// retryAfter is a Retry-After header value: whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
