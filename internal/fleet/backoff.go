package fleet

import "time"

// Back-off bounds: a database that did not answer is asked again after
// backoffMin, doubling with each failure up to backoffMax.
const (
	backoffMin = 5 * time.Second
	backoffMax = 2 * time.Minute
)

// Outage is what the fleet knows of a database whose last status read
// failed: since when, why (Reason in words, Cause classified), and when it
// is asked again. Every domain on the fleet honours it, so a dead database
// costs nobody a timeout before its back-off ends. Only a cause that
// asking again can help (Cause.Retried) is backed off: a refused password
// has no RetryAt, its database is read as often as any other.
type Outage struct {
	Since, RetryAt time.Time
	Reason         string
	Cause          Cause
}

// Outage is configVar's current outage; false when its last status read
// found it answering (or it was never read).
func (f *Fleet) Outage(configVar string) (Outage, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.outages[configVar]
	return o, ok
}

// backoff is how long a database that failed n reads in a row is left
// alone: 5 s, doubling up to 2 min.
func backoff(n int) time.Duration {
	return min(backoffMin<<min(n-1, 10), backoffMax)
}

// setOutage records configVar's outage, as its card's snapshot says.
func (f *Fleet) setOutage(configVar string, o Outage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.outages == nil {
		f.outages = map[string]Outage{}
	}
	f.outages[configVar] = o
}

// answered ends configVar's outage.
func (f *Fleet) answered(configVar string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.outages, configVar)
}

// outagesNow is a copy of every outage, for a sweep's round of decisions.
func (f *Fleet) outagesNow() map[string]Outage {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]Outage, len(f.outages))
	for k, o := range f.outages {
		out[k] = o
	}
	return out
}
