//go:build unix

package redis_test

import (
	"context"
	"testing"

	"github.com/aside-go/aside/internal/redistest"
)

// A hung Redis (SIGSTOP: connections open, nothing answered) is where
// ContextTimeoutEnabled matters: without the provider's bound, go-redis would
// wait for its 5 s ReadTimeout.
func TestHungRedisTimesOutThenRecovers(t *testing.T) {
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	for _, tc := range outageProviders {
		t.Run(tc.name, func(t *testing.T) {
			s, err := redistest.StartServer()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			p := tc.new(t, s.Addr())
			if err := p.Set(context.Background(), "k", []byte("v"), 0); err != nil {
				t.Fatal(err)
			}

			if err := s.Pause(); err != nil {
				t.Fatal(err)
			}
			requireFailsFast(t, p, context.DeadlineExceeded)

			if err := s.Resume(); err != nil {
				t.Fatal(err)
			}
			requireRecovers(t, p)
		})
	}
}
