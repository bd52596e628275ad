package aside

import (
	"bytes"
	"testing"
	"time"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	fresh := time.UnixMilli(1_800_000_000_123)
	stamps := []stamp{{"user:42", 7}, {"", 1}, {"org:7", 1 << 63}}
	b := appendEnvelopeHeader(nil, fresh, stamps)
	b = append(b, "payload"...)
	e, err := parseEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	if e.kind != kindValue || e.freshUntil != fresh.UnixMilli() || e.nTags != len(stamps) || string(e.payload) != "payload" {
		t.Fatalf("parsed %+v", e)
	}
	raw := e.tagsRaw
	for _, want := range stamps {
		name, ver, rest := nextTag(raw)
		if string(name) != want.name || ver != want.version {
			t.Fatalf("tag %q/%d, want %q/%d", name, ver, want.name, want.version)
		}
		raw = rest
	}
	if len(raw) != 0 {
		t.Fatalf("%d bytes left after the tags", len(raw))
	}
	l, err := parseEnvelope(newLease())
	if err != nil || l.kind != kindLease {
		t.Fatalf("lease parsed as %+v, %v", l, err)
	}
}

// FuzzParseEnvelope: bytes read from a provider may be anything; parsing
// them never panics, and whatever parses walks its tags within bounds.
func FuzzParseEnvelope(f *testing.F) {
	f.Add(newLease())
	f.Add(append(appendEnvelopeHeader(nil, time.Now(), []stamp{{"a", 1}, {"bb", 2}}), 1, 2, 3))
	f.Add(appendEnvelopeHeader(nil, time.Time{}, nil))
	f.Add([]byte{envMagic, envVersion, kindValue, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{envMagic, envVersion, kindValue, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := parseEnvelope(b)
		if err != nil {
			return
		}
		if e.kind == kindLease {
			return
		}
		raw := e.tagsRaw
		for range e.nTags {
			_, _, raw = nextTag(raw)
		}
		if len(raw) != 0 {
			t.Fatalf("tags walk left %d bytes", len(raw))
		}
		if !bytes.HasSuffix(b, e.payload) {
			t.Fatal("payload is not the tail of the entry")
		}
		_, _ = parseTagRecord(b)
	})
}
