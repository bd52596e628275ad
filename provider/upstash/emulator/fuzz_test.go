package emulator

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// hostile are request bodies of the shapes a fuzzer reaches slowly: deep
// nesting, huge counts, odd escapes, numbers at the edges.
func hostile() [][]byte {
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	many := "[" + strings.Repeat(`"a",`, 50000) + `"a"]`
	manyCmds := "[" + strings.Repeat(`["GET","k"],`, 20000) + `["GET","k"]]`
	return [][]byte{
		[]byte(deep),
		[]byte("[" + deep + "]"),
		[]byte(many),
		[]byte(manyCmds),
		[]byte(`["SET","k","\ud800\udc00\ud800","\u0000"]`),
		[]byte(`["SET","k",1e999,-0,0.0000001,123456789012345678901234567890]`),
		[]byte(`["SET","k",true,false]`),
		[]byte(`[["GET","k"],null]`),
		[]byte(`["GET","k"] trailing`),
		[]byte("\xff\xfe[\"GET\"]"),
		[]byte(`{"cmd":["GET"]}`),
		[]byte(`[""]`),
		[]byte(``),
	}
}

func FuzzParseCommand(f *testing.F) {
	f.Add([]byte(`["SET","k","v","EX",60]`))
	f.Add([]byte(`["eval","return 1",1,"k1","a1",2]`))
	for _, h := range hostile() {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		args, err := parseCommand(body)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "ERR ") {
				t.Fatalf("an error without Upstash's prefix: %v", err)
			}
			return
		}
		if len(args) == 0 {
			t.Fatal("a command without a name")
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		// The arguments, sent again as JSON strings, parse to themselves.
		again, err := json.Marshal(args)
		if err != nil {
			t.Fatal(err)
		}
		back, err := parseCommand(again)
		if err != nil || strings.Join(back, "\x00") != strings.Join(args, "\x00") {
			t.Fatalf("round trip of %q: %q, %v", args, back, err)
		}
	})
}

func FuzzParseCommands(f *testing.F) {
	f.Add([]byte(`[["SET","a","1"],["GET","a"],["INCR","c"]]`))
	for _, h := range hostile() {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		cmds, err := parseCommands(body)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "ERR ") {
				t.Fatalf("an error without Upstash's prefix: %v", err)
			}
			return
		}
		if len(cmds) == 0 || !json.Valid(body) {
			t.Fatalf("accepted %q as %d commands", body, len(cmds))
		}
		for _, c := range cmds {
			if len(c) == 0 {
				t.Fatal("an empty command")
			}
		}
	})
}

func FuzzParsePath(f *testing.F) {
	f.Add("/set/key/value", "EX=100&_token=secret", []byte(""), false)
	f.Add("/set/k%2Fey", "NX", []byte("body\x00\xff"), true)
	f.Add("/get/%zz", "", []byte(nil), false)
	f.Add("//", "=&&=x&%", []byte(nil), false)
	f.Add("/"+strings.Repeat("a/", 10000), strings.Repeat("k=v&", 10000), []byte(nil), false)
	f.Fuzz(func(t *testing.T, path, query string, body []byte, hasBody bool) {
		args, err := parsePath(path, query, body, hasBody)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "ERR ") {
				t.Fatalf("an error without Upstash's prefix: %v", err)
			}
			if strings.Contains(query, "secret") && strings.Contains(err.Error(), "secret") {
				t.Fatalf("the error echoes the query: %v", err)
			}
			return
		}
		if len(args) == 0 {
			t.Fatal("a command without a name")
		}
		if hasBody {
			found := false
			for _, a := range args {
				found = found || a == string(body)
			}
			if !found {
				t.Fatalf("the body is not among the arguments %q", args)
			}
		}
	})
}

func FuzzReplyEncoding(f *testing.F) {
	f.Add("OK")
	f.Add("\xff\xfe\x00 \u2028 \"\\ </script>")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		plain := appendValue(nil, []any{s, int64(-7), nil, []any{s}}, false, true)
		var got []any
		if err := json.Unmarshal(plain, &got); err != nil {
			t.Fatalf("invalid JSON %q: %v", plain, err)
		}
		if want := string([]rune(s)); got[0] != want {
			t.Fatalf("plain %q decoded to %q, want %q", s, got[0], want)
		}
		enc := appendValue(nil, s, true, false)
		var b64 string
		if err := json.Unmarshal(enc, &b64); err != nil {
			t.Fatalf("invalid JSON %q: %v", enc, err)
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil || string(raw) != s {
			t.Fatalf("base64 of %q decoded to %q, %v", s, raw, err)
		}
	})
}
