package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

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
	ErrInvalidURL = errors.New("aside: redis: invalid Redis URL")
	// ErrInvalidOptions means a field of Options is out of range.
	ErrInvalidOptions = errors.New("aside: redis: invalid options")
	// ErrNilClient means New was given a nil client.
	ErrNilClient = errors.New("aside: redis: client is nil (pass a *redis.Client, a failover client or a *redis.ClusterClient)")
)

var errClosed = fmt.Errorf("aside: redis: %w", provider.ErrClosed)

// fail turns an error of go-redis into the provider's error for op.
// ctx is the bounded context of the call.
func fail(ctx context.Context, op string, err error) error {
	if errors.Is(err, goredis.Nil) {
		return provider.ErrNotFound
	}
	if errors.Is(err, goredis.ErrClosed) {
		return errClosed
	}
	if goredis.HasErrorPrefix(err, "WRONGTYPE") {
		// A hash, list, set... under the key: Redis's reply, also from
		// inside the CompareAndSwap script. The Cache deletes such a key.
		return fmt.Errorf("aside: redis: %s: %w", op, provider.ErrWrongType)
	}
	if cerr := ctxErr(ctx); cerr != nil && !errors.Is(err, cerr) {
		// go-redis reports a socket deadline taken from ctx as a net timeout;
		// name the context error too so errors.Is(err, ctx.Err()) holds.
		return fmt.Errorf("aside: redis: %s: %w (%w)", op, cerr, err)
	}
	return fmt.Errorf("aside: redis: %s: %w", op, err)
}

// ctxErr is ctx.Err(), or DeadlineExceeded once the deadline has passed even
// if the context's timer has not fired yet (the socket deadline may fire
// first).
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}
