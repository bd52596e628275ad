package dual

import (
	"context"
	"errors"
	"fmt"

	"github.com/aside-go/aside/keys"
	"github.com/aside-go/aside/provider"
)

// recordOverhead is what a journal charges for each key or pattern on top
// of its bytes: about what a map entry and a string header cost.
const recordOverhead = 48

// replayChunk is how many keys one Delete of a replay carries.
const replayChunk = 256

// journal is what one side missed: keys to delete there and patterns to
// run there (see the package documentation). It is bounded by max bytes;
// past that it overflows, forgetting the keys, and its replay deletes the
// whole scope instead. A batch taken for replay (pending) is held besides,
// so the journal holds at most twice max. It has no lock of its own: its
// owner serialises every call.
type journal struct {
	max        int
	keys       map[string]struct{}
	patterns   map[string]struct{}
	bytes      int
	overflowed bool
	pending    *batch

	overflows, replays, replayed int64
}

// batch is a journal's content taken for replay.
type batch struct {
	keys     map[string]struct{}
	patterns map[string]struct{}
	bytes    int
	all      bool // the journal had overflowed: delete the whole scope
}

func newJournal(max int) *journal {
	if max <= 0 {
		max = DefaultJournalBytes
	}
	return &journal{max: max}
}

// add records keys. A key no store accepts (empty or too long) is skipped:
// nothing was written under it, and replaying it would fail forever.
func (j *journal) add(keys ...string) {
	for _, k := range keys {
		if j.overflowed {
			return
		}
		if k == "" || len(k) > provider.MaxKeyLen {
			continue
		}
		if _, ok := j.keys[k]; ok {
			continue
		}
		if !j.charge(len(k)) {
			return
		}
		if j.keys == nil {
			j.keys = make(map[string]struct{})
		}
		j.keys[k] = struct{}{}
	}
}

// addPattern records a pattern.
func (j *journal) addPattern(p string) {
	if j.overflowed {
		return
	}
	if _, ok := j.patterns[p]; ok {
		return
	}
	if !j.charge(len(p)) {
		return
	}
	if j.patterns == nil {
		j.patterns = make(map[string]struct{})
	}
	j.patterns[p] = struct{}{}
}

// charge accounts for a record of n bytes, or overflows and reports false.
func (j *journal) charge(n int) bool {
	n += recordOverhead
	if j.bytes+n > j.max {
		j.overflow()
		return false
	}
	j.bytes += n
	return true
}

func (j *journal) overflow() {
	j.overflowed = true
	j.keys, j.patterns, j.bytes = nil, nil, 0
	j.overflows++
}

// has reports whether key may be stale on the journal's side: recorded,
// matched by a recorded pattern, being replayed, or forgotten in an
// overflow. Patterns are matched one by one (keys.Match); they are few,
// since only InvalidatePattern writes them.
func (j *journal) has(key string) bool {
	if j.overflowed {
		return true
	}
	if _, ok := j.keys[key]; ok {
		return true
	}
	for p := range j.patterns {
		if keys.Match(p, key) {
			return true
		}
	}
	if b := j.pending; b != nil {
		if b.all {
			return true
		}
		if _, ok := b.keys[key]; ok {
			return true
		}
		for p := range b.patterns {
			if keys.Match(p, key) {
				return true
			}
		}
	}
	return false
}

// empty reports whether nothing is recorded or being replayed.
func (j *journal) empty() bool {
	return j.pending == nil && !j.overflowed && len(j.keys) == 0 && len(j.patterns) == 0
}

// take moves the records into a batch for replay and returns it, or nil
// when there is nothing to replay or a batch is already being replayed.
func (j *journal) take() *batch {
	if j.pending != nil || (!j.overflowed && len(j.keys) == 0 && len(j.patterns) == 0) {
		return nil
	}
	j.pending = &batch{keys: j.keys, patterns: j.patterns, bytes: j.bytes, all: j.overflowed}
	j.keys, j.patterns, j.bytes, j.overflowed = nil, nil, 0, false
	return j.pending
}

// done drops the batch being replayed: it was delivered.
func (j *journal) done() {
	b := j.pending
	j.pending = nil
	j.replays++
	if b.all {
		j.replayed++
		return
	}
	j.replayed += int64(len(b.keys) + len(b.patterns))
}

// restore puts the batch being replayed back: it was not delivered.
func (j *journal) restore() {
	b := j.pending
	j.pending = nil
	if b.all {
		if !j.overflowed {
			j.overflow()
		}
		return
	}
	for k := range b.keys {
		j.add(k)
	}
	for p := range b.patterns {
		j.addPattern(p)
	}
}

// small reports whether the batch is one round trip: no scope, no pattern
// and at most one chunk of keys.
func (b *batch) small() bool {
	return !b.all && len(b.patterns) == 0 && len(b.keys) <= replayChunk
}

func (j *journal) stats() JournalStats {
	s := JournalStats{
		Keys:       len(j.keys),
		Patterns:   len(j.patterns),
		Bytes:      j.bytes,
		Overflowed: j.overflowed,
		Overflows:  j.overflows,
		Replays:    j.replays,
		Replayed:   j.replayed,
	}
	if b := j.pending; b != nil {
		s.Keys += len(b.keys)
		s.Patterns += len(b.patterns)
		s.Bytes += b.bytes
		s.Overflowed = s.Overflowed || b.all
	}
	return s
}

// errScopeNotSupported says why an overflowed journal cannot be replayed.
var errScopeNotSupported = errors.New("the store cannot delete by pattern, so an overflowed journal cannot be replayed")

// replay delivers b to p: it deletes every key (in chunks), runs every
// pattern, or, for an overflowed journal, deletes the scope. It stops at the
// first failure; b is then restored whole (deleting again is harmless).
func replay(ctx context.Context, p provider.Provider, b *batch, scope string) error {
	if b.all {
		_, err := deletePattern(ctx, p, scope)
		if errors.Is(err, provider.ErrNotSupported) {
			return fmt.Errorf("%w: %w", errScopeNotSupported, err)
		}
		return err
	}
	chunk := make([]string, 0, min(len(b.keys), replayChunk))
	for k := range b.keys {
		chunk = append(chunk, k)
		if len(chunk) == replayChunk {
			if _, err := p.Delete(ctx, chunk...); err != nil {
				return err
			}
			chunk = chunk[:0]
		}
	}
	if len(chunk) > 0 {
		if _, err := p.Delete(ctx, chunk...); err != nil {
			return err
		}
	}
	for pat := range b.patterns {
		if _, err := deletePattern(ctx, p, pat); err != nil {
			return err
		}
	}
	return nil
}
