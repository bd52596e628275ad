package redact

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestREADMEListsTheDefaults keeps the README's table of default names in
// step with defaultRules and defaultAllow: every name, its column (tail or
// exact), whether numbers under it are redacted, and whether objects are
// walked.
func TestREADMEListsTheDefaults(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	readme := string(b)
	start := strings.Index(readme, "## Secrets stay out of the store")
	require.GreaterOrEqual(t, start, 0)
	section := readme[start:]
	section = section[:strings.Index(section[3:], "\n## ")+3]

	ticked := regexp.MustCompile("`([^`]+)`")
	names := func(cell string) []string {
		var out []string
		for _, m := range ticked.FindAllStringSubmatch(cell, -1) {
			out = append(out, normalizeString(m[1]))
		}
		return out
	}

	rules := map[string]rule{}
	for _, r := range defaultRules {
		rules[r.name] = r
	}
	footnote := map[string]bool{}
	for line := range strings.Lines(section) {
		if strings.HasPrefix(line, "¹") {
			for _, n := range names(line) {
				footnote[n] = true
			}
		}
	}
	seen := map[string]bool{}
	for line := range strings.Lines(section) {
		cells := strings.Split(line, "|")
		if len(cells) != 7 || strings.Contains(line, "---") || strings.Contains(line, "tail names") {
			continue
		}
		tails, exacts, nums, objs := cells[2], cells[3], cells[4], cells[5]
		wantNum := strings.HasPrefix(strings.TrimSpace(nums), "yes")
		wantWalk := strings.HasPrefix(strings.TrimSpace(objs), "walked")
		exceptions := map[string]bool{}
		for _, n := range names(objs) {
			exceptions[n] = true
		}
		check := func(n string, tail bool) {
			r, ok := rules[n]
			require.True(t, ok, "README lists %q, which is not a default name", n)
			require.Equal(t, tail, r.tail, "%q: tail or exact column", n)
			require.Equal(t, wantNum && !footnote[n], r.flags&numeric != 0, "%q: numbers column", n)
			require.Equal(t, wantWalk != exceptions[n], r.flags&walk != 0, "%q: objects column", n)
			seen[n] = true
		}
		for _, n := range names(tails) {
			check(n, true)
		}
		for _, n := range names(exacts) {
			check(n, false)
		}
	}
	for _, r := range defaultRules {
		require.True(t, seen[r.name], "the README table misses %q", r.name)
	}
	allow := section[strings.Index(section, "**Never sensitive**"):]
	allow = allow[:strings.Index(allow, "\n- ")]
	listed := map[string]bool{}
	for _, n := range names(allow) {
		listed[n] = true
	}
	for _, a := range defaultAllow {
		require.True(t, listed[a], "the README's never-sensitive list misses %q", a)
	}
}
