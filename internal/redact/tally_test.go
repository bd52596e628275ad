package redact

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func debugLog() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

func redactionLines(buf *bytes.Buffer) []string {
	var out []string
	for l := range strings.Lines(buf.String()) {
		if strings.Contains(l, "aside: redact") {
			out = append(out, l)
		}
	}
	return out
}

func TestTallyCountsEveryRedactedValue(t *testing.T) {
	var tally Tally
	f := Default()
	_, changed := f.ApplyTo(Account{Password: "pw", APIKey: "k", Sessions: []Session{{Token: "a"}, {Token: "b"}}}, &tally, nil)
	require.True(t, changed)
	require.Equal(t, int64(4), tally.Count())

	_, changed = f.ApplyTo(map[string]any{"password": "pw", "x": map[string]any{"token": "t", "pin": 12}}, &tally, nil)
	require.True(t, changed)
	require.Equal(t, int64(7), tally.Count())

	_, changed, err := f.JSONTo([]byte(`[{"password":"pw"},{"token":"t","cvv":123,"tokens":5}]`), &tally, nil)
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, int64(10), tally.Count())

	_, changed = f.ApplyTo(Account{User: User{Name: "clean"}}, &tally, nil)
	require.False(t, changed)
	_, _, err = f.JSONTo([]byte(`{"password":"","token":null,"tokens":3}`), &tally, nil)
	require.NoError(t, err)
	require.Equal(t, int64(10), tally.Count(), "values left alone are not counted")

	var none *Tally
	require.Zero(t, none.Count())
}

func TestTallyCountsACyclicValueOnce(t *testing.T) {
	var tally Tally
	a := &node{Name: "a", Token: "t"}
	a.Next = &node{Name: "b", Next: a}
	_, changed := Default().ApplyTo(a, &tally, nil)
	require.True(t, changed)
	require.Equal(t, int64(1), tally.Count(), "the dry pass does not count")
}

func TestTallyLogsEachFieldOnceWithoutValues(t *testing.T) {
	var tally Tally
	log, buf := debugLog()
	f := Default()
	for range 3 {
		f.ApplyTo(Account{Password: "hunter2", Sessions: []Session{{Token: "tok-1"}}}, &tally, log)
		f.ApplyTo(map[string]string{"password": "hunter2"}, &tally, log)
		f.JSONTo([]byte(`{"pass\u0077ord":"hunter2"}`), &tally, log)
	}
	lines := redactionLines(buf)
	require.Len(t, lines, 4, "%s", lines)
	require.Contains(t, lines[0], "type=redact.Account field=Password")
	require.Contains(t, lines[1], "type=redact.Session field=Token")
	require.Contains(t, lines[2], `type=map[string]string field=password`)
	require.Contains(t, lines[3], `type="JSON body" field=password`, "escaped keys are logged decoded")
	require.NotContains(t, buf.String(), "hunter2")
	require.NotContains(t, buf.String(), "tok-1")
	require.Equal(t, int64(12), tally.Count())
}

func TestTallyLogsNothingWithoutDebug(t *testing.T) {
	var tally Tally
	var buf bytes.Buffer
	info := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	Default().ApplyTo(Account{Password: "pw"}, &tally, info)
	require.Empty(t, buf.String())
	require.Equal(t, int64(1), tally.Count())
	require.Empty(t, tally.seen, "nothing is remembered while debug is off")
}

func TestTallyMemoryIsBounded(t *testing.T) {
	var tally Tally
	log, buf := debugLog()
	f, err := New(Rules{Match: func(string) bool { return true }})
	require.NoError(t, err)
	long := strings.Repeat("k", 10_000)
	m := map[string]string{}
	for i := range 3 * MaxLoggedFields {
		m[fmt.Sprint(i, long)] = "v"
	}
	_, changed := f.ApplyTo(m, &tally, log)
	require.True(t, changed)
	_, _, err = f.JSONTo([]byte(`{"a":"v","b":"v"}`), &tally, log)
	require.NoError(t, err)

	require.Equal(t, int64(3*MaxLoggedFields+2), tally.Count(), "everything is counted")
	lines := redactionLines(buf)
	require.Len(t, lines, MaxLoggedFields+1, "the first MaxLoggedFields, then one line saying the rest are not logged")
	require.Contains(t, lines[MaxLoggedFields], "later ones are only counted")
	require.Len(t, tally.seen, MaxLoggedFields)
	for s := range tally.seen {
		require.LessOrEqual(t, len(s.name), maxNameLen)
	}
}

func TestTallyIsSafeForConcurrentUse(t *testing.T) {
	var tally Tally
	log, _ := debugLog()
	f := Default()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				f.ApplyTo(map[string]string{fmt.Sprint("token", g, i%7): "t", "password": "p"}, &tally, log)
				f.JSONTo([]byte(`{"secret":"s"}`), &tally, log)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(8*100*3), tally.Count())
}
