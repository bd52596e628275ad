package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aside-go/aside/provider/upstash/emulator"
)

// try sends one POST on a fresh connection (so net/http never retries it on
// a reused one) and returns what arrived, or the transport's error.
func (f *fixture) try(ctx context.Context, path, body string) (response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	defer c.CloseIdleConnections()
	res, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: string(b)}, err
}

func (f *fixture) get(k string) string {
	f.t.Helper()
	v, _ := f.rdb.Get(context.Background(), k).Result()
	return v
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	t.Run("latency delays the reply", func(t *testing.T) {
		f := newFixture(t, emulator.Options{Faults: emulator.Faults{Latency: 80 * time.Millisecond}})
		start := time.Now()
		if r, err := f.try(ctx, "/", `["PING"]`); err != nil || r.status != 200 {
			t.Fatalf("%v %v", r, err)
		}
		if d := time.Since(start); d < 80*time.Millisecond {
			t.Fatalf("answered in %v, before the latency", d)
		}
		if st := f.emu.Stats(); st.Faults.Delayed != 1 || st.Commands != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("a client that leaves during the latency runs nothing", func(t *testing.T) {
		// net/http cancels a request's context when its client closes the
		// connection only once the body has been read, so the emulator
		// reads it before the latency. Until it did, CI (and 17 of 30 runs
		// beside another go test) ran the command.
		f := newFixture(t, emulator.Options{Faults: emulator.Faults{Latency: time.Second}})
		k := key(t, "k")
		cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
		defer cancel()
		if _, err := f.try(cctx, "/", `["SET","`+k+`","v"]`); err == nil {
			t.Fatal("the request did not time out")
		}
		time.Sleep(1200 * time.Millisecond)
		if v := f.get(k); v != "" || f.emu.Stats().Commands != 0 {
			t.Fatalf("the command ran: %q", v)
		}
	})
	t.Run("a dropped request runs nothing", func(t *testing.T) {
		f := newFixture(t, emulator.Options{Faults: emulator.Faults{DropRate: 1}})
		k := key(t, "k")
		if r, err := f.try(ctx, "/", `["SET","`+k+`","v"]`); err == nil {
			t.Fatalf("got a response: %+v", r)
		}
		st := f.emu.Stats()
		if v := f.get(k); v != "" || st.Commands != 0 || st.Faults.Dropped != 1 || st.ResponseBytes != 0 {
			t.Fatalf("value %q, stats %+v", v, st)
		}
	})
	t.Run("a request dropped after running ran", func(t *testing.T) {
		f := newFixture(t, emulator.Options{Faults: emulator.Faults{DropAfterRate: 1}})
		k := key(t, "k")
		if r, err := f.try(ctx, "/", `["SET","`+k+`","v"]`); err == nil {
			t.Fatalf("got a response: %+v", r)
		}
		st := f.emu.Stats()
		if v := f.get(k); v != "v" || st.Commands != 1 || st.Faults.DroppedAfter != 1 {
			t.Fatalf("value %q, stats %+v", v, st)
		}
	})
	t.Run("a truncated reply is half a body", func(t *testing.T) {
		f := newFixture(t, emulator.Options{Faults: emulator.Faults{TruncateRate: 1}})
		k := key(t, "k")
		r, err := f.try(ctx, "/pipeline", `[["SET","`+k+`","v"],["GET","`+k+`"]]`)
		if !errors.Is(err, io.ErrUnexpectedEOF) || r.status != 200 {
			t.Fatalf("status %d, error %v; want 200 and an unexpected EOF", r.status, err)
		}
		full := `[{"result":"OK"},{"result":"v"}]`
		if r.body != full[:len(full)/2] {
			t.Fatalf("body %q, want the first half of %q", r.body, full)
		}
		st := f.emu.Stats()
		if st.Commands != 2 || st.Faults.Truncated != 1 || st.ResponseBytes != int64(len(full)/2) {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("server errors have the configured status", func(t *testing.T) {
		f := newFixture(t, emulator.Options{Faults: emulator.Faults{ServerErrorRate: 1, ServerErrorStatus: 503}})
		r, err := f.try(ctx, "/", `["PING"]`)
		if err != nil || r.status != 503 || r.body != `{"error":"emulator: injected server error"}` {
			t.Fatalf("%+v %v", r, err)
		}
		if st := f.emu.Stats(); st.Commands != 0 || st.Faults.ServerErrors != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("quota errors have Upstash's words", func(t *testing.T) {
		for _, q := range []emulator.Quota{emulator.QuotaMaxRequests, emulator.QuotaDailyRequests, emulator.QuotaRequestSize, emulator.QuotaDBCapacity} {
			f := newFixture(t, emulator.Options{Faults: emulator.Faults{QuotaRate: 1, Quota: q}})
			r, err := f.try(ctx, "/", `["SET","`+key(t, "k")+`","v"]`)
			if err != nil || r.status != 400 || r.body != `{"error":"`+q.Message()+`"}` {
				t.Fatalf("%v: %+v %v", q, r, err)
			}
		}
	})
	t.Run("a full database refuses only writes that grow it", func(t *testing.T) {
		f := newFixture(t, emulator.Options{Faults: emulator.Faults{QuotaRate: 1, Quota: emulator.QuotaDBCapacity}})
		k := key(t, "k")
		for _, c := range []struct {
			body    string
			refused bool
		}{
			{`["GET","` + k + `"]`, false},
			{`["DEL","` + k + `"]`, false},
			{`["EXPIRE","` + k + `",10]`, false},
			{`["SET","` + k + `","v"]`, true},
			{`["RPUSH","` + k + `","v"]`, true},
		} {
			r, _ := f.try(ctx, "/", c.body)
			if got := strings.Contains(r.body, "DB capacity quota exceeded"); got != c.refused {
				t.Fatalf("%s: %d %s", c.body, r.status, r.body)
			}
		}
		if r, _ := f.try(ctx, "/pipeline", `[["GET","`+k+`"],["SET","`+k+`","v"]]`); r.status != 400 {
			t.Fatalf("a pipeline with a write: %d %s", r.status, r.body)
		}
	})
	t.Run("a command budget runs out, and ResetStats restores it", func(t *testing.T) {
		f := newFixture(t, emulator.Options{Faults: emulator.Faults{CommandLimit: 3}})
		k := key(t, "k")
		if err := f.rdb.Del(ctx, k).Err(); err != nil { // left by an earlier -count run
			t.Fatal(err)
		}
		for i, want := range []int{200, 200, 400} {
			body := `[["INCR","` + k + `"],["INCR","` + k + `"]]`
			r, err := f.try(ctx, "/pipeline", body)
			if err != nil || r.status != want {
				t.Fatalf("request %d: %+v %v", i, r, err)
			}
			if want == 400 && r.body != `{"error":"ERR max requests limit exceeded"}` {
				t.Fatalf("request %d: %s", i, r.body)
			}
		}
		if st := f.emu.Stats(); st.Commands != 4 || st.Faults.QuotaErrors != 1 {
			t.Fatalf("stats %+v", st)
		}
		f.emu.ResetStats()
		if r, _ := f.try(ctx, "/", `["GET","`+k+`"]`); r.body != `{"result":"4"}` {
			t.Fatalf("after ResetStats: %s", r.body)
		}
	})
}

// outcomes sends n requests one at a time and writes down what each met.
func outcomes(t *testing.T, f *fixture, n int) string {
	var b strings.Builder
	for range n {
		r, err := f.try(context.Background(), "/", `["PING"]`)
		switch {
		case err != nil:
			b.WriteByte('x')
		case r.status == 200:
			b.WriteByte('.')
		default:
			b.WriteByte(byte('0' + r.status/100))
		}
	}
	return b.String()
}

func TestFaultsAreReproducible(t *testing.T) {
	faults := emulator.Faults{Seed: 42, ServerErrorRate: 0.3, DropRate: 0.2, QuotaRate: 0.2}
	a := newFixture(t, emulator.Options{Faults: faults})
	b := newFixture(t, emulator.Options{Faults: faults})
	got, again := outcomes(t, a, 40), outcomes(t, b, 40)
	if got != again {
		t.Fatalf("the same seed gave\n%s\n%s", got, again)
	}
	for _, c := range []string{".", "x", "5", "4"} {
		if !strings.Contains(got, c) {
			t.Fatalf("no %q among %s", c, got)
		}
	}
	faults.Seed = 43
	if err := b.emu.SetFaults(faults); err != nil {
		t.Fatal(err)
	}
	if other := outcomes(t, b, 40); other == got {
		t.Fatalf("another seed gave the same sequence %s", other)
	}
	faults.Seed = 42
	if err := a.emu.SetFaults(faults); err != nil {
		t.Fatal(err)
	}
	if restart := outcomes(t, a, 40); restart != got {
		t.Fatalf("SetFaults did not reseed:\n%s\n%s", got, restart)
	}
	if err := a.emu.SetFaults(emulator.Faults{}); err != nil {
		t.Fatal(err)
	}
	if clean := outcomes(t, a, 10); clean != strings.Repeat(".", 10) {
		t.Fatalf("faults remain after SetFaults(Faults{}): %s", clean)
	}
}

func TestFaultsEndpoint(t *testing.T) {
	f := newFixture(t, emulator.Options{ReadOnlyToken: testROToken})
	r := f.do("POST", "/_emulator/faults", `{"seed":9,"latency":"15ms","jitter":"1ms","drop_rate":0.25,"quota_rate":0.5,"quota":"db_capacity","command_limit":100}`)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	want := emulator.Faults{Seed: 9, Latency: 15 * time.Millisecond, Jitter: time.Millisecond, DropRate: 0.25,
		QuotaRate: 0.5, Quota: emulator.QuotaDBCapacity, CommandLimit: 100}
	if got := f.emu.Faults(); got != want {
		t.Fatalf("faults %+v, want %+v", got, want)
	}
	var back emulator.Faults
	if err := json.Unmarshal([]byte(f.do("GET", "/_emulator/faults", "").body), &back); err != nil || back != want {
		t.Fatalf("GET: %+v %v", back, err)
	}
	for _, bad := range []string{`{"drop_rate":3}`, `{"latency":"soon"}`, `{"quota":"monthly"}`, `{"unknown":1}`, `not json`} {
		if r := f.do("POST", "/_emulator/faults", bad); r.status != 400 {
			t.Fatalf("%s: %d %s", bad, r.status, r.body)
		}
	}
	if f.emu.Faults() != want {
		t.Fatal("a refused setting changed the faults")
	}
	if r := f.do("POST", "/_emulator/faults", `{}`, "Authorization", "Bearer "+testROToken); r.status != 401 {
		t.Fatalf("the read-only token set faults: %d", r.status)
	}
	if r := f.do("POST", "/_emulator/faults", `{}`); r.status != 200 || f.emu.Faults() != (emulator.Faults{}) {
		t.Fatalf("clearing: %d %s", r.status, r.body)
	}
	if r := f.do("GET", "/_emulator/nothing", ""); r.status != 404 {
		t.Fatalf("unknown endpoint: %d", r.status)
	}
	if st := f.emu.Stats(); st.Requests != 0 || st.Unauthorized != 0 {
		t.Fatalf("the endpoints were counted: %+v", st)
	}
}
