package aside

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/aside-go/aside/provider"
)

// The Upstash free tier, as Upstash states it today: 500,000 commands and
// 10 GB of bandwidth a month. (The 10,000 commands a day that older guides
// quote is an earlier limit.) Budget{MonthlyCommands: UpstashFreeCommands,
// MonthlyBandwidth: UpstashFreeBandwidth} warns before the free tier runs out.
const (
	UpstashFreeCommands  int64 = 500_000
	UpstashFreeBandwidth int64 = 10_000_000_000
)

// DefaultBudgetWarnAt is the share of a monthly budget at which the Cache
// warns when Budget.WarnAt is zero.
const DefaultBudgetWarnAt = 0.8

// Budget is a monthly allowance of what a metered provider bills (the
// Upstash REST provider counts every command and byte; see provider.Meter).
// The zero value sets no budget: usage is still counted and projected.
type Budget struct {
	// MonthlyCommands is how many billed commands a calendar month may
	// use; 0 sets none.
	MonthlyCommands int64
	// MonthlyBandwidth is how many bytes (request and response bodies) a
	// calendar month may use; 0 sets none.
	MonthlyBandwidth int64
	// WarnAt is the share of a budget at which Health turns degraded and an
	// alert fires: between 0 and 1, default DefaultBudgetWarnAt (0.8).
	WarnAt float64
}

func (b Budget) validate() error {
	switch {
	case b.MonthlyCommands < 0:
		return fmt.Errorf("%w: Budget.MonthlyCommands is negative (use 0 for no budget)", ErrInvalidOption)
	case b.MonthlyBandwidth < 0:
		return fmt.Errorf("%w: Budget.MonthlyBandwidth is negative (use 0 for no budget)", ErrInvalidOption)
	case !(b.WarnAt >= 0 && b.WarnAt <= 1):
		return fmt.Errorf("%w: Budget.WarnAt must be between 0 and 1 (0 for the 0.8 default)", ErrInvalidOption)
	}
	return nil
}

func (b Budget) withDefaults() Budget {
	if b.WarnAt == 0 {
		b.WarnAt = DefaultBudgetWarnAt
	}
	return b
}

// MonthUsage is what the metered providers under a Cache billed this
// calendar month (UTC), as counted by this process, and where that is
// heading.
//
// The counts are this process's own, since it started (or since the month
// began, if later): a fleet of N instances sharing one store bills the sum
// of theirs, so read it from your metrics (sum of
// aside_billed_commands_total across instances) or from the store's own
// console, and give each process Budget/N if you want each one to warn.
type MonthUsage struct {
	// Month is the first instant of the calendar month (UTC) counted.
	Month time.Time `json:"month"`
	// Since is when counting for this month began: Month, or when the Cache
	// was created if that is later.
	Since time.Time `json:"since"`
	// Commands and Bytes are what was billed since Since (Bytes: request
	// and response bodies, what Upstash bills as bandwidth).
	Commands int64 `json:"commands"`
	Bytes    int64 `json:"bytes"`
	// ProjectedCommands and ProjectedBytes extend the usage so far to the
	// end of the month at the average rate since Since: used +
	// used/elapsed × remaining. Early in a process's life this swings
	// widely; it settles as hours pass.
	ProjectedCommands int64 `json:"projected_commands"`
	ProjectedBytes    int64 `json:"projected_bytes"`
	// CommandBudget and BandwidthBudget are the Budget's (0: none), and
	// CommandShare and BandwidthShare the used shares of them.
	CommandBudget   int64   `json:"command_budget,omitempty"`
	BandwidthBudget int64   `json:"bandwidth_budget,omitempty"`
	CommandShare    float64 `json:"command_share"`
	BandwidthShare  float64 `json:"bandwidth_share"`
	// WarnAt is the share at which the Cache warns.
	WarnAt float64 `json:"warn_at"`
}

// monthState is where this month's counting began.
type monthState struct {
	start time.Time      // first instant of the month, UTC
	since time.Time      // max(start, New)
	base  provider.Usage // billed totals at since
}

func monthStart(t time.Time) time.Time {
	y, m, _ := t.UTC().Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
}

// monthUsage returns this month's usage at now, given the billed totals,
// starting a new month when now has passed into one.
func (m *monitor) monthUsage(now time.Time, total provider.Usage) MonthUsage {
	m.mu.Lock()
	if ms := monthStart(now); ms.After(m.month.start) {
		// The first look after midnight UTC on the 1st: what was billed in
		// the moments before it is counted in the month that ended.
		m.month = monthState{start: ms, since: ms, base: total}
	}
	st := m.month
	m.mu.Unlock()
	u := MonthUsage{
		Month:           st.start,
		Since:           st.since,
		Commands:        total.Commands - st.base.Commands,
		Bytes:           total.BytesSent + total.BytesReceived - st.base.BytesSent - st.base.BytesReceived,
		CommandBudget:   m.budget.MonthlyCommands,
		BandwidthBudget: m.budget.MonthlyBandwidth,
		WarnAt:          m.budget.WarnAt,
	}
	elapsed := now.Sub(st.since)
	remaining := st.start.AddDate(0, 1, 0).Sub(now)
	u.ProjectedCommands, u.ProjectedBytes = project(u.Commands, elapsed, remaining), project(u.Bytes, elapsed, remaining)
	if u.CommandBudget > 0 {
		u.CommandShare = float64(u.Commands) / float64(u.CommandBudget)
	}
	if u.BandwidthBudget > 0 {
		u.BandwidthShare = float64(u.Bytes) / float64(u.BandwidthBudget)
	}
	return u
}

// project extends used, counted over elapsed, by remaining at the same rate.
func project(used int64, elapsed, remaining time.Duration) int64 {
	if elapsed <= 0 || remaining <= 0 || used <= 0 {
		return used
	}
	p := float64(used) + float64(used)*float64(remaining)/float64(elapsed)
	if p >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(p)
}

// ProviderStats is one store under a Cache: the provider itself, or each
// member of a composite provider (provider.Composite).
type ProviderStats struct {
	// Name says what the store is: its package's name ("memory", "redis",
	// "upstash") or the name a composite gives it.
	Name string `json:"name"`
	// Role is its part in a composite ("primary", "secondary"...), or "".
	Role string `json:"role,omitempty"`
	// Billed is what it billed since it was created, when it meters
	// (provider.Meter), else nil.
	Billed *provider.Usage `json:"billed,omitempty"`
	// Member is what a composite counted for it (hits, misses, errors,
	// latency), side by side with the other members; nil for a plain
	// provider.
	Member *provider.MemberStats `json:"member,omitempty"`
}

// store is one store under the Cache and what it reports.
type store struct {
	stats ProviderStats
	p     provider.Provider
}

// stores lists the stores under the Cache: the members of the first
// composite found through the wrappers (Unwrap), or the provider itself.
func (c *Cache) stores() []store {
	for p := c.p; p != nil; {
		if comp, ok := p.(provider.Composite); ok {
			ms := comp.Members()
			out := make([]store, len(ms))
			for i, m := range ms {
				st := m.Stats
				out[i] = store{stats: ProviderStats{Name: st.Name, Role: st.Role, Member: &st}, p: m.Provider}
			}
			return out
		}
		u, ok := p.(provider.Unwrapper)
		if !ok {
			break
		}
		p = u.Unwrap()
	}
	return []store{{stats: ProviderStats{Name: provider.Name(c.p)}, p: c.p}}
}

// providers returns the stores with their billing.
func (c *Cache) providers() ([]ProviderStats, provider.Usage, bool) {
	var total provider.Usage
	metered := false
	ss := c.stores()
	out := make([]ProviderStats, len(ss))
	for i, s := range ss {
		out[i] = s.stats
		if m, ok := find[provider.Meter](s.p); ok {
			u := m.Usage()
			out[i].Billed = &u
			total.Commands += u.Commands
			total.Requests += u.Requests
			total.BytesSent += u.BytesSent
			total.BytesReceived += u.BytesReceived
			metered = true
		}
	}
	return out, total, metered
}

// billed returns what the metered stores billed so far.
func (c *Cache) billed() provider.Usage {
	_, total, _ := c.providers()
	return total
}

// find returns the first provider in p's chain of wrappers (p, then what
// Unwrap returns, and so on) that implements T.
func find[T any](p provider.Provider) (T, bool) {
	for p != nil {
		if t, ok := p.(T); ok {
			return t, true
		}
		u, ok := p.(provider.Unwrapper)
		if !ok {
			break
		}
		p = u.Unwrap()
	}
	var zero T
	return zero, false
}

// sizeOf returns the bytes the stores that say (provider.Sizer) hold, and
// their bounds.
func (c *Cache) sizeOf(ctx context.Context) (used, limit int64, ok bool) {
	for _, st := range c.stores() {
		s, found := find[provider.Sizer](st.p)
		if !found {
			continue
		}
		if u, l, err := s.Size(ctx); err == nil {
			used, limit, ok = used+u, limit+l, true
		}
	}
	return used, limit, ok
}
