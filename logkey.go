package aside

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
)

// maxLogKey is the longest key a log line shows whole.
const maxLogKey = 96

// logKey is how a key (or a glob) appears in log lines and errors. Keys
// can carry secrets past their path: the HTTP middleware's are "mw:" + the
// URL with its query (?token=...) + Vary header values, and an
// application's own may embed "session=..." anywhere. So a key is shown
// whole only when it is short and has no '?', '=' or ' '; otherwise it is
// cut before the first of them (or at maxLogKey bytes) and followed by
// "...#" and a 64-bit hash of the whole key in hex, which tells keys apart
// without revealing what was cut:
//
//	user:42:summary                                     (as it is)
//	mw:http://shop.example/products...#9f86d081884c7d65 (query and headers cut)
func logKey(key string) string {
	cut := strings.IndexAny(key, "?= ")
	if cut < 0 && len(key) <= maxLogKey {
		return key
	}
	if cut < 0 || cut > maxLogKey {
		cut = maxLogKey
		for cut > 0 && !utf8.RuneStart(key[cut]) {
			cut--
		}
	}
	b := make([]byte, 0, cut+4+16)
	b = append(b, key[:cut]...)
	b = append(b, "...#"...)
	h := strconv.FormatUint(xxhash.Sum64String(key), 16)
	for range 16 - len(h) {
		b = append(b, '0')
	}
	b = append(b, h...)
	return string(b)
}

// logKeys applies logKey to each key.
func logKeys(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = logKey(k)
	}
	return out
}
