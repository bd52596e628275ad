package middleware

import (
	"encoding/binary"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEntryRoundTrip(t *testing.T) {
	e := &entry{
		status: 200, flags: flagNoStale | flagOwnETag, storedAt: 1_700_000_000_000_000, lifetime: 60_000, age: 30_000,
		swr: 5_000, sie: 7_000, enc: encIdentity, shared: true, rawLen: 4,
		varyOn: []string{"X-Flavour"}, variant: "X-Flavour=a",
		header: http.Header{"Content-Type": {"text/plain"}, "Date": {"Sun, 06 Nov 1994 08:49:37 GMT"}}, body: []byte("body"),
	}
	got, err := decodeEntry(e.appendTo(nil))
	require.NoError(t, err)
	require.Equal(t, e.status, got.status)
	require.Equal(t, e.flags|flagShared, got.flags)
	require.Equal(t, []int64{e.storedAt, e.lifetime, e.age, e.swr, e.sie}, []int64{got.storedAt, got.lifetime, got.age, got.swr, got.sie})
	require.Equal(t, e.varyOn, got.varyOn)
	require.Equal(t, e.variant, got.variant)
	require.Equal(t, e.header, got.header)
	require.Equal(t, "body", string(got.body))
	require.True(t, got.shared)
	require.Equal(t, e.storedAt+30_000_000, got.freshUntil())
}

// Entries written before format version 2 are still read: their ttl is the
// lifetime, with no age, windows or variants.
func TestEntryVersion1IsStillRead(t *testing.T) {
	b := []byte{entryMagic, entryVersionV1, flagShared | 0x40, encIdentity}
	for _, v := range []uint64{200, 1_700_000_000_000_000, 60_000, 4 + 1, 1} {
		b = binary.AppendUvarint(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len("Etag")))
	b = append(b, "Etag"...)
	b = binary.AppendUvarint(b, 1)
	b = binary.AppendUvarint(b, uint64(len(`"x"`)))
	b = append(b, `"x"`...)
	b = append(b, "body"...)
	e, err := decodeEntry(b)
	require.NoError(t, err)
	require.True(t, e.shared)
	require.Equal(t, uint8(flagShared), e.flags, "version 1 knew only the shared flag")
	require.Equal(t, int64(60_000), e.lifetime)
	require.Zero(t, e.age)
	require.Empty(t, e.varyOn)
	require.Equal(t, `"x"`, e.etag)
	require.Equal(t, "body", string(e.body))
}

func FuzzDecodeEntry(f *testing.F) {
	e := &entry{status: 200, storedAt: 1, lifetime: 2, rawLen: 2, varyOn: []string{"A"}, variant: "A=1",
		header: http.Header{"X": {"y"}}, body: []byte("hi"), shared: true}
	f.Add(e.appendTo(nil))
	f.Add([]byte{entryMagic, entryVersionV1, 1, 0, 200, 1, 1, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeEntry(b)
		if err != nil {
			return
		}
		again, err := decodeEntry(got.appendTo(nil))
		require.NoError(t, err)
		require.Equal(t, got.status, again.status)
		require.Equal(t, got.body, again.body)
	})
}
