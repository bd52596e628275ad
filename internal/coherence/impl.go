package coherence

import (
	"context"
	"fmt"
)

// impl is replaced by the implementation in the next commit; the API above
// compiles against it so that the tier can be built in parallel.
type impl struct{}

func newStream(ctx context.Context, cfg Config) (*Stream, error) {
	return nil, fmt.Errorf("%w: not implemented yet", ErrConfig)
}
func (impl) lease() (uint64, bool)                           { return 0, false }
func (impl) generation() uint64                              { return 0 }
func (impl) invalidate(ctx context.Context, m Message) error { return ErrClosed }
func (impl) close() error                                    { return nil }
