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
	failures       int
}

// Outage is configVar's current outage; false when its last status read
// found it answering (or it was never read).
func (f *Fleet) Outage(configVar string) (Outage, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.outages[configVar]
	return o, ok
}

// failed records a failed read of configVar at now and returns the outage
// with its back-off ("" cause counts as one worth retrying).
func (f *Fleet) failed(configVar, reason string, cause Cause, now time.Time) Outage {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.outages[configVar]
	if !ok {
		o = Outage{Since: now}
	}
	if o.Cause != cause {
		o.Since, o.failures = now, 0 // a new failure, not the same one again
	}
	o.Reason, o.Cause = reason, cause
	o.RetryAt = time.Time{}
	if cause == "" || cause.Retried() {
		o.failures++
		wait := backoffMin << min(o.failures-1, 10)
		o.RetryAt = now.Add(min(wait, backoffMax))
	}
	if f.outages == nil {
		f.outages = map[string]Outage{}
	}
	f.outages[configVar] = o
	return o
}

// answered ends configVar's outage.
func (f *Fleet) answered(configVar string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.outages, configVar)
}
