//go:build race

package codec

// raceEnabled: the race detector slows everything down and makes
// sync.Pool drop what it is given, so allocation figures mean little.
const raceEnabled = true
