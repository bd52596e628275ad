package aside

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestTagHintsAreBoundedInBytesAndCount(t *testing.T) {
	var h tagHints
	big := strings.Repeat("x", 20<<10) // a long tag, well under a single hint's share
	for i := range 5000 {
		env, err := parseEnvelope(newEntry(time.Now(), []stamp{{name: fmt.Sprint(big, i), version: 1}}, nil))
		if err != nil {
			t.Fatal(err)
		}
		h.learn(fmt.Sprintf("key%d", i), env, nil)
		if h.bytes > maxHintBytes {
			t.Fatalf("after %d hints they hold %d bytes, over %d", i+1, h.bytes, maxHintBytes)
		}
	}
	if h.get("key4999") == nil {
		t.Fatal("the latest hint was not kept")
	}
	huge := strings.Repeat("y", maxHintBytes/32)
	env, _ := parseEnvelope(newEntry(time.Now(), []stamp{{name: huge, version: 1}}, nil))
	h.learn("huge", env, nil)
	if h.get("huge") != nil {
		t.Fatal("a hint of a large share of the budget was kept")
	}
	for i := range 2 * maxHints {
		env, _ := parseEnvelope(newEntry(time.Now(), []stamp{{name: "t", version: 1}}, nil))
		h.learn(fmt.Sprint("k", i), env, nil)
	}
	if len(h.m) > maxHints {
		t.Fatalf("%d hints kept, over %d", len(h.m), maxHints)
	}
}
