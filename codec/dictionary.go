package codec

import (
	"fmt"
	"math/rand/v2"

	"github.com/klauspost/compress/dict"
	"github.com/klauspost/compress/zstd"
)

// Bounds of [Train].
const (
	// DefaultDictionarySize is the default TrainOptions.MaxSize: 64 KiB.
	// On the bench's npm corpus it stores held-out small objects about 2%
	// smaller than a 16 KiB dictionary and 0.5% smaller than a 32 KiB one;
	// larger ones gain nothing more there and cost encode time (zstd loads
	// the dictionary into every compression).
	DefaultDictionarySize = 64 << 10
	// MaxDictionarySize bounds TrainOptions.MaxSize: 1 MiB.
	MaxDictionarySize = 1 << 20
	// MinTrainingSamples is the fewest samples Train accepts.
	MinTrainingSamples = 8
	// trainPrefix: only the first bytes of each sample matter to the
	// dictionary builder (its README); longer samples are cut.
	trainPrefix = 64 << 10
	// firstPrivateID is the first dictionary ID that RFC 8878 leaves to
	// private use (0 to 32767 are reserved for registration, as are IDs
	// from 2^31).
	firstPrivateID = 32768
	lastPrivateID  = 1<<31 - 1
)

// TrainOptions configures [Train]. The zero value trains a 64 KiB
// dictionary with a random ID for the default zstd level.
type TrainOptions struct {
	// MaxSize is the largest dictionary to build, in bytes. 0 means
	// [DefaultDictionarySize]; at most [MaxDictionarySize].
	MaxSize int
	// ID is the dictionary's ID, written into it and into every frame
	// compressed with it: a Codec decodes such a frame only when it holds a
	// dictionary with that ID. 0 picks a random ID from the range RFC 8878
	// leaves to private use (32768 to 2^31-1); an explicit ID must be in
	// that range too.
	ID uint32
	// Level is the zstd level (as Options.Level) the dictionary is tuned
	// for; 0 means the default level.
	Level int
}

// Train builds a zstd dictionary from samples with klauspost's dictionary
// builder (github.com/klauspost/compress/dict), for [Options.Dictionary].
//
// Samples must be what the dictionary will compress: values serialized
// with the Codec's Serializer (for [Msgpack], msgpack.Marshal of typical
// values), not the values' JSON. Give it a few hundred or more distinct,
// representative samples; only the first 64 KiB of each is read. Measure a
// dictionary on samples it was not trained on: on its own training data it
// looks better than it is.
//
// Errors wrap [ErrBadOptions] (an option out of range, fewer than
// [MinTrainingSamples] samples) or [ErrTraining] (the builder found nothing
// to learn, as with tiny or identical samples). Train never panics on any
// samples. It takes about a second per few megabytes of samples and
// allocates several times their size while it runs.
func Train(samples [][]byte, o TrainOptions) ([]byte, error) {
	switch {
	case o.MaxSize == 0:
		o.MaxSize = DefaultDictionarySize
	case o.MaxSize < 0 || o.MaxSize > MaxDictionarySize:
		return nil, fmt.Errorf("%w: TrainOptions.MaxSize %d out of range (0 for %d, or 1 to %d)", ErrBadOptions, o.MaxSize, DefaultDictionarySize, MaxDictionarySize)
	}
	switch {
	case o.ID == 0:
		o.ID = firstPrivateID + rand.Uint32N(lastPrivateID-firstPrivateID+1)
	case o.ID < firstPrivateID || o.ID > lastPrivateID:
		return nil, fmt.Errorf("%w: TrainOptions.ID %d is outside the private range %d to %d", ErrBadOptions, o.ID, firstPrivateID, lastPrivateID)
	}
	level, err := resolveLevel(Zstd, o.Level)
	if err != nil {
		return nil, err
	}
	if len(samples) < MinTrainingSamples {
		return nil, fmt.Errorf("%w: %d samples; Train needs at least %d", ErrBadOptions, len(samples), MinTrainingSamples)
	}
	in := make([][]byte, 0, len(samples))
	for _, s := range samples {
		if len(s) > trainPrefix {
			s = s[:trainPrefix]
		}
		if len(s) > 0 {
			in = append(in, s)
		}
	}
	d, err := build(in, dict.Options{
		MaxDictSize: o.MaxSize,
		HashBytes:   6, // the builder's default; on msgpack it beat 4 and 8 (bench corpus)
		ZstdDictID:  o.ID,
		ZstdLevel:   zstd.EncoderLevelFromZstd(level),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTraining, err)
	}
	if id, err := DictionaryID(d); err != nil || id != o.ID {
		return nil, fmt.Errorf("%w: the builder returned an unusable dictionary", ErrTraining)
	}
	return d, nil
}

// build runs the dictionary builder, turning a panic on odd input into an
// error.
func build(samples [][]byte, o dict.Options) (d []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			d, err = nil, fmt.Errorf("dictionary builder panicked: %v", r)
		}
	}()
	return dict.BuildZstdDict(samples, o)
}

// DictionaryID returns the ID of a zstd dictionary (as [Train] and
// "zstd --train" produce), or an error if d is not one that a Codec can
// use: malformed, or with ID 0.
func DictionaryID(d []byte) (uint32, error) {
	info, err := zstd.InspectDictionary(d)
	if err != nil {
		return 0, fmt.Errorf("not a zstd dictionary: %w", err)
	}
	if info.ID() == 0 {
		return 0, fmt.Errorf("dictionary has ID 0; train it with an ID")
	}
	return info.ID(), nil
}

// FrameDictionaryID returns the ID of the dictionary frame was compressed
// with, and false if frame is not an intact frame (its checksum is checked)
// or uses no dictionary. A cache that holds several dictionaries uses it to
// learn which one to fetch after Unmarshal failed with [ErrUnknownDictionary].
func FrameDictionaryID(frame []byte) (uint32, bool) {
	h, _, err := parseFrame(frame, maxMaxSize)
	if err != nil || !h.hasDic {
		return 0, false
	}
	return h.dictID, true
}
