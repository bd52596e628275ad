package aside

import "time"

// WithClock returns o with the monitor's clock replaced by now. New then
// starts no monitor goroutine: the test drives it with Tick.
func WithClock(o Options, now func() time.Time) Options {
	o.clock = now
	return o
}

// Tick samples the counters at now and evaluates the alerts, as the
// monitor's ticker does every Window/30.
func (c *Cache) Tick(now time.Time) { c.tick(now, true) }

// Evaluate evaluates the alerts at now without sampling, as a circuit
// transition makes the monitor do.
func (c *Cache) Evaluate(now time.Time) { c.tick(now, false) }

// LogKey is logKey.
func LogKey(key string) string { return logKey(key) }
