package upstash

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/aside-go/aside/provider"
)

// Errors of this package. Operations also return the errors of package
// provider (ErrNotFound, ErrClosed, ErrInvalidKey, ErrInvalidTTL,
// ErrTooLarge, ErrWrongType) and context errors. No error carries the
// token, the URL, a key or a value.
var (
	// ErrInvalidURL means the REST URL cannot be used. The message says
	// what to change; the URL itself is never shown.
	ErrInvalidURL = errors.New("aside: upstash: invalid REST URL")
	// ErrNoToken means the REST token is empty.
	ErrNoToken = errors.New("aside: upstash: the REST token is empty (copy it from the Upstash console: UPSTASH_REDIS_REST_TOKEN)")
	// ErrInvalidOptions means a field of Options is out of range.
	ErrInvalidOptions = errors.New("aside: upstash: invalid options")
	// ErrUnauthorized means the server rejected the token (HTTP 401), or
	// the token may not run the command (a read-only token). Never retried.
	ErrUnauthorized = errors.New("aside: upstash: the REST token was rejected (check UPSTASH_REDIS_REST_TOKEN; the cache needs the standard token, not the read-only one)")
	// ErrQuota means the database refused the command for one of its
	// limits: the monthly or daily command quota, the request or record
	// size, or its data capacity. It is counted in Stats.QuotaErrors and
	// never retried. Size limits also match provider.ErrTooLarge.
	ErrQuota = errors.New("aside: upstash: over a quota of the database")
	// ErrProtocol means a response could not be understood: not the
	// JSON shape of the Upstash REST API, or a result of the wrong type.
	ErrProtocol = errors.New("aside: upstash: unexpected response")
)

var errClosed = fmt.Errorf("aside: upstash: %w", provider.ErrClosed)

// quotaMessages are Upstash's over-quota errors; the size ones also mean
// the value is too large.
var quotaMessages = []struct {
	text  string
	large bool
}{
	{"max requests limit exceeded", false},
	{"max daily request limit exceeded", false},
	{"DB capacity quota exceeded", false},
	{"max request size exceeded", true},
	{"max single record size exceeded", true},
	{"max key size exceeded", true},
}

// serverError turns the error message of a failed command or request into
// the provider's error.
func serverError(msg string) error {
	for _, q := range quotaMessages {
		if strings.Contains(msg, q.text) {
			if q.large {
				return fmt.Errorf("%w: %w: %s", ErrQuota, provider.ErrTooLarge, q.text)
			}
			return fmt.Errorf("%w: %s", ErrQuota, q.text)
		}
	}
	switch {
	case strings.HasPrefix(msg, "WRONGTYPE"):
		return provider.ErrWrongType
	case strings.HasPrefix(msg, "WRONGPASS"), strings.HasPrefix(msg, "NOPERM"):
		return ErrUnauthorized
	}
	return &CommandError{Message: clip(msg, 300)}
}

// isQuota reports whether msg is one of Upstash's over-quota errors.
func isQuota(msg string) bool {
	for _, q := range quotaMessages {
		if strings.Contains(msg, q.text) {
			return true
		}
	}
	return false
}

// billed reports whether a command answered with the error msg was run,
// and so billed: every Redis error is; refusals of the REST layer (an
// unavailable command, a read-only token, a quota) are not.
func billed(msg string) bool {
	return !(strings.HasPrefix(msg, "ERR Command is not available") ||
		strings.HasPrefix(msg, "NOPERM") || strings.HasPrefix(msg, "WRONGPASS") ||
		strings.HasPrefix(msg, "ERR failed to parse") || isQuota(msg))
}

// CommandError is an error the server answered for one command, other than
// those mapped to a sentinel (quota, WRONGTYPE, rejected token).
type CommandError struct {
	// Message is the server's error, e.g. "ERR syntax error".
	Message string
}

func (e *CommandError) Error() string { return "aside: upstash: the server answered: " + e.Message }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// fail turns err, met by the call op, into the provider's error. ctx is the
// call's bounded context: when it is done, its error is named too, so that
// errors.Is(err, ctx.Err()) holds.
func fail(ctx context.Context, op string, err error) error {
	if errors.Is(err, provider.ErrClosed) {
		return errClosed
	}
	if errors.Is(err, provider.ErrNotFound) || errors.Is(err, provider.ErrWrongType) {
		return err
	}
	if cerr := ctxErr(ctx); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("aside: upstash: %s: %w (%w)", op, cerr, err)
	}
	return fmt.Errorf("aside: upstash: %s: %w", op, err)
}

// ctxErr is ctx.Err(), or DeadlineExceeded once the deadline has passed
// even if the context's timer has not fired yet.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// transportErr strips the *url.Error net/http wraps around a failure, whose
// message repeats the request URL, and keeps what failed underneath.
func transportErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// neverSent reports whether a request failed before it could reach the
// server (the connection could not be made), so that sending it again can
// not run a command twice.
func neverSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}
