package codec

import (
	"fmt"
	"strconv"
	"strings"
)

// Algorithm names a compression algorithm. The zero value is [Zstd].
//
// The numeric values are written into every frame, so they are part of the
// format: never reorder or reuse them.
type Algorithm uint8

const (
	// Zstd is Zstandard (klauspost/compress/zstd): the best ratio for cached
	// values at a few hundred MB/s, and the only algorithm that can use a
	// trained dictionary. The default.
	Zstd Algorithm = iota
	// S2 is klauspost's Snappy extension (block format): the fastest to
	// compress and decompress, with a lower ratio than zstd.
	S2
	// Gzip is RFC 1952 gzip (klauspost/compress/gzip), mainly for HTTP bodies
	// sent as-is with Content-Encoding: gzip.
	Gzip
	// None stores the payload as it is.
	None
)

// ParseAlgorithm parses "zstd", "s2", "gzip" or "none", ignoring case and
// surrounding white space, as found in configuration and environment
// variables.
func ParseAlgorithm(s string) (Algorithm, error) {
	t := strings.TrimSpace(s)
	for a := Zstd; a <= None; a++ {
		if strings.EqualFold(t, a.String()) {
			return a, nil
		}
	}
	return 0, fmt.Errorf("%w: %q (accepted: zstd, s2, gzip, none)", ErrUnknownAlgorithm, s)
}

// String returns the name [ParseAlgorithm] accepts, or "Algorithm(N)" for a
// value outside the defined constants.
func (a Algorithm) String() string {
	switch a {
	case Zstd:
		return "zstd"
	case S2:
		return "s2"
	case Gzip:
		return "gzip"
	case None:
		return "none"
	}
	return "Algorithm(" + strconv.Itoa(int(a)) + ")"
}

// Default levels, used when a level of 0 is given.
const (
	defaultZstdLevel = 3 // zstd's own default; klauspost's SpeedDefault
	defaultS2Level   = 1 // s2.Encode
	defaultGzipLevel = 5 // klauspost flate's DefaultCompression
)

// resolveLevel turns a user level (0 = default) into the algorithm's level,
// or reports the accepted range.
func resolveLevel(a Algorithm, level int) (int, error) {
	lo, hi, def := 0, 0, 0
	switch a {
	case Zstd:
		lo, hi, def = 1, 22, defaultZstdLevel
	case S2:
		lo, hi, def = 1, 3, defaultS2Level
	case Gzip:
		lo, hi, def = 1, 9, defaultGzipLevel
	case None:
		return 0, nil
	default:
		return 0, fmt.Errorf("%w: %s", ErrUnknownAlgorithm, a)
	}
	if level == 0 {
		return def, nil
	}
	if level < lo || level > hi {
		return 0, fmt.Errorf("%w: Level %d for %s (accepted: 0 for the default, or %d to %d)", ErrBadOptions, level, a, lo, hi)
	}
	return level, nil
}
