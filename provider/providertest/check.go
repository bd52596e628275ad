package providertest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// The suite's assertions. They are small on purpose: the suite is imported
// by every adapter's tests, and it keeps their dependencies to the standard
// library. Each fails the test at once; msg is a format and its arguments.

func describe(msg []any) string {
	if len(msg) == 0 {
		return ""
	}
	if f, ok := msg[0].(string); ok {
		return fmt.Sprintf(f, msg[1:]...) + ": "
	}
	return fmt.Sprint(msg...) + ": "
}

func noError(t testing.TB, err error, msg ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%sunexpected error: %v", describe(msg), err)
	}
}

func errorIs(t testing.TB, err, target error, msg ...any) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%sgot error %v, want one matching %q", describe(msg), err, target)
	}
}

func notErrorIs(t testing.TB, err, target error, msg ...any) {
	t.Helper()
	if errors.Is(err, target) {
		t.Fatalf("%sgot error %v, which must not match %q", describe(msg), err, target)
	}
}

// equal compares with reflect.DeepEqual, except that two byte slices are
// equal when their bytes are (nil and empty alike; use isNil to tell them
// apart).
func equal(t testing.TB, want, got any, msg ...any) {
	t.Helper()
	if wb, ok := want.([]byte); ok {
		if gb, ok := got.([]byte); ok {
			if !bytes.Equal(wb, gb) {
				t.Fatalf("%sgot %s, want %s", describe(msg), show(gb), show(wb))
			}
			return
		}
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%sgot %#v, want %#v", describe(msg), got, want)
	}
}

// show prints a value for a failure message, cut short if it is large.
func show(b []byte) string {
	if b == nil {
		return "nil"
	}
	if len(b) > 64 {
		return fmt.Sprintf("%q... (%d bytes)", b[:64], len(b))
	}
	return fmt.Sprintf("%q", b)
}

func isTrue(t testing.TB, cond bool, msg ...any) {
	t.Helper()
	if !cond {
		t.Fatalf("%scondition is false", describe(msg))
	}
}

func isFalse(t testing.TB, cond bool, msg ...any) {
	t.Helper()
	if cond {
		t.Fatalf("%scondition is true", describe(msg))
	}
}

func isNil(t testing.TB, b []byte, msg ...any) {
	t.Helper()
	if b != nil {
		t.Fatalf("%sgot %s, want nil", describe(msg), show(b))
	}
}

func notNil(t testing.TB, b []byte, msg ...any) {
	t.Helper()
	if b == nil {
		t.Fatalf("%sgot nil, want a non-nil slice", describe(msg))
	}
}

func isEmpty(t testing.TB, n int, msg ...any) {
	t.Helper()
	if n != 0 {
		t.Fatalf("%sgot length %d, want empty", describe(msg), n)
	}
}
