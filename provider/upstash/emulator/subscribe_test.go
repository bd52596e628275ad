package emulator_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aside-go/aside/provider/upstash/emulator"
)

// events opens a subscription stream at path and returns its events' data
// (the data lines of one event joined by "\n"), and a cancel that ends it.
func (f *fixture) events(path string) (<-chan string, *http.Response, context.CancelFunc) {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.srv.URL+path, strings.NewReader("[]"))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Accept", "text/event-stream")
	res, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatalf("POST %s: %v", path, err)
	}
	out := make(chan string, 64)
	go func() {
		defer close(out)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var data []string
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if data != nil {
					out <- strings.Join(data, "\n")
				}
				data = nil
				continue
			}
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				data = append(data, d)
			}
		}
	}()
	f.t.Cleanup(cancel)
	return out, res, cancel
}

func next(t *testing.T, ch <-chan string) (string, bool) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		return ev, ok
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
		return "", false
	}
}

func TestSubscribeStreamsServerSentEvents(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	ch := key(t, "news")
	evs, res, cancel := f.events("/subscribe/" + ch)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if ev, _ := next(t, evs); ev != "subscribe,"+ch+",1" {
		t.Fatalf("confirmation: %q", ev)
	}
	// The stream answered after Redis confirmed: a PUBLISH now reaches it.
	for _, m := range []string{"hello", "a,b,c", "two\nlines", `{"json":true}`} {
		r := f.do("POST", "/", `["PUBLISH",`+quote(ch)+`,`+quote(m)+`]`)
		if r.status != 200 || r.body != `{"result":1}` {
			t.Fatalf("PUBLISH: %d %s", r.status, r.body)
		}
		if ev, _ := next(t, evs); ev != "message,"+ch+","+m {
			t.Fatalf("message: got %q, want %q", ev, "message,"+ch+","+m)
		}
	}
	st := f.emu.Stats()
	if st.CommandsByName["subscribe"] != 1 || st.CommandsByName["publish"] != 4 {
		t.Fatalf("billed: %v", st.CommandsByName)
	}

	// The client leaving frees the subscription's Redis connection.
	cancel()
	waitFor(t, func() bool {
		n, err := f.rdb.PubSubNumSub(context.Background(), ch).Result()
		return err == nil && n[ch] == 0
	})
}

func TestPatternSubscribe(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	pat := key(t, "room:*")
	evs, _, _ := f.events("/psubscribe/" + pat)
	if ev, _ := next(t, evs); ev != "psubscribe,"+pat+",1" {
		t.Fatalf("confirmation: %q", ev)
	}
	ch := key(t, "room:1")
	f.do("POST", "/", `["PUBLISH",`+quote(ch)+`,"hi"]`)
	if ev, _ := next(t, evs); ev != "pmessage,"+pat+","+ch+",hi" {
		t.Fatalf("message: %q", ev)
	}
}

// A subscription whose Redis connection is killed ends its stream instead
// of resubscribing quietly: whatever is published meanwhile would be lost
// without the client knowing.
func TestSubscribeStreamEndsWhenRedisDropsIt(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	ch := key(t, "killed")
	evs, _, _ := f.events("/subscribe/" + ch)
	next(t, evs)
	// Only the subscription connections of this test's channel exist as
	// pubsub clients on the test-owned server; kill them.
	if err := f.rdb.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	if ev, ok := next(t, evs); ok {
		t.Fatalf("the stream went on after its subscription was killed: %q", ev)
	}
}

func TestSubscribeNeedsAChannelAndAToken(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	if r := f.do("POST", "/subscribe", "[]"); r.status != 400 || !strings.Contains(r.body, "wrong number of arguments") {
		t.Fatalf("no channel: %d %s", r.status, r.body)
	}
	if r := f.do("POST", "/subscribe/c", "[]", "Authorization", ""); r.status != 401 {
		t.Fatalf("no token: %d %s", r.status, r.body)
	}
	// The command form stays refused: a stateless request cannot hold a subscription.
	if r := f.do("POST", "/", `["SUBSCRIBE","c"]`); r.status != 400 {
		t.Fatalf("SUBSCRIBE as a command: %d %s", r.status, r.body)
	}
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
