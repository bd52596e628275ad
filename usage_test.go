package aside_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/memory"
)

func TestStatsCountBilledUsageAndProjectItOverTheMonth(t *testing.T) {
	clk := newClock() // 2025-03-10 12:00 UTC
	m := newMetered(t)
	m.commands.Store(1000) // billed before the Cache existed: not this Cache's
	m.bytes.Store(10_000)
	c := clocked(t, clk, aside.Options{Provider: m, Budget: aside.Budget{MonthlyCommands: 500_000, MonthlyBandwidth: 10_000_000_000}})

	clk.advance(24 * time.Hour) // one day in: 2025-03-11 12:00
	m.commands.Store(1000 + 10_000)
	m.bytes.Store(10_000 + 1_000_000)
	s := c.Stats()
	require.Len(t, s.Providers, 1)
	require.Equal(t, "aside_test", s.Providers[0].Name, "named after the innermost provider's package")
	require.Equal(t, provider.Usage{Commands: 11_000, Requests: 11_000, BytesSent: 505_000, BytesReceived: 505_000}, *s.Providers[0].Billed)
	require.Nil(t, s.Providers[0].Member)

	u := s.Usage
	require.NotNil(t, u)
	require.Equal(t, time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), u.Month)
	require.Equal(t, time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC), u.Since, "counting began when the Cache did")
	require.EqualValues(t, 10_000, u.Commands)
	require.EqualValues(t, 1_000_000, u.Bytes)
	// 10,000 a day so far, 20.5 days left in March: 10,000 + 205,000.
	require.EqualValues(t, 215_000, u.ProjectedCommands)
	require.EqualValues(t, 21_500_000, u.ProjectedBytes)
	require.InDelta(t, 0.02, u.CommandShare, 1e-12)
	require.InDelta(t, 0.0001, u.BandwidthShare, 1e-12)
	require.Equal(t, 0.8, u.WarnAt)

	// April: counting starts again from what was billed at the turn.
	clk.advance(25 * 24 * time.Hour) // 2025-04-05 12:00
	c.Tick(clk.now())
	m.commands.Add(500)
	u = c.Stats().Usage
	require.Equal(t, time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC), u.Month)
	require.Equal(t, u.Month, u.Since)
	require.EqualValues(t, 500, u.Commands)
}

func TestStatsWithoutAMeterHaveNoUsage(t *testing.T) {
	c := newCache(t, aside.Options{})
	s := c.Stats()
	require.Nil(t, s.Usage)
	require.Equal(t, []aside.ProviderStats{{Name: "memory"}}, s.Providers)
	require.Positive(t, s.MaxBytes)
}

// composite is two stores side by side, as a migration provider reports
// them.
type composite struct {
	provider.Provider
	old *memory.Provider
	new *metered
}

func (p *composite) Members() []provider.Member {
	return []provider.Member{
		{Provider: p.new, Stats: provider.MemberStats{Name: "upstash", Role: "primary", Hits: 9, Misses: 1, Calls: 10, CallTime: 10 * time.Millisecond}},
		{Provider: p.old, Stats: provider.MemberStats{Name: "memory", Role: "secondary", Hits: 5, Misses: 5, Errors: 1, Calls: 10, CallTime: time.Millisecond}},
	}
}

func TestStatsShowTheMembersOfACompositeSideBySide(t *testing.T) {
	old, err := memory.New(memory.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = old.Close() })
	p := &composite{Provider: old, old: old, new: newMetered(t)}
	c := newCache(t, aside.Options{Provider: p})
	p.new.commands.Store(42)

	s := c.Stats()
	require.Len(t, s.Providers, 2)
	up, mem := s.Providers[0], s.Providers[1]
	require.Equal(t, "upstash", up.Name)
	require.Equal(t, "primary", up.Role)
	require.EqualValues(t, 9, up.Member.Hits)
	require.EqualValues(t, 42, up.Billed.Commands)
	require.Equal(t, "memory", mem.Name)
	require.Equal(t, "secondary", mem.Role)
	require.Nil(t, mem.Billed)
	require.EqualValues(t, 1, mem.Member.Errors)
	require.NotNil(t, s.Usage, "the metered member is billed")
	require.EqualValues(t, 42, s.Usage.Commands)
	require.Positive(t, s.MaxBytes, "the memory member reports its bytes")
}

func TestBudgetOptionsAreChecked(t *testing.T) {
	for _, b := range []aside.Budget{{MonthlyCommands: -1}, {MonthlyBandwidth: -1}, {WarnAt: 1.5}, {WarnAt: -0.1}} {
		_, err := aside.New(aside.Options{Budget: b})
		require.ErrorIs(t, err, aside.ErrInvalidOption, "%+v", b)
	}
}

func TestBudgetFromTheEnvironment(t *testing.T) {
	o, err := aside.OptionsFromEnv(map[string]string{
		"CACHE_MONTHLY_COMMAND_BUDGET":   "500000",
		"CACHE_MONTHLY_BANDWIDTH_BUDGET": "10GB",
		"CACHE_BUDGET_WARN_AT":           "90%",
	})
	require.NoError(t, err)
	require.Equal(t, aside.Budget{MonthlyCommands: 500_000, MonthlyBandwidth: 10_000_000_000, WarnAt: 0.9}, o.Budget)

	for in, want := range map[string]int64{"512MiB": 512 << 20, "1.5 GB": 1_500_000_000, "2048": 2048, "10gb": 10_000_000_000, "1KiB": 1024} {
		o, err := aside.OptionsFromEnv(map[string]string{"CACHE_MONTHLY_BANDWIDTH_BUDGET": in})
		require.NoError(t, err, in)
		require.Equal(t, want, o.Budget.MonthlyBandwidth, in)
	}
	for name, bad := range map[string]string{
		"CACHE_MONTHLY_COMMAND_BUDGET":   "lots",
		"CACHE_MONTHLY_BANDWIDTH_BUDGET": "NaN",
		"CACHE_BUDGET_WARN_AT":           "1.2",
	} {
		_, err := aside.OptionsFromEnv(map[string]string{name: bad})
		require.ErrorIs(t, err, aside.ErrConfig)
		require.Contains(t, err.Error(), name)
	}
	_, err = aside.OptionsFromEnv(map[string]string{"CACHE_MONTHLY_BANDWIDTH_BUDGET": "-5GB"})
	require.ErrorIs(t, err, aside.ErrConfig)
	_, err = aside.OptionsFromEnv(map[string]string{"CACHE_MONTHLY_BANDWIDTH_BUDGET": "1e30"})
	require.ErrorIs(t, err, aside.ErrConfig)
}

func TestCompressionSavedOnlyGrows(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	require.NoError(t, aside.Set(ctx, c, "small", "x"))
	s := c.Stats()
	require.Zero(t, s.CompressionSaved, "a tiny value is stored raw, with a few header bytes")
	big := make([]byte, 0, 8192)
	for len(big) < 8000 {
		big = append(big, "the same words again and again "...)
	}
	require.NoError(t, aside.Set(ctx, c, "big", string(big)))
	s = c.Stats()
	require.Greater(t, s.CompressionSaved, int64(7000))
	require.LessOrEqual(t, s.RawBytes-s.EncodedBytes, s.CompressionSaved)
}
