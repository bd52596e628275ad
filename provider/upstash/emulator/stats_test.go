package emulator_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aside-go/aside/provider/upstash/emulator"
)

func TestStatsCountWhatUpstashBills(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	k := key(t, "k")
	type want struct {
		commands, errors, refused int64
		byName                    map[string]int64
	}
	cases := []struct {
		name               string
		method, path, body string
		headers            []string
		want               want
	}{
		{"a command is one billed command", "POST", "/", `["SET","` + k + `","v"]`, nil,
			want{1, 0, 0, map[string]int64{"set": 1}}},
		{"a path-form read is one", "GET", "/get/" + k, "", nil,
			want{1, 0, 0, map[string]int64{"get": 1}}},
		{"a failing command is billed", "POST", "/", `["INCR","` + k + `"]`, nil,
			want{1, 1, 0, map[string]int64{"incr": 1}}},
		{"a miss is billed", "POST", "/", `["GET","` + k + `:none"]`, nil,
			want{1, 0, 0, map[string]int64{"get": 1}}},
		{"each command of a pipeline is billed", "POST", "/pipeline", `[["GET","` + k + `"],["GET","` + k + `"],["HGET","` + k + `","f"]]`, nil,
			want{3, 1, 0, map[string]int64{"get": 2, "hget": 1}}},
		{"a refused command in a pipeline is not", "POST", "/pipeline", `[["GET","` + k + `"],["FLUSHALL"]]`, nil,
			want{1, 0, 1, map[string]int64{"get": 1}}},
		{"each command of a transaction is billed", "POST", "/multi-exec", `[["SET","` + k + `","w"],["GET","` + k + `"]]`, nil,
			want{2, 0, 0, map[string]int64{"set": 1, "get": 1}}},
		{"a discarded transaction bills nothing", "POST", "/multi-exec", `[["SET","` + k + `","x"],["SUBSCRIBE","c"]]`, nil,
			want{0, 0, 1, map[string]int64{}}},
		{"a transaction Redis discards bills nothing", "POST", "/multi-exec", `[["SET","` + k + `","x"],["GET"]]`, nil,
			want{0, 0, 0, map[string]int64{}}},
		{"a refused command is not billed", "POST", "/", `["SELECT",1]`, nil,
			want{0, 0, 1, map[string]int64{}}},
		{"an unknown command is not billed", "POST", "/", `["NOPE"]`, nil,
			want{0, 0, 1, map[string]int64{}}},
		{"an unauthorized request bills nothing", "POST", "/", `["GET","` + k + `"]`, []string{"Authorization", "Bearer x"},
			want{0, 0, 0, map[string]int64{}}},
		{"a request that does not parse bills nothing", "POST", "/", `["GET"`, nil,
			want{0, 0, 0, map[string]int64{}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.emu.ResetStats()
			r := f.do(c.method, c.path, c.body, c.headers...)
			st := f.emu.Stats()
			got := want{st.Commands, st.CommandErrors, st.Refused, st.CommandsByName}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v, want %+v (reply %d %s)", got, c.want, r.status, r.body)
			}
			if r.status == http.StatusUnauthorized {
				if st.Unauthorized != 1 || st.Requests != 0 || st.RequestBytes != 0 || st.ResponseBytes != 0 {
					t.Fatalf("an unauthorized request was counted: %+v", st)
				}
				return
			}
			if st.Requests != 1 || st.RequestBytes != int64(len(c.body)) || st.ResponseBytes != int64(len(r.body)) {
				t.Fatalf("requests %d, bytes %d in %d out; want 1, %d, %d", st.Requests, st.RequestBytes, st.ResponseBytes, len(c.body), len(r.body))
			}
		})
	}
	f.emu.ResetStats()
	f.do("POST", "/pipeline", `[["GET","`+k+`"]]`)
	f.do("POST", "/multi-exec", `[["GET","`+k+`"]]`)
	f.do("POST", "/multi-exec", `[["MULTI"]]`)
	if st := f.emu.Stats(); st.Pipelines != 1 || st.Transactions != 1 || st.DiscardedTransactions != 1 {
		t.Fatalf("pipelines %d transactions %d discarded %d", st.Pipelines, st.Transactions, st.DiscardedTransactions)
	}
}

func TestStatsEndpoint(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	f.do("POST", "/pipeline", `[["PING"],["PING"]]`)
	r := f.do("GET", "/_emulator/stats", "")
	var st emulator.Stats
	if err := json.Unmarshal([]byte(r.body), &st); err != nil || r.status != 200 {
		t.Fatalf("%d %s %v", r.status, r.body, err)
	}
	if st.Commands != 2 || st.CommandsByName["ping"] != 2 || st.Requests != 1 {
		t.Fatalf("%+v", st)
	}
	for _, field := range []string{`"commands":2`, `"commands_by_name":{"ping":2}`, `"request_bytes":`, `"response_bytes":`, `"faults":{`} {
		if !strings.Contains(r.body, field) {
			t.Fatalf("no %s in %s", field, r.body)
		}
	}
	if r := f.do("GET", "/_emulator/stats", "", "Authorization", ""); r.status != 401 {
		t.Fatalf("stats without a token: %d", r.status)
	}
	if r := f.do("POST", "/_emulator/stats/reset", ""); r.status != 200 || !strings.Contains(r.body, `"commands":0`) {
		t.Fatalf("reset: %d %s", r.status, r.body)
	}
	if r := f.do("GET", "/_emulator/stats/reset", ""); r.status != 404 {
		t.Fatalf("GET reset: %d", r.status)
	}
	if st := f.emu.Stats(); st.Requests != 0 {
		t.Fatalf("the endpoint counted itself: %+v", st)
	}
}

func TestStatsUnderConcurrency(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	const workers, each = 16, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				k := key(t, fmt.Sprintf("%d", w))
				if i%2 == 0 {
					f.do("POST", "/", `["INCR","`+k+`"]`)
				} else {
					f.do("POST", "/pipeline", `[["INCR","`+k+`"],["GET","`+k+`"]]`)
				}
			}
		})
	}
	wg.Wait()
	st := f.emu.Stats()
	singles, pipes := int64(workers*((each+1)/2)), int64(workers*(each/2))
	if st.Commands != singles+2*pipes || st.Requests != singles+pipes || st.CommandsByName["incr"] != singles+pipes {
		t.Fatalf("%+v", st)
	}
}
