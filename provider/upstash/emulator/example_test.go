package emulator_test

import (
	"fmt"
	"net/http/httptest"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/provider/upstash/emulator"
)

// An emulator in front of a Redis. The requests below are answered by the
// emulator itself, so this runs with no Redis at all; a command that reaches
// Redis is answered {"result":...} as Upstash does.
func Example() {
	rdb := goredis.NewClient(&goredis.Options{
		Addr: "redis.internal:6379", Protocol: 2, MaxRetries: -1, ContextTimeoutEnabled: true,
	})
	defer rdb.Close()
	emu, err := emulator.New(rdb, emulator.Options{Token: "dev"})
	if err != nil {
		panic(err)
	}
	send := func(token, body string) {
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		emu.ServeHTTP(rec, req) // or http.ListenAndServe("127.0.0.1:8079", emu)
		fmt.Println(rec.Code, rec.Body.String())
	}
	send("wrong", `["GET","greeting"]`)
	send("dev", `["SUBSCRIBE","news"]`)
	send("dev", `["FLUSHALL"]`)
	// Output:
	// 401 {"error":"WRONGPASS invalid or missing auth token"}
	// 400 {"error":"ERR Command is not available: 'SUBSCRIBE'"}
	// 400 {"error":"ERR Command is not available: 'FLUSHALL' (the emulator refuses dangerous commands; allow them with Options.AllowDangerous or -allow-dangerous)"}
}

// Injected quota errors, as a client over its daily limit sees them, and the
// billing counters: nothing ran, so nothing is billed.
func ExampleEmulator_SetFaults() {
	rdb := goredis.NewClient(&goredis.Options{Addr: "redis.internal:6379", Protocol: 2})
	defer rdb.Close()
	emu, _ := emulator.New(rdb, emulator.Options{Token: "dev"})
	_ = emu.SetFaults(emulator.Faults{QuotaRate: 1, Quota: emulator.QuotaDailyRequests})

	req := httptest.NewRequest("POST", "/pipeline", strings.NewReader(`[["GET","a"],["GET","b"]]`))
	req.Header.Set("Authorization", "Bearer dev")
	rec := httptest.NewRecorder()
	emu.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.String())
	st := emu.Stats()
	fmt.Println("requests:", st.Requests, "billed commands:", st.Commands, "quota errors:", st.Faults.QuotaErrors)
	// Output:
	// 400 {"error":"ERR max daily request limit exceeded"}
	// requests: 1 billed commands: 0 quota errors: 1
}
