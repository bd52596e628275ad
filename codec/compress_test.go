package codec_test

import (
	"bytes"
	stdgzip "compress/gzip"
	"io"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside/codec"
)

var bodySizes = []struct {
	name string
	body []byte
}{
	{"an empty body", []byte{}},
	{"a 5-byte body", []byte("hello")},
	{"a 64 KiB text body", text(64 << 10)},
	{"a 1 MiB random body", randomBytes(1 << 20)},
}

func TestAppendCompressedIsAStandardStream(t *testing.T) {
	for _, b := range bodySizes {
		t.Run("gzip of "+b.name+" reads back with compress/gzip", func(t *testing.T) {
			out, err := codec.AppendCompressed(nil, b.body, codec.Gzip, 0)
			require.NoError(t, err)
			zr, err := stdgzip.NewReader(bytes.NewReader(out))
			require.NoError(t, err)
			got, err := io.ReadAll(zr)
			require.NoError(t, err)
			require.True(t, bytes.Equal(b.body, got))
		})
		t.Run("zstd of "+b.name+" reads back with a plain zstd stream decoder", func(t *testing.T) {
			out, err := codec.AppendCompressed(nil, b.body, codec.Zstd, 0)
			require.NoError(t, err)
			h := zstd.Header{}
			require.NoError(t, h.Decode(out))
			require.Zero(t, h.DictionaryID, "no dictionary in HTTP bodies")
			zr, err := zstd.NewReader(bytes.NewReader(out))
			require.NoError(t, err)
			defer zr.Close()
			got, err := io.ReadAll(zr)
			require.NoError(t, err)
			require.True(t, bytes.Equal(b.body, got))
		})
		t.Run("s2 of "+b.name+" is an s2 block", func(t *testing.T) {
			out, err := codec.AppendCompressed(nil, b.body, codec.S2, 0)
			require.NoError(t, err)
			got, err := s2.Decode(nil, out)
			require.NoError(t, err)
			require.True(t, bytes.Equal(b.body, got))
		})
	}
}

func TestAppendRoundTrip(t *testing.T) {
	for _, a := range allAlgs {
		for _, level := range []int{0, 1} {
			for _, b := range bodySizes {
				t.Run(a.String()+" round-trips "+b.name, func(t *testing.T) {
					prefix := []byte("pre")
					comp, err := codec.AppendCompressed(bytes.Clone(prefix), b.body, a, level)
					require.NoError(t, err)
					require.Equal(t, prefix, comp[:3])
					if a != codec.None && b.name == "a 64 KiB text body" {
						require.Less(t, len(comp), len(b.body)/2, "text compresses")
					}
					got, err := codec.AppendDecompressed(bytes.Clone(prefix), comp[3:], a)
					require.NoError(t, err)
					require.Equal(t, prefix, got[:3])
					require.True(t, bytes.Equal(b.body, got[3:]))
				})
			}
		}
	}
}

func TestAppendCompressedRejectsBadArguments(t *testing.T) {
	_, err := codec.AppendCompressed(nil, []byte("x"), codec.Gzip, 11)
	require.ErrorIs(t, err, codec.ErrBadOptions)
	_, err = codec.AppendCompressed(nil, []byte("x"), codec.Algorithm(8), 0)
	require.ErrorIs(t, err, codec.ErrUnknownAlgorithm)
	_, err = codec.AppendDecompressed(nil, []byte("x"), codec.Algorithm(8))
	require.ErrorIs(t, err, codec.ErrUnknownAlgorithm)
}

func TestAppendDecompressedStopsBombs(t *testing.T) {
	zeros := make([]byte, codec.DefaultMaxSize+1)
	for _, a := range []codec.Algorithm{codec.Zstd, codec.S2, codec.Gzip, codec.None} {
		t.Run(a.String()+" output over 64 MiB fails with ErrTooLarge", func(t *testing.T) {
			bomb, err := codec.AppendCompressed(nil, zeros, a, 0)
			require.NoError(t, err)
			dst := []byte("keep")
			out, err := codec.AppendDecompressed(dst, bomb, a)
			require.ErrorIs(t, err, codec.ErrTooLarge)
			require.Equal(t, []byte("keep"), out)
		})
	}
	t.Run("exactly 64 MiB of zstd still decodes", func(t *testing.T) {
		comp, err := codec.AppendCompressed(nil, zeros[:codec.DefaultMaxSize], codec.Zstd, 0)
		require.NoError(t, err)
		out, err := codec.AppendDecompressed(nil, comp, codec.Zstd)
		require.NoError(t, err)
		require.Len(t, out, codec.DefaultMaxSize)
	})
}

func TestAppendDecompressedRejectsGarbage(t *testing.T) {
	good := map[codec.Algorithm][]byte{}
	for _, a := range []codec.Algorithm{codec.Zstd, codec.S2, codec.Gzip} {
		out, err := codec.AppendCompressed(nil, text(10000), a, 0)
		require.NoError(t, err)
		good[a] = out
	}
	for a, comp := range good {
		t.Run(a.String()+" garbage is corrupt", func(t *testing.T) {
			_, err := codec.AppendDecompressed(nil, []byte("definitely not compressed"), a)
			require.ErrorIs(t, err, codec.ErrCorrupt)
		})
		t.Run(a.String()+" truncated input fails", func(t *testing.T) {
			for _, n := range []int{0, 1, len(comp) / 2, len(comp) - 1} {
				if a == codec.Zstd && n == 0 {
					continue // an empty input is zero zstd frames: empty output
				}
				_, err := codec.AppendDecompressed(nil, comp[:n], a)
				require.Error(t, err, "%d of %d bytes", n, len(comp))
			}
		})
	}
	t.Run("a zstd frame that needs a dictionary fails with ErrUnknownDictionary", func(t *testing.T) {
		d := trainDict(t, 40010, 5)
		frame, _, err := codec.Must(codec.Options{Dictionary: d, MinSize: 1}).Marshal(nil, items(2000))
		require.NoError(t, err)
		_, err = codec.AppendDecompressed(nil, codec.StandardZstd(frame), codec.Zstd)
		require.ErrorIs(t, err, codec.ErrUnknownDictionary)
	})
}
