package emulator_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider/upstash/emulator"
)

func TestNewRefusesBadSetups(t *testing.T) {
	resp3 := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	defer resp3.Close()
	resp2 := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", Protocol: 2})
	defer resp2.Close()
	cases := []struct {
		name string
		rdb  goredis.UniversalClient
		opts emulator.Options
		want error
	}{
		{"a nil client is refused", nil, emulator.Options{Token: "t"}, emulator.ErrNilClient},
		{"an empty token is refused", resp2, emulator.Options{}, emulator.ErrNoToken},
		{"a RESP3 client is refused", resp3, emulator.Options{Token: "t"}, emulator.ErrProtocol},
		{"a rate over one is refused", resp2, emulator.Options{Token: "t", Faults: emulator.Faults{DropRate: 2}}, emulator.ErrInvalidOptions},
		{"a 4xx server error status is refused", resp2, emulator.Options{Token: "t", Faults: emulator.Faults{ServerErrorRate: 1, ServerErrorStatus: 404}}, emulator.ErrInvalidOptions},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := emulator.New(c.rdb, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want.Error()) && err != c.want {
				t.Fatalf("New: %v, want %v", err, c.want)
			}
		})
	}
}

func TestCommandRoutes(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	k := key(t, "k")
	ek := url.PathEscape(k)
	cases := []struct {
		name               string
		method, path, body string
		headers            []string
		wantStatus         int
		wantBody           string
	}{
		{"a JSON command runs", "POST", "/", `["SET","` + k + `","v1"]`, nil, 200, `{"result":"OK"}`},
		{"a JSON command reads", "POST", "/", `["GET","` + k + `"]`, nil, 200, `{"result":"v1"}`},
		{"PUT works as POST", "PUT", "/", `["GET","` + k + `"]`, nil, 200, `{"result":"v1"}`},
		{"numbers are arguments", "POST", "/", `["SET","` + k + `:n",41,"EX",100]`, nil, 200, `{"result":"OK"}`},
		{"integers come back as numbers", "POST", "/", `["INCR","` + k + `:n"]`, nil, 200, `{"result":42}`},
		{"a missing key is null", "POST", "/", `["GET","` + k + `:none"]`, nil, 200, `{"result":null}`},
		{"arrays keep nulls", "POST", "/", `["MGET","` + k + `","` + k + `:none"]`, nil, 200, `{"result":["v1",null]}`},
		{"a failing command is 400", "POST", "/", `["INCR","` + k + `"]`, nil, 400, `{"error":"ERR value is not an integer or out of range"}`},
		{"a wrong arity is 400", "POST", "/", `["GET"]`, nil, 400, `{"error":"ERR wrong number of arguments for 'get' command"}`},
		{"the path form reads", "GET", "/get/" + ek, "", nil, 200, `{"result":"v1"}`},
		{"the path form writes", "GET", "/set/" + ek + ":p/a%2Fb%20c", "", nil, 200, `{"result":"OK"}`},
		{"path segments are percent-decoded", "GET", "/get/" + ek + ":p", "", nil, 200, `{"result":"a/b c"}`},
		{"a POST body is the last argument, query parameters follow", "POST", "/set/" + ek + ":body?EX=100", "{\"json\": [1, 2]}\x00", nil, 200, `{"result":"OK"}`},
		{"the body is stored byte for byte", "GET", "/get/" + ek + ":body", "", nil, 200, `{"result":"{\"json\": [1, 2]}\u0000"}`},
		{"query parameters are arguments", "GET", "/ttl/" + ek + ":body", "", nil, 200, `{"result":100}`},
		{"the command name is case-insensitive", "GET", "/GeT/" + ek, "", nil, 200, `{"result":"v1"}`},
		{"an empty path is no command", "GET", "/", "", nil, 400, ``},
		{"DELETE is 405", "DELETE", "/get/" + ek, "", nil, 405, ``},
		{"PATCH is 405", "PATCH", "/", `["GET","x"]`, nil, 405, ``},
		{"GET /pipeline is 405", "GET", "/pipeline", "", nil, 405, ``},
		{"a body that is not JSON is 400", "POST", "/", `SET k v`, nil, 400, ``},
		{"an empty array is 400", "POST", "/", `[]`, nil, 400, ``},
		{"a null argument is 400", "POST", "/", `["SET","k",null]`, nil, 400, ``},
		{"an object argument is 400", "POST", "/", `["SET","k",{"a":1}]`, nil, 400, ``},
		{"booleans are their JSON text", "POST", "/", `["ECHO",true]`, nil, 200, `{"result":"true"}`},
		{"resp2 responses are refused", "POST", "/", `["GET","x"]`, []string{"Upstash-Response-Format", "resp2"}, 400, ``},
		{"json responses are the default", "POST", "/", `["GET","` + k + `"]`, []string{"Upstash-Response-Format", "json"}, 200, `{"result":"v1"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(c.method, c.path, c.body, c.headers...)
			if r.status != c.wantStatus {
				t.Fatalf("status %d, want %d (%s)", r.status, c.wantStatus, r.body)
			}
			if c.wantBody != "" && r.body != c.wantBody {
				t.Fatalf("body %s, want %s", r.body, c.wantBody)
			}
			if c.wantBody == "" && c.method != "HEAD" {
				var e struct{ Error string }
				if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error == "" {
					t.Fatalf("an error body must be {\"error\":...}, got %s", r.body)
				}
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
	if r := f.do("DELETE", "/", ""); r.header.Get("Allow") != "HEAD, GET, POST, PUT" {
		t.Fatalf("405 without Allow: %v", r.header)
	}
}

func TestPipelinesAndTransactions(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	k := key(t, "k")
	cases := []struct {
		name, path, body string
		wantStatus       int
		wantBody         string
	}{
		{"a pipeline answers each command", "/pipeline",
			`[["SET","` + k + `","x"],["INCR","` + k + `"],["GET","` + k + `"],["FLUSHALL"],["RPUSH","` + k + `:l","a","b"],["LRANGE","` + k + `:l",0,-1]]`,
			200, `[{"result":"OK"},{"error":"ERR value is not an integer or out of range"},{"result":"x"},{"error":"ERR Command is not available: 'FLUSHALL' (the emulator refuses dangerous commands; allow them with Options.AllowDangerous or -allow-dangerous)"},{"result":2},{"result":["a","b"]}]`},
		{"a transaction answers each command", "/multi-exec",
			`[["SET","` + k + `","y"],["INCR","` + k + `"],["APPEND","` + k + `","z"]]`,
			200, `[{"result":"OK"},{"error":"ERR value is not an integer or out of range"},{"result":2}]`},
		{"a transaction Redis will not queue is discarded", "/multi-exec",
			`[["SET","` + k + `","discarded"],["GET"]]`,
			400, `{"error":"ERR wrong number of arguments for 'get' command"}`},
		{"a transaction with an unknown command is discarded", "/multi-exec",
			`[["SET","` + k + `","discarded"],["NOPE","x"]]`,
			400, `{"error":"ERR Command is not available: 'NOPE'"}`},
		{"a transaction with a refused command is discarded", "/multi-exec",
			`[["SET","` + k + `","discarded"],["SUBSCRIBE","c"]]`,
			400, `{"error":"ERR Command is not available: 'SUBSCRIBE'"}`},
		{"nothing of a discarded transaction ran", "/pipeline", `[["GET","` + k + `"]]`, 200, `[{"result":"yz"}]`},
		{"a command array that is not an array is 400", "/pipeline", `["GET","x"]`, 400, ``},
		{"an empty pipeline is 400", "/pipeline", `[]`, 400, ``},
		{"an empty command in a pipeline is 400", "/pipeline", `[["GET","x"],[]]`, 400, ``},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do("POST", c.path, c.body)
			if r.status != c.wantStatus || (c.wantBody != "" && r.body != c.wantBody) {
				t.Fatalf("got %d %s\nwant %d %s", r.status, r.body, c.wantStatus, c.wantBody)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t, emulator.Options{ReadOnlyToken: testROToken})
	cases := []struct {
		name       string
		path       string
		headers    []string
		wantStatus int
	}{
		{"the bearer token is accepted", "/echo/hi", nil, 200},
		{"the scheme is case-insensitive", "/echo/hi", []string{"Authorization", "bearer " + testToken}, 200},
		{"the _token parameter is accepted", "/echo/hi?_token=" + testToken, []string{"Authorization", ""}, 200},
		{"the _token parameter is not an argument", "/get/x?_token=" + testToken, []string{"Authorization", ""}, 200},
		{"the read-only token is accepted", "/echo/hi", []string{"Authorization", "Bearer " + testROToken}, 200},
		{"no token is 401", "/echo/hi", []string{"Authorization", ""}, 401},
		{"a wrong token is 401", "/echo/hi", []string{"Authorization", "Bearer nope"}, 401},
		{"a prefix of the token is 401", "/echo/hi", []string{"Authorization", "Bearer " + testToken[:5]}, 401},
		{"the token with more is 401", "/echo/hi", []string{"Authorization", "Bearer " + testToken + "x"}, 401},
		{"another scheme is 401", "/echo/hi", []string{"Authorization", "Basic " + testToken}, 401},
		{"a wrong header wins over a right parameter", "/echo/hi?_token=" + testToken, []string{"Authorization", "Bearer nope"}, 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do("GET", c.path, "", c.headers...)
			if r.status != c.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, c.wantStatus, r.body)
			}
			if c.wantStatus == 401 && r.body != `{"error":"WRONGPASS invalid or missing auth token"}` {
				t.Fatalf("401 body %s", r.body)
			}
			if strings.Contains(r.body, testToken) || strings.Contains(r.body, testROToken) {
				t.Fatalf("the body shows a token: %s", r.body)
			}
		})
	}
	if st := f.emu.Stats(); st.Unauthorized != 6 || st.Requests != 5 {
		t.Fatalf("unauthorized %d requests %d, want 6 and 5", st.Unauthorized, st.Requests)
	}
}

func TestReadOnlyToken(t *testing.T) {
	f := newFixture(t, emulator.Options{ReadOnlyToken: testROToken})
	k := key(t, "k")
	f.do("POST", "/", `["SET","`+k+`","v"]`)
	ro := []string{"Authorization", "Bearer " + testROToken}
	cases := []struct {
		name    string
		cmd     string
		allowed bool
	}{
		{"GET is allowed", `["GET","` + k + `"]`, true},
		{"MGET is allowed", `["MGET","` + k + `"]`, true},
		{"HGETALL is allowed", `["HGETALL","` + k + `:h"]`, true},
		{"ZRANGE is allowed", `["ZRANGE","` + k + `:z",0,-1]`, true},
		{"TTL is allowed", `["TTL","` + k + `"]`, true},
		{"OBJECT ENCODING is allowed", `["OBJECT","ENCODING","` + k + `"]`, true},
		{"PING is allowed", `["PING"]`, true},
		{"ECHO is allowed", `["ECHO","x"]`, true},
		{"EVAL_RO is allowed", `["EVAL_RO","return 1",0]`, true},
		{"SET is refused", `["SET","` + k + `","w"]`, false},
		{"DEL is refused", `["DEL","` + k + `"]`, false},
		{"EXPIRE is refused", `["EXPIRE","` + k + `",10]`, false},
		{"EVAL is refused", `["EVAL","return 1",0]`, false},
		{"SCAN is refused", `["SCAN",0]`, false},
		{"KEYS is refused", `["KEYS","*"]`, false},
		{"PUBLISH is refused", `["PUBLISH","c","m"]`, false},
		{"OBJECT FREQ is allowed", `["OBJECT","FREQ","` + k + `"]`, true},
		{"OBJECT HELP is refused (Redis files it under no @read)", `["OBJECT","HELP"]`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do("POST", "/", c.cmd, ro...)
			refused := r.status == 400 && strings.HasPrefix(r.body, `{"error":"NOPERM this user has no permissions to run the '`)
			if refused == c.allowed {
				t.Fatalf("%s: %d %s", c.cmd, r.status, r.body)
			}
		})
	}
	if got := f.do("GET", "/get/"+url.PathEscape(k), "").body; got != `{"result":"v"}` {
		t.Fatalf("the value changed: %s", got)
	}
	r := f.do("POST", "/pipeline", `[["GET","`+k+`"],["DEL","`+k+`"]]`, ro...)
	if r.status != 200 || !strings.HasPrefix(r.body, `[{"result":"v"},{"error":"NOPERM`) {
		t.Fatalf("pipeline: %d %s", r.status, r.body)
	}
	r = f.do("POST", "/multi-exec", `[["GET","`+k+`"],["DEL","`+k+`"]]`, ro...)
	if r.status != 400 || !strings.HasPrefix(r.body, `{"error":"NOPERM this user has no permissions to run the 'del' command`) {
		t.Fatalf("transaction: %d %s", r.status, r.body)
	}
	if r := f.do("GET", "/_emulator/stats", "", ro...); r.status != 401 {
		t.Fatalf("the read-only token read the stats: %d", r.status)
	}
}

func TestRefusedCommands(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	cases := []struct{ cmd, name string }{
		{`["SUBSCRIBE","c"]`, "SUBSCRIBE"},
		{`["PSUBSCRIBE","c*"]`, "PSUBSCRIBE"},
		{`["MONITOR"]`, "MONITOR"},
		{`["MULTI"]`, "MULTI"},
		{`["EXEC"]`, "EXEC"},
		{`["WATCH","k"]`, "WATCH"},
		{`["SELECT",1]`, "SELECT"},
		{`["AUTH","x"]`, "AUTH"},
		{`["HELLO",3]`, "HELLO"},
		{`["QUIT"]`, "QUIT"},
		{`["BLPOP","k",1]`, "BLPOP"},
		{`["BZPOPMIN","k",1]`, "BZPOPMIN"},
		{`["XREAD","COUNT",1,"block",100,"STREAMS","s","$"]`, "XREAD BLOCK"},
		{`["SYNC"]`, "SYNC"},
		{`["CLUSTER","INFO"]`, "CLUSTER"},
		{`["NOSUCHCOMMAND","x"]`, "NOSUCHCOMMAND"},
		{`["FLUSHALL"]`, "FLUSHALL"},
		{`["FLUSHDB"]`, "FLUSHDB"},
		{`["CONFIG","SET","maxmemory","1"]`, "CONFIG"},
		{`["SHUTDOWN"]`, "SHUTDOWN"},
		{`["DEBUG","SLEEP",0]`, "DEBUG"},
		{`["REPLICAOF","127.0.0.1",1]`, "REPLICAOF"},
		{`["MIGRATE","127.0.0.1",1,"k",0,10]`, "MIGRATE"},
		{`["CLIENT","KILL","ID",1]`, "CLIENT KILL"},
		{`["CLIENT","REPLY","OFF"]`, "CLIENT REPLY"},
		{`["ACL","SETUSER","x"]`, "ACL"},
		{`["SWAPDB",0,1]`, "SWAPDB"},
	}
	for _, c := range cases {
		t.Run(c.name+" is refused", func(t *testing.T) {
			r := f.do("POST", "/", c.cmd)
			want := `{"error":"ERR Command is not available: '` + c.name + `'`
			if r.status != 400 || !strings.HasPrefix(r.body, want) {
				t.Fatalf("%s: %d %s, want 400 %s...", c.cmd, r.status, r.body, want)
			}
		})
	}
	if got := f.do("POST", "/", `["XREAD","COUNT",1,"STREAMS","block","0"]`); got.status != 200 {
		t.Fatalf("a stream named block is not a BLOCK option: %d %s", got.status, got.body)
	}
	st := f.emu.Stats()
	if st.Refused != int64(len(cases)) || st.Commands != 1 {
		t.Fatalf("refused %d commands %d, want %d and 1", st.Refused, st.Commands, len(cases))
	}
}

func TestAllowDangerous(t *testing.T) {
	// Database 1 of the test server: FLUSHDB there touches nothing else.
	f := newFixtureDB(t, 1, emulator.Options{AllowDangerous: true})
	f.do("POST", "/", `["SET","x","1"]`)
	if r := f.do("POST", "/", `["DBSIZE"]`); r.body != `{"result":1}` {
		t.Fatalf("DBSIZE: %s", r.body)
	}
	if r := f.do("POST", "/", `["FLUSHDB"]`); r.status != 200 || r.body != `{"result":"OK"}` {
		t.Fatalf("FLUSHDB: %d %s", r.status, r.body)
	}
	if r := f.do("POST", "/", `["DBSIZE"]`); r.body != `{"result":0}` {
		t.Fatalf("DBSIZE after FLUSHDB: %s", r.body)
	}
	if r := f.do("POST", "/", `["CLIENT","ID"]`); r.status != 200 {
		t.Fatalf("CLIENT ID: %d %s", r.status, r.body)
	}
	for _, cmd := range []string{`["CLIENT","REPLY","OFF"]`, `["CLIENT","SETNAME","x"]`, `["SELECT",2]`, `["SUBSCRIBE","c"]`} {
		if r := f.do("POST", "/", cmd); r.status != 400 || !strings.Contains(r.body, "Command is not available") {
			t.Fatalf("%s is let through: %d %s", cmd, r.status, r.body)
		}
	}
}

func TestBase64Encoding(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	k := key(t, "k")
	raw := "\xff\xfe binary \x00 ✓"
	// The path form's body carries bytes JSON could not.
	if r := f.do("POST", "/set/"+url.PathEscape(k), raw); r.status != 200 {
		t.Fatalf("SET: %d %s", r.status, r.body)
	}
	f.do("POST", "/", `["RPUSH","`+k+`:l","OK","x"]`)
	b64 := []string{"Upstash-Encoding", "base64"}
	enc := base64.StdEncoding.EncodeToString
	cases := []struct {
		name, cmd string
		headers   []string
		want      string
	}{
		{"a string is base64", `["GET","` + k + `"]`, b64, `{"result":"` + enc([]byte(raw)) + `"}`},
		{"without base64, bytes that are not UTF-8 become U+FFFD", `["GET","` + k + `"]`, nil, `{"result":"\ufffd\ufffd binary \u0000 ✓"}`},
		{"a top-level OK stays plain", `["SET","` + k + `:2","v"]`, b64, `{"result":"OK"}`},
		{"OK inside an array is encoded", `["LRANGE","` + k + `:l",0,-1]`, b64, `{"result":["` + enc([]byte("OK")) + `","` + enc([]byte("x")) + `"]}`},
		{"integers are not encoded", `["STRLEN","` + k + `"]`, b64, `{"result":15}`},
		{"nulls are not encoded", `["GET","` + k + `:none"]`, b64, `{"result":null}`},
		{"other statuses are encoded", `["PING"]`, b64, `{"result":"` + enc([]byte("PONG")) + `"}`},
		{"errors are not encoded", `["INCR","` + k + `"]`, b64, `{"error":"ERR value is not an integer or out of range"}`},
		{"the header value is case-insensitive", `["GET","` + k + `:2"]`, []string{"Upstash-Encoding", "BASE64"}, `{"result":"` + enc([]byte("v")) + `"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if r := f.do("POST", "/", c.cmd, c.headers...); r.body != c.want {
				t.Fatalf("got  %s\nwant %s", r.body, c.want)
			}
		})
	}
	r := f.do("POST", "/pipeline", `[["SET","`+k+`:3","v"],["GET","`+k+`:3"]]`, b64...)
	if want := `[{"result":"OK"},{"result":"` + enc([]byte("v")) + `"}]`; r.body != want {
		t.Fatalf("pipeline: %s, want %s", r.body, want)
	}
}

func TestSyncToken(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	k := key(t, "k")
	r1 := f.do("POST", "/", `["SET","`+k+`","1"]`)
	r2 := f.do("POST", "/", `["GET","`+k+`"]`, "Upstash-Sync-Token", r1.header.Get("Upstash-Sync-Token"))
	t1, t2 := r1.header.Get("Upstash-Sync-Token"), r2.header.Get("Upstash-Sync-Token")
	if t1 == "" || t2 == "" || t1 == t2 {
		t.Fatalf("sync tokens %q then %q: want two different ones", t1, t2)
	}
	if r := f.do("POST", "/", `["GET","`+k+`"]`, "Upstash-Sync-Token", "garbage-from-elsewhere"); r.status != 200 {
		t.Fatalf("a foreign sync token is refused: %d %s", r.status, r.body)
	}
	if st := f.emu.Stats(); st.SyncTokens != 2 {
		t.Fatalf("SyncTokens %d, want 2", st.SyncTokens)
	}
}

func TestRequestSizeLimit(t *testing.T) {
	big := func(n int) string { return `["SET","k","` + strings.Repeat("x", n) + `"]` }
	t.Run("the default limit is 10 MiB", func(t *testing.T) {
		f := newFixture(t, emulator.Options{})
		over := big(emulator.DefaultMaxRequestBytes)
		if r := f.do("POST", "/", over); r.status != 400 || r.body != `{"error":"ERR max request size exceeded"}` {
			t.Fatalf("%d bytes: %d %s", len(over), r.status, r.body)
		}
		// The path form, whose body is not JSON, tests the bound itself.
		k := url.PathEscape(key(t, "k"))
		if r := f.do("POST", "/set/"+k, strings.Repeat("x", emulator.DefaultMaxRequestBytes)); r.status != 200 {
			t.Fatalf("exactly the limit: %d %s", r.status, r.body)
		}
		if r := f.do("POST", "/set/"+k, strings.Repeat("x", emulator.DefaultMaxRequestBytes+1)); r.status != 400 {
			t.Fatalf("one byte over: %d %s", r.status, r.body)
		}
	})
	t.Run("the limit counts the body", func(t *testing.T) {
		f := newFixture(t, emulator.Options{MaxRequestBytes: 100})
		k := key(t, "k")
		exact := `["SET","` + k + `","` + strings.Repeat("x", 100-len(`["SET","`+k+`",""]`)) + `"]`
		if r := f.do("POST", "/", exact); r.status != 200 {
			t.Fatalf("exactly 100 bytes: %d %s", r.status, r.body)
		}
		if r := f.do("POST", "/", exact+" "); r.status != 400 {
			t.Fatalf("101 bytes: %d %s", r.status, r.body)
		}
		if r := f.do("POST", "/set/"+url.PathEscape(k), strings.Repeat("y", 101)); r.status != 400 {
			t.Fatalf("a path-form body of 101 bytes: %d %s", r.status, r.body)
		}
		// A chunked body, of no announced length, is bounded as it is read.
		for n, want := range map[int]int{100: 200, 101: 400} {
			body := io.MultiReader(strings.NewReader(strings.Repeat("z", n)))
			req, _ := http.NewRequest("POST", f.srv.URL+"/set/"+url.PathEscape(k), body)
			req.Header.Set("Authorization", "Bearer "+testToken)
			res, err := f.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()
			if res.StatusCode != want || req.ContentLength != 0 {
				t.Fatalf("a chunked body of %d bytes: %d (length %d)", n, res.StatusCode, req.ContentLength)
			}
		}
	})
	t.Run("a negative limit is none", func(t *testing.T) {
		f := newFixture(t, emulator.Options{MaxRequestBytes: -1})
		k := key(t, "k")
		if r := f.do("POST", "/set/"+url.PathEscape(k), strings.Repeat("y", emulator.DefaultMaxRequestBytes+1)); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}

// The head of a request answers as its GET, without a body.
func TestHead(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	r := f.do(http.MethodHead, "/ping", "")
	if r.status != 200 || r.body != "" {
		t.Fatalf("HEAD: %d %q", r.status, r.body)
	}
}

func TestRedisDown(t *testing.T) {
	srv, err := redistest.StartServer()
	if err != nil {
		redistest.Unavailable(t, err.Error())
	}
	addr := srv.Addr()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(&goredis.Options{Addr: addr, Protocol: 2, MaxRetries: -1, DialerRetries: 1, DialTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	var logs bytes.Buffer
	emu, err := emulator.New(rdb, emulator.Options{Token: testToken, ReadOnlyToken: testROToken,
		Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(emu)
	defer hs.Close()
	f := &fixture{t: t, emu: emu, srv: hs}
	for _, c := range []struct {
		path, body string
		headers    []string
	}{
		{"/", `["GET","k"]`, nil},
		{"/pipeline", `[["GET","k"],["GET","k"]]`, nil},
		{"/multi-exec", `[["GET","k"]]`, nil},
		{"/", `["GET","k"]`, []string{"Authorization", "Bearer " + testROToken}},
	} {
		r := f.do("POST", c.path, c.body, c.headers...)
		if r.status != 500 || !strings.HasPrefix(r.body, `{"error":"ERR emulator: Redis is unavailable: `) {
			t.Fatalf("%s %s: %d %s", c.path, c.body, r.status, r.body)
		}
	}
	if st := emu.Stats(); st.Commands != 0 || st.Requests != 4 {
		t.Fatalf("%+v", st)
	}
	if !strings.Contains(logs.String(), "redis failed") {
		t.Fatalf("nothing logged: %q", logs.String())
	}
	if strings.Contains(logs.String(), testToken) || strings.Contains(logs.String(), testROToken) {
		t.Fatalf("a token was logged: %s", logs.String())
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
