package rueidis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	rue "github.com/redis/rueidis"

	"github.com/aside-go/aside/provider"
)

// Errors returned by the constructors. Operations return the errors of
// package provider (ErrNotFound, ErrWrongType, ErrClosed, ErrInvalidKey,
// ErrInvalidTTL, ErrTooLarge), context errors, or a wrapped Redis error. No
// error carries a password, a URL's userinfo or a key.
var (
	// ErrInvalidURL means a Redis URL could not be used. The message says
	// what to change; the URL itself is never shown because it may hold a
	// password.
	ErrInvalidURL = errors.New("aside: rueidis: invalid Redis URL")
	// ErrInvalidOptions means a field of Options is out of range.
	ErrInvalidOptions = errors.New("aside: rueidis: invalid options")
	// ErrNilClient means New was given a nil client.
	ErrNilClient = errors.New("aside: rueidis: client is nil (pass a rueidis.Client from rueidis.NewClient)")
)

var errClosed = fmt.Errorf("aside: rueidis: %w", provider.ErrClosed)

// fail turns an error of rueidis into the provider's error for op. ctx is
// the bounded context of the call.
func fail(ctx context.Context, op string, err error) error {
	if rue.IsRedisNil(err) {
		return provider.ErrNotFound
	}
	if errors.Is(err, rue.ErrClosing) {
		return errClosed
	}
	if re, ok := rue.IsRedisErr(err); ok && strings.HasPrefix(re.Error(), "WRONGTYPE") {
		// A hash, list, set... under the key, also from inside the
		// CompareAndSwap script. The Cache deletes such a key.
		return fmt.Errorf("aside: rueidis: %s: %w", op, provider.ErrWrongType)
	}
	if cerr := ctxErr(ctx); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("aside: rueidis: %s: %w (%w)", op, cerr, err)
	}
	return fmt.Errorf("aside: rueidis: %s: %w", op, err)
}

// ctxErr is ctx.Err(), or DeadlineExceeded once the deadline has passed even
// if the context's timer has not fired yet.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}
