package emulator

import (
	"strings"
	"testing"
)

func TestStripKeyLocking(t *testing.T) {
	cases := []struct {
		name, in  string
		want      string // the new first line; "" when the script is left alone
		wantTouch bool
	}{
		{"a script without shebang is left alone", "return 1", "", false},
		{"a shebang without the flag is left alone", "#!lua flags=no-writes\nreturn 1", "", false},
		{"a shebang without flags is left alone", "#!lua\nreturn 1", "", false},
		{"the flag alone leaves a bare shebang", "#!lua flags=allow-key-locking\nreturn 1", "#!lua", true},
		{"other flags are kept", "#!lua flags=no-writes,allow-key-locking,allow-oom\nreturn 1", "#!lua flags=no-writes,allow-oom", true},
		{"other parameters are kept", "#!lua name=x flags=allow-key-locking\nreturn 1", "#!lua name=x", true},
		{"a script that is only a shebang", "#!lua flags=allow-key-locking", "#!lua", true},
		{"CRLF line ends are kept", "#!lua flags=allow-key-locking\r\nreturn 1", "#!lua\r", true},
		{"a flag in the body is not a flag", "return 1\n#!lua flags=allow-key-locking", "", false},
		{"a similar flag is not the flag", "#!lua flags=allow-key-locking2\nreturn 1", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, touched := stripKeyLocking(c.in)
			if touched != c.wantTouch {
				t.Fatalf("touched = %v", touched)
			}
			if !touched {
				if got != c.in {
					t.Fatalf("changed an unflagged script: %q", got)
				}
				return
			}
			line, rest, _ := strings.Cut(got, "\n")
			if line != c.want {
				t.Fatalf("first line %q, want %q", line, c.want)
			}
			_, body, _ := strings.Cut(c.in, "\n")
			if rest != keyCheckPrologue+body {
				t.Fatalf("body %q, want the prologue then %q", rest, body)
			}
			if strings.Contains(keyCheckPrologue, "\n") {
				t.Fatal("the prologue spans lines: Lua's line numbers would move")
			}
		})
	}
}

func TestScriptTableIsBounded(t *testing.T) {
	var s scripts
	for i := range maxScripts + 100 {
		s.put(scriptSHA(strings.Repeat("x", i)), "body")
	}
	if n := s.len(); n != maxScripts {
		t.Fatalf("%d scripts held, want the bound %d", n, maxScripts)
	}
	big := strings.Repeat("y", maxScriptBytes/2+1)
	s.put("a", big)
	s.put("b", big)
	if s.bytes > maxScriptBytes {
		t.Fatalf("%d bytes held, over the bound %d", s.bytes, maxScriptBytes)
	}
	if _, ok := s.get("b"); !ok {
		t.Fatal("the newest script was dropped")
	}
	s.put("b", "small")
	if _, ok := s.get("B"); !ok {
		t.Fatal("SHA lookups are case-insensitive, as Redis's")
	}
	s.flush()
	if s.len() != 0 || s.bytes != 0 {
		t.Fatal("flush kept scripts")
	}
}
