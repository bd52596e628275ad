package aside_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The Cache starts goroutines for loads and background refreshes; none may
// outlive the tests' Close calls.
func TestMain(m *testing.M) {
	if nearChild() { // a process of TestNearNoStaleReadAcrossProcesses
		return
	}
	goleak.VerifyTestMain(m)
}
