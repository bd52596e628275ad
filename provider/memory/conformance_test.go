package memory_test

import (
	"testing"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/memory"
	"github.com/aside-go/aside/provider/providertest"
)

// The conformance tests live in the external test package: providertest
// imports the root aside package, which imports this one.

func newProvider(t *testing.T, opts memory.Options) provider.Provider {
	t.Helper()
	p, err := memory.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func TestConformance(t *testing.T) {
	providertest.Run(t, func(t *testing.T) provider.Provider {
		return newProvider(t, memory.Options{})
	})
}

// TestConformanceAtTheSizeLimit runs the suite with a MaxBytes that makes
// 4 MiB the largest value the suite's keys can store, so that the suite checks
// ErrTooLarge. The suite's key for that check is its 30-byte prefix plus
// "max" (33 bytes); a 4 MiB allocation is exactly 4 MiB (a multiple of the
// page size), and one byte more rounds up by a page.
func TestConformanceAtTheSizeLimit(t *testing.T) {
	const maxValue = 4 << 20
	maxBytes := maxValue + memory.EntryOverhead + int64(len("providertest:0123456789abcdef:max"))
	providertest.RunWithOptions(t, func(t *testing.T) provider.Provider {
		return newProvider(t, memory.Options{MaxBytes: maxBytes})
	}, providertest.Options{MaxValueSize: maxValue})
}
