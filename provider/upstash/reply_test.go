package upstash

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseOutcome(t *testing.T) {
	tests := []struct {
		name, body string
		want       outcome
	}{
		{"a null result", `{"result":null}`, outcome{val: value{kind: kNull}}},
		{"an integer", `{"result":-42}`, outcome{val: value{kind: kInt, num: -42}}},
		{"a string", `{"result":"aGk="}`, outcome{val: value{kind: kStr, str: []byte("aGk=")}}},
		{"a string with escapes", `{"result":"a\"b\\c\u00e9\ud83d\udd11\n"}`, outcome{val: value{kind: kStr, str: []byte("a\"b\\cé🔑\n")}}},
		{"a nested array", `{"result":["0",["a",null,7,[]]]}`, outcome{val: value{kind: kArr, arr: []value{
			{kind: kStr, str: []byte("0")},
			{kind: kArr, arr: []value{{kind: kStr, str: []byte("a")}, {kind: kNull}, {kind: kInt, num: 7}, {kind: kArr, arr: []value{}}}},
		}}}},
		{"an error", `{"error":"WRONGTYPE Operation against a key holding the wrong kind of value"}`,
			outcome{err: "WRONGTYPE Operation against a key holding the wrong kind of value", isErr: true}},
		{"unknown members are skipped", ` { "took" : [1, {"a": true}, false] , "result" : 1 } `, outcome{val: value{kind: kInt, num: 1}}},
		{"a float is kept as text", `{"result":1.5e3}`, outcome{val: value{kind: kStr, str: []byte("1.5e3")}}},
		{"an integer beyond int64 is kept as text", `{"result":99999999999999999999}`, outcome{val: value{kind: kStr, str: []byte("99999999999999999999")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseOutcome([]byte(tt.body))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseOutcomeRefusesWhatIsNotAReply(t *testing.T) {
	for _, body := range []string{
		``, `null`, `[]`, `{}`, `{"result":1`, `{"result":1}x`, `{"result":01}`, `{"result":-}`,
		`{"result":"unterminated}`, "{\"result\":\"ctrl\x01\"}", `{"result":{"a":1}}`, `{"result":tru}`,
		`{"result":[1,]}`, `{"result":[1 2]}`, `{"other":1}`, `{"error":1}`, `{"result":"\u12"}`,
		`{"result":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}`,
	} {
		_, err := parseOutcome([]byte(body))
		require.ErrorIs(t, err, ErrProtocol, "body %q", body)
	}
}

func TestParseOutcomes(t *testing.T) {
	outs, whole, err := parseOutcomes([]byte(`[{"result":"OK"},{"error":"ERR x"},{"result":[null]}]`), 3)
	require.NoError(t, err)
	require.False(t, whole)
	require.Len(t, outs, 3)
	require.True(t, outs[1].isErr)

	outs, whole, err = parseOutcomes([]byte(`{"error":"ERR max requests limit exceeded"}`), 3)
	require.NoError(t, err)
	require.True(t, whole, "one error for the whole pipeline")
	require.Equal(t, "ERR max requests limit exceeded", outs[0].err)

	_, _, err = parseOutcomes([]byte(`[{"result":1}]`), 2)
	require.ErrorIs(t, err, ErrProtocol, "one result for two commands")
	_, _, err = parseOutcomes([]byte(`{"result":1}`), 2)
	require.ErrorIs(t, err, ErrProtocol)
}

func TestDecodeBase64Strings(t *testing.T) {
	b := base64.StdEncoding.EncodeToString
	o, err := parseOutcome([]byte(`{"result":["` + b([]byte("17")) + `",["` + b([]byte("k\xff\x00")) + `","OK"]]}`))
	require.NoError(t, err)
	require.NoError(t, decodeBase64Strings(&o.val))
	require.Equal(t, "17", string(o.val.arr[0].str))
	require.Equal(t, "k\xff\x00", string(o.val.arr[1].arr[0].str))
	require.Equal(t, "OK", string(o.val.arr[1].arr[1].str), "Upstash leaves OK plain")

	o, err = parseOutcome([]byte(`{"result":["not base64!"]}`))
	require.NoError(t, err)
	require.ErrorIs(t, decodeBase64Strings(&o.val), ErrProtocol)
}

func TestHostileSizesAreBounded(t *testing.T) {
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	_, err := parseOutcome([]byte(`{"result":` + deep + `}`))
	require.ErrorIs(t, err, ErrProtocol)
	_, err = parseOutcome([]byte(`{"x":` + strings.Repeat(`{"a":`, 100000) + `1` + strings.Repeat("}", 100000) + `,"result":1}`))
	require.ErrorIs(t, err, ErrProtocol)
	many := `{"result":[` + strings.Repeat("0,", maxValues) + `0]}`
	_, err = parseOutcome([]byte(many))
	require.ErrorIs(t, err, ErrProtocol, "more values than maxValues")
}

func TestServerErrors(t *testing.T) {
	tests := []struct {
		msg      string
		sentinel error
		billed   bool
	}{
		{"ERR max requests limit exceeded. Limit: 500000, Usage: 500000", ErrQuota, false},
		{"ERR max daily request limit exceeded", ErrQuota, false},
		{"ERR max request size exceeded", ErrQuota, false},
		{"ERR DB capacity quota exceeded", ErrQuota, false},
		{"WRONGPASS invalid or missing auth token", ErrUnauthorized, false},
		{"NOPERM this user has no permissions to run the 'set' command", ErrUnauthorized, false},
		{"ERR Command is not available: 'FLUSHALL'", nil, false},
		{"NOSCRIPT No matching script", nil, true},
		{"ERR syntax error", nil, true},
	}
	for _, tt := range tests {
		err := serverError(tt.msg)
		if tt.sentinel != nil {
			require.ErrorIs(t, err, tt.sentinel, tt.msg)
		} else {
			var ce *CommandError
			require.True(t, errors.As(err, &ce), tt.msg)
		}
		require.Equal(t, tt.billed, billed(tt.msg), tt.msg)
	}
}

// FuzzParseReply feeds the parser arbitrary bodies, seeded with real
// replies and hostile shapes: it must never panic, and what it accepts must
// be JSON that encoding/json accepts too.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		`{"result":"OK"}`, `{"result":null}`, `{"result":12}`, `{"error":"ERR x"}`,
		`[{"result":"aGk="},{"error":"WRONGTYPE x"},{"result":["0",["a","b"]]}]`,
		`{"result":"a\u00e9\ud83d\udd11"}`, `{"result":[[[[[[[[]]]]]]]]}`,
		`{"result":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
		`{"result":[` + strings.Repeat("null,", 1000) + `null]}`,
		`{"result":"` + strings.Repeat("A", 4096) + `"}`, `{"result":-0}`, `{"result":1e400}`,
		`{"result":"\ud800"}`, "{\"result\":\"\xff\xfe\"}", `{"x":{"y":[1,{"z":null}]},"result":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := parseOutcome(body)
		if err == nil {
			if !json.Valid(body) {
				t.Fatalf("accepted %q, which is not JSON", body)
			}
			_ = decodeBase64Strings(&o.val)
		}
		outs, _, err := parseOutcomes(body, 3)
		if err == nil {
			if !json.Valid(body) {
				t.Fatalf("accepted %q, which is not JSON", body)
			}
			for i := range outs {
				_ = decodeBase64Strings(&outs[i].val)
			}
		}
	})
}
