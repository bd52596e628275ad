package emulator_test

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/aside-go/aside/provider/upstash/emulator"
)

func sha(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// jsonStr quotes s for a JSON command body.
func jsonStr(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

func TestKeyLockingScripts(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	k := key(t, "n")
	script := "#!lua flags=allow-key-locking\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])"
	id := sha(script)
	steps := []struct {
		name, path, body string
		wantStatus       int
		wantBody         string
	}{
		{"EVALSHA of an unseen flagged script is NOSCRIPT", "/", `["EVALSHA","` + id + `",1,"` + k + `",1]`, 400, ``},
		{"EVAL of a flagged script runs without the flag", "/", `["EVAL",` + jsonStr(script) + `,1,"` + k + `",2]`, 200, `{"result":2}`},
		{"EVALSHA with the client's SHA then runs it", "/", `["EVALSHA","` + id + `",1,"` + k + `",3]`, 200, `{"result":5}`},
		{"the SHA is case-insensitive", "/", `["EVALSHA","` + strings.ToUpper(id) + `",1,"` + k + `",1]`, 200, `{"result":6}`},
		{"SCRIPT EXISTS knows it", "/", `["SCRIPT","EXISTS","` + id + `","` + strings.Repeat("0", 40) + `"]`, 200, `{"result":[1,0]}`},
		{"EVALSHA runs in a pipeline", "/pipeline", `[["EVALSHA","` + id + `",1,"` + k + `",1],["GET","` + k + `"]]`, 200, `[{"result":7},{"result":"7"}]`},
		{"EVALSHA runs in a transaction", "/multi-exec", `[["EVALSHA","` + id + `",1,"` + k + `",1],["GET","` + k + `"]]`, 200, `[{"result":8},{"result":"8"}]`},
		{"SCRIPT FLUSH forgets it", "/", `["SCRIPT","FLUSH"]`, 200, `{"result":"OK"}`},
		{"EVALSHA after SCRIPT FLUSH is NOSCRIPT", "/", `["EVALSHA","` + id + `",1,"` + k + `",1]`, 400, ``},
		{"SCRIPT LOAD answers the client's SHA", "/", `["SCRIPT","LOAD",` + jsonStr(script) + `]`, 200, `{"result":"` + id + `"}`},
		{"EVALSHA after SCRIPT LOAD runs", "/", `["EVALSHA","` + id + `",1,"` + k + `",1]`, 200, `{"result":9}`},
		{"a key not in KEYS is refused", "/", `["EVAL",` + jsonStr("#!lua flags=allow-key-locking\nreturn redis.call('GET', KEYS[1] .. ':other')") + `,1,"` + k + `"]`, 400, ``},
		{"a key not in KEYS is refused through pcall too", "/", `["EVAL",` + jsonStr("#!lua flags=allow-key-locking\nlocal r = redis.pcall('SET', 'undeclared', 1) return r['err']") + `,1,"` + k + `"]`, 200, ``},
		{"commands without keys pass", "/", `["EVAL",` + jsonStr("#!lua flags=allow-key-locking\nreturn redis.call('TIME')[1] ~= nil") + `,0]`, 200, `{"result":1}`},
		{"multi-key commands are checked key by key", "/", `["EVAL",` + jsonStr("#!lua flags=allow-key-locking\nreturn redis.call('MSET', KEYS[1], 'a', KEYS[2], 'b')") + `,2,"` + k + `:a","` + k + `:b"]`, 200, `{"result":"OK"}`},
		{"a script without the flag may touch any key", "/", `["EVAL","return redis.call('GET', 'anything:' .. ARGV[1])",0,"x"]`, 200, `{"result":null}`},
		{"Lua errors keep their line numbers", "/", `["EVAL",` + jsonStr("#!lua flags=allow-key-locking\n\nerror('boom')") + `,0]`, 400, ``},
	}
	for _, s := range steps {
		r := f.do("POST", s.path, s.body)
		if r.status != s.wantStatus || (s.wantBody != "" && r.body != s.wantBody) {
			t.Fatalf("%s: got %d %s, want %d %s", s.name, r.status, r.body, s.wantStatus, s.wantBody)
		}
		switch {
		case strings.Contains(s.name, "NOSCRIPT") && !strings.Contains(r.body, "NOSCRIPT"):
			t.Fatalf("%s: %s", s.name, r.body)
		case strings.Contains(s.name, "not in KEYS") &&
			!strings.Contains(r.body, "ERR Dynamic keys are not allowed in Lua scripts when 'allow-key-locking' flag is set. Key was: "):
			t.Fatalf("%s: %s", s.name, r.body)
		case strings.Contains(s.name, "line numbers") && !strings.Contains(r.body, "user_script:3: boom"):
			t.Fatalf("%s: %s", s.name, r.body)
		}
	}
	// The billing names are the client's.
	st := f.emu.Stats()
	if st.CommandsByName["evalsha"] != 7 || st.CommandsByName["eval"] != 7 {
		t.Fatalf("billed by name: %v", st.CommandsByName)
	}
}
