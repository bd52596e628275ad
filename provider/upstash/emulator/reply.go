package emulator

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"

	goredis "github.com/redis/go-redis/v9"
)

// outcome is the answer to one command: a result or an error message.
type outcome struct {
	result any
	err    string
	isErr  bool
}

// appendOutcome writes {"result":...} or {"error":"..."}.
func appendOutcome(b []byte, o outcome, b64 bool) []byte {
	if o.isErr {
		b = append(b, `{"error":`...)
		b = appendString(b, o.err)
		return append(b, '}')
	}
	b = append(b, `{"result":`...)
	b = appendValue(b, o.result, b64, true)
	return append(b, '}')
}

// appendValue writes a Redis reply as Upstash does: null, an integer, a
// string or an array. With b64 every string is base64 (standard, padded)
// except a top-level "OK", which Upstash leaves plain; "OK" inside an array
// is encoded like any string, because the official client decodes every
// string of an array. Errors nested in an array (a script can return them)
// become their message, never encoded.
func appendValue(b []byte, v any, b64, top bool) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case string:
		if b64 && !(top && v == "OK") {
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, []byte(v))
			return append(b, '"')
		}
		return appendString(b, v)
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, e, b64, false)
		}
		return append(b, ']')
	case goredis.Error:
		return appendString(b, v.Error())
	case error:
		return appendString(b, v.Error())
	// RESP3 shapes, should a client without Protocol: 2 get here: written
	// as RESP2 would have sent them.
	case float64:
		return appendValue(b, formatFloat(v), b64, top)
	case bool:
		if v {
			return append(b, '1')
		}
		return append(b, '0')
	case *big.Int:
		return appendValue(b, v.String(), b64, top)
	case map[any]any:
		flat := make([]any, 0, 2*len(v))
		for k, e := range v {
			flat = append(flat, k, e)
		}
		return appendValue(b, flat, b64, top)
	case map[string]any:
		flat := make([]any, 0, 2*len(v))
		for k, e := range v {
			flat = append(flat, k, e)
		}
		return appendValue(b, flat, b64, top)
	}
	return appendValue(b, fmt.Sprint(v), b64, top)
}

func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', 17, 64)
}

// appendString writes s as a JSON string. Bytes that are not valid UTF-8
// become U+FFFD, as Upstash documents for replies without base64.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// classify splits what go-redis returned for one command into the outcome
// for the client, or a transport failure (Redis unreachable, timeout, the
// request's context ended) that fails the whole request.
func classify(val any, err error) (outcome, error) {
	switch {
	case err == nil:
		return outcome{result: val}, nil
	case errors.Is(err, goredis.Nil):
		return outcome{}, nil
	}
	var rerr goredis.Error
	if errors.As(err, &rerr) {
		return outcome{err: rerr.Error(), isErr: true}, nil
	}
	return outcome{}, err
}
