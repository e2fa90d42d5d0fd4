package bench

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Sample is every latency of one target across rounds, and the wall time
// spent on its batches (for throughput).
type Sample struct {
	Name      string
	Latencies []time.Duration
	Wall      time.Duration
	Errors    int
}

func (s *Sample) add(o *Sample) {
	s.Latencies = append(s.Latencies, o.Latencies...)
	s.Wall += o.Wall
	s.Errors += o.Errors
}

func (s *Sample) quantile(q float64) time.Duration {
	if len(s.Latencies) == 0 {
		return 0
	}
	l := append([]time.Duration(nil), s.Latencies...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	i := int(math.Ceil(q*float64(len(l)))) - 1
	return l[max(0, min(i, len(l)-1))]
}

// P50 is the median latency.
func (s *Sample) P50() time.Duration { return s.quantile(0.50) }

// P99 is the 99th percentile latency.
func (s *Sample) P99() time.Duration { return s.quantile(0.99) }

// Max is the slowest latency.
func (s *Sample) Max() time.Duration { return s.quantile(1) }

// RPS is completed requests per second of wall time.
func (s *Sample) RPS() float64 {
	if s.Wall <= 0 {
		return 0
	}
	return float64(len(s.Latencies)) / s.Wall.Seconds()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.Inf(1)
	}
	return a / b
}
