package codec_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside/codec"
)

// frameKinds returns one valid frame of every kind a Codec writes: raw (the
// ~120-byte User, as a Remember hit reads it), and zstd, s2, gzip and
// dictionary zstd frames of a compressible value, with the Codec that reads
// them all and what they decode to.
func frameKinds(t testing.TB) (c *codec.Codec, frames map[string][]byte, want map[string][]Item, user User) {
	t.Helper()
	d := trainDict(t, 40200, 5)
	c = codec.Must(codec.Options{Dictionary: d})
	frames, want = map[string][]byte{}, map[string][]Item{}
	var err error
	frames["none"], _, err = codec.Must(codec.Options{}).Marshal(nil, sampleUser())
	require.NoError(t, err)
	for _, k := range []struct {
		name string
		opts codec.Options
	}{
		{"zstd", codec.Options{Compression: codec.Zstd}},
		{"s2", codec.Options{Compression: codec.S2}},
		{"gzip", codec.Options{Compression: codec.Gzip}},
		{"zstd with a dictionary", codec.Options{Compression: codec.Zstd, Dictionary: d}},
	} {
		v := items(1 << 10)
		f, _, err := codec.Must(k.opts).Marshal(nil, v)
		require.NoError(t, err)
		require.Equal(t, k.opts.Compression, frameAlg(t, f), k.name)
		frames[k.name], want[k.name] = f, v
	}
	return c, frames, want, sampleUser()
}

// TestEveryBitFlipIsDetected flips each bit of a valid frame of each kind,
// one at a time, and requires every damaged frame to fail with an error:
// never a value (the same or another), never a panic. Version 1 frames,
// without a checksum, decoded 507 of 936 such flips of the User frame to a
// different User.
func TestEveryBitFlipIsDetected(t *testing.T) {
	c, frames, want, user := frameKinds(t)
	for name, frame := range frames {
		t.Run(name, func(t *testing.T) {
			if name == "none" {
				var u User
				require.NoError(t, c.Unmarshal(frame, &u))
				require.Equal(t, user, u)
			} else {
				var v []Item
				require.NoError(t, c.Unmarshal(frame, &v))
				require.Equal(t, want[name], v)
			}
			damaged := bytes.Clone(frame)
			kinds := map[error]int{}
			for bit := range 8 * len(frame) {
				damaged[bit/8] ^= 1 << (bit % 8)
				var err error
				if name == "none" {
					var u User
					err = c.Unmarshal(damaged, &u)
				} else {
					var v []Item
					err = c.Unmarshal(damaged, &v)
				}
				damaged[bit/8] ^= 1 << (bit % 8)
				require.Error(t, err, "bit %d of %d flipped", bit, 8*len(frame))
				for _, s := range []error{codec.ErrChecksum, codec.ErrBadMagic, codec.ErrVersion} {
					if errors.Is(err, s) {
						kinds[s]++
					}
				}
			}
			require.Equal(t, 8*len(frame), kinds[codec.ErrChecksum]+kinds[codec.ErrBadMagic]+kinds[codec.ErrVersion],
				"every flip is caught by the checksum, the magic byte or the version byte: %v", kinds)
		})
	}
	t.Run("the same flips of a version 1 frame decode to other values", func(t *testing.T) {
		// What the checksum is for, and proof that the loop above would
		// see a flip that decodes.
		v1 := asVersion1(frames["none"])
		wrong := 0
		for bit := range 8 * len(v1) {
			v1[bit/8] ^= 1 << (bit % 8)
			var u User
			if c.Unmarshal(v1, &u) == nil && !reflect.DeepEqual(u, user) {
				wrong++
			}
			v1[bit/8] ^= 1 << (bit % 8)
		}
		t.Logf("version 1: %d of %d flips of the %d-byte User frame decode to a different User", wrong, 8*len(v1), len(v1))
		require.Positive(t, wrong)
	})
}

// asVersion1 turns a version 2 frame into the version 1 frame with the same
// header and payload (no checksum).
func asVersion1(f []byte) []byte {
	v1 := bytes.Clone(f[:len(f)-8])
	v1[1] = 1
	return v1
}

func TestVersion1FramesStillDecode(t *testing.T) {
	c, frames, want, user := frameKinds(t)
	for name, frame := range frames {
		t.Run(fmt.Sprintf("a version 1 %s frame decodes", name), func(t *testing.T) {
			v1 := asVersion1(frame)
			if name == "none" {
				var u User
				require.NoError(t, c.Unmarshal(v1, &u))
				require.Equal(t, user, u)
				return
			}
			var v []Item
			require.NoError(t, c.Unmarshal(v1, &v))
			require.Equal(t, want[name], v)
		})
	}
	t.Run("a version 2 frame read as version 1 fails", func(t *testing.T) {
		// Two flipped bits turn version 2 into 1: the checksum then
		// trails the payload, and every algorithm notices.
		for name, frame := range frames {
			v := bytes.Clone(frame)
			v[1] = 1
			var u []Item
			require.Error(t, c.Unmarshal(v, &u), name)
		}
	})
}

func TestChecksumCoversTheWholeFrame(t *testing.T) {
	c, frames, _, _ := frameKinds(t)
	frame := frames["zstd with a dictionary"]
	// Header fields, each rewritten to another valid value: the algorithm,
	// the dictionary ID, the claimed length. Only the checksum tells.
	for _, pos := range []int{2, 4, 8} {
		bad := bytes.Clone(frame)
		bad[pos]++
		var v []Item
		require.ErrorIs(t, c.Unmarshal(bad, &v), codec.ErrChecksum, "byte %d changed", pos)
		require.ErrorIs(t, c.Unmarshal(bad, &v), codec.ErrCorrupt, "byte %d changed", pos)
	}
	t.Run("two frames spliced together fail", func(t *testing.T) {
		a, b := frames["none"], frames["s2"]
		spliced := append(bytes.Clone(a[:len(a)/2]), b[len(b)/2:]...)
		var v any
		require.ErrorIs(t, c.Unmarshal(spliced, &v), codec.ErrCorrupt)
	})
}
