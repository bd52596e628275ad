package aside

import (
	"bytes"
	"testing"
	"time"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	fresh := time.UnixMilli(1_800_000_000_123)
	stamps := []stamp{{name: "user:42", version: 7}, {name: "", version: 1}, {name: "org:7", version: 1 << 63}}
	b := newEntry(fresh, stamps, []byte("payload"))
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
	f.Add(newEntry(time.Now(), []stamp{{name: "a", version: 1}, {name: "bb", version: 2}}, []byte{1, 2, 3}))
	f.Add(newEntry(time.Time{}, nil, nil))
	f.Add(newTagRecord(time.Now(), time.Now().Add(time.Hour)))
	f.Add([]byte{envMagic, envV1, kindValue, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{envMagic, envV1, kindValue, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
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
		if r, st := parseTagRecord(b); st == recOK && r.version == 0 {
			t.Fatal("a record parsed with version 0")
		}
	})
}

func TestEveryFlippedBitOfAnEntryIsDetected(t *testing.T) {
	stamps := []stamp{{name: "user:42", version: 7}, {name: "org:7", version: 99}}
	b := newEntry(time.UnixMilli(1_800_000_000_123), stamps, []byte("a codec frame of some length"))
	for i := 3; i < len(b); i++ { // bytes 0-2 are checked by value
		for bit := range 8 {
			d := bytes.Clone(b)
			d[i] ^= 1 << bit
			if _, err := parseEnvelope(d); err == nil {
				t.Fatalf("a flip of bit %d of byte %d went unnoticed", bit, i)
			}
		}
	}
	for i := range 3 {
		for bit := range 8 {
			d := bytes.Clone(b)
			d[i] ^= 1 << bit
			if e, err := parseEnvelope(d); err == nil && e.kind == kindValue {
				t.Fatalf("a flip of bit %d of header byte %d parsed as a value", bit, i)
			}
		}
	}
}

func TestEveryFlippedBitOfATagRecordIsDetected(t *testing.T) {
	b := newTagRecord(time.Unix(1_800_000_000, 5), time.Unix(1_800_000_100, 0))
	want, st := parseTagRecord(b)
	if st != recOK {
		t.Fatal("a fresh record does not parse")
	}
	for i := range b {
		for bit := range 8 {
			d := bytes.Clone(b)
			d[i] ^= 1 << bit
			if r, st := parseTagRecord(d); st == recOK || r.version != 0 {
				t.Fatalf("a flip of bit %d of byte %d read as %+v (was %+v)", bit, i, r, want)
			}
		}
	}
}

func TestVersionOneEntriesAndRecordsAreStillRead(t *testing.T) {
	v1 := []byte{envMagic, envV1, kindValue, 0x05, 0x01, 0x01, 'a'}
	v1 = append(v1, 7, 0, 0, 0, 0, 0, 0, 0)
	v1 = append(v1, "frame"...)
	e, err := parseEnvelope(v1)
	if err != nil || e.freshUntil != 5 || e.nTags != 1 || string(e.payload) != "frame" {
		t.Fatalf("version-1 entry parsed as %+v, %v", e, err)
	}
	rec := make([]byte, tagRecordV1Len)
	rec[0] = 9
	if r, st := parseTagRecord(rec); st != recOK || r.version != 9 || r.keptUntil != 0 {
		t.Fatalf("version-1 record parsed as %+v, %v", r, st)
	}
	if _, st := parseTagRecord(nil); st != recMissing {
		t.Fatal("nil is not a missing record")
	}
	if _, st := parseTagRecord([]byte("garbage")); st != recGarbled {
		t.Fatal("garbage is not a garbled record")
	}
}
