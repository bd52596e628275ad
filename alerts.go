package aside

import (
	"fmt"
	"time"
)

// AlertKind names a condition the Cache alerts on.
type AlertKind string

// The conditions. Each one fires when it begins and resolves when it ends.
const (
	// AlertHitRate: the hit rate in the health window is below
	// HealthOptions.MinHitRate (judged once MinReads reads are in it).
	AlertHitRate AlertKind = "hit_rate"
	// AlertErrorRate: provider failures per read above MaxErrorRate.
	AlertErrorRate AlertKind = "error_rate"
	// AlertTimeoutRate: provider timeouts per read above MaxTimeoutRate.
	AlertTimeoutRate AlertKind = "timeout_rate"
	// AlertCircuit: the circuit breaker opened (fires) or closed again
	// (resolves). A circuit that opened and closed between two evaluations
	// still fires, then resolves.
	AlertCircuit AlertKind = "circuit"
	// AlertCommandBudget and AlertBandwidthBudget: this month's billed
	// commands or bytes reached Budget.WarnAt of the budget. They resolve
	// when a new month begins.
	AlertCommandBudget   AlertKind = "command_budget"
	AlertBandwidthBudget AlertKind = "bandwidth_budget"
	// AlertDegraded: the provider says a part of it fails while the whole
	// still answers (provider.Degrader: a dual fallback serving from its
	// secondary store, a migration whose secondary store fails or whose
	// journal overflowed). It fires with the provider's reasons and
	// resolves when it gives none; Value is the number of reasons.
	AlertDegraded AlertKind = "degraded"
)

// Alert is a transition of one condition, given to Options.OnAlert.
type Alert struct {
	Kind AlertKind `json:"kind"`
	// Firing is true when the condition began, false when it ended.
	Firing bool `json:"firing"`
	// Message says what happened in one line, with the figures (never a
	// key, a token or an address).
	Message string `json:"message"`
	// Value is the measured figure (a rate or a share; 0 for the circuit)
	// and Threshold the one it was held against.
	Value     float64   `json:"value"`
	Threshold float64   `json:"threshold"`
	At        time.Time `json:"at"`
}

// alertState is what the monitor remembers of one kind.
type alertState struct {
	firing bool      // a firing alert was delivered and not resolved
	fired  time.Time // when the last firing alert was delivered
}

// evaluate judges every condition at now and delivers the transitions.
// It runs on the monitor's goroutine (or a test's).
func (c *Cache) evaluate(now time.Time) {
	a := c.assess(now)
	var out []Alert
	c.mon.mu.Lock()
	reopened := a.opens > c.mon.opens
	c.mon.opens = a.opens
	for _, ch := range a.checks {
		if ch.kind == AlertCircuit && reopened && !ch.bad {
			// Opened and closed again since the last look: fire, then resolve.
			flap := ch
			flap.bad = true
			flap.reason = "circuit opened and closed again since the last check: the store failed repeatedly, briefly"
			if al, ok := c.mon.transition(flap, now); ok {
				out = append(out, al)
			}
		}
		if al, ok := c.mon.transition(ch, now); ok {
			out = append(out, al)
		}
	}
	c.mon.mu.Unlock()
	for _, al := range out {
		c.deliver(al)
	}
}

// transition updates the state of ch's kind and returns the alert to
// deliver, if any: a firing one when the condition began and none of its
// kind fired within the interval, a resolving one when a delivered
// condition ended. A condition that cannot be judged (too few reads, no
// budget) keeps its state. The caller holds m.mu.
func (m *monitor) transition(ch check, now time.Time) (Alert, bool) {
	if !ch.known {
		return Alert{}, false
	}
	st := m.alerts[ch.kind]
	if st == nil {
		st = &alertState{}
		m.alerts[ch.kind] = st
	}
	switch {
	case ch.bad && !st.firing:
		if !st.fired.IsZero() && now.Sub(st.fired) < m.interval {
			return Alert{}, false // rate-limited: the next evaluation past the interval tries again
		}
		st.firing, st.fired = true, now
		return Alert{Kind: ch.kind, Firing: true, Message: ch.reason, Value: ch.value, Threshold: ch.threshold, At: now}, true
	case !ch.bad && st.firing:
		st.firing = false
		return Alert{Kind: ch.kind, Message: ch.clear, Value: ch.value, Threshold: ch.threshold, At: now}, true
	}
	return Alert{}, false
}

// deliver logs al and passes it to OnAlert. A panicking OnAlert is logged,
// not raised: the monitor goes on.
func (c *Cache) deliver(al Alert) {
	if al.Firing {
		c.log.Warn("cache ALERT "+string(al.Kind)+": "+al.Message, "kind", string(al.Kind), "value", al.Value, "threshold", al.Threshold)
	} else {
		c.log.Info("cache alert resolved "+string(al.Kind)+": "+al.Message, "kind", string(al.Kind), "value", al.Value, "threshold", al.Threshold)
	}
	if c.mon.onAlert == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("cache OnAlert panicked", "kind", string(al.Kind), "panic", fmt.Sprint(r))
		}
	}()
	c.mon.onAlert(al)
}
