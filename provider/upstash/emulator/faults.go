package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Quota names one of Upstash's over-quota errors. Upstash answers them as a
// failed command: status 400 and the message as the body's "error".
type Quota int

// The quota errors, in Upstash's words.
const (
	// QuotaMaxRequests is the monthly command limit of a free database:
	// "ERR max requests limit exceeded".
	QuotaMaxRequests Quota = iota
	// QuotaDailyRequests is the daily command limit:
	// "ERR max daily request limit exceeded".
	QuotaDailyRequests
	// QuotaRequestSize is a request over the size limit:
	// "ERR max request size exceeded".
	QuotaRequestSize
	// QuotaDBCapacity is a full database: "ERR DB capacity quota exceeded".
	// As on Upstash, only writes that may grow the data (Redis's denyoom
	// commands) are refused; reads and deletes go through.
	QuotaDBCapacity
)

var quotaNames = [...]string{"max_requests", "daily_requests", "request_size", "db_capacity"}

var quotaMessages = [...]string{
	"ERR max requests limit exceeded",
	"ERR max daily request limit exceeded",
	"ERR max request size exceeded",
	"ERR DB capacity quota exceeded",
}

// Message is the error Upstash sends.
func (q Quota) Message() string {
	if q < 0 || int(q) >= len(quotaMessages) {
		return quotaMessages[0]
	}
	return quotaMessages[q]
}

// String is the name ParseQuota reads: max_requests, daily_requests,
// request_size or db_capacity.
func (q Quota) String() string {
	if q < 0 || int(q) >= len(quotaNames) {
		return fmt.Sprintf("Quota(%d)", int(q))
	}
	return quotaNames[q]
}

// MarshalText writes the name of q.
func (q Quota) MarshalText() ([]byte, error) { return []byte(q.String()), nil }

// UnmarshalText reads a name written by MarshalText.
func (q *Quota) UnmarshalText(b []byte) error {
	v, err := ParseQuota(string(b))
	if err != nil {
		return err
	}
	*q = v
	return nil
}

// ParseQuota reads a quota name: max_requests, daily_requests, request_size
// or db_capacity.
func ParseQuota(s string) (Quota, error) {
	for i, n := range quotaNames {
		if strings.EqualFold(s, n) {
			return Quota(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown quota %q (use one of %s)", ErrInvalidOptions, s, strings.Join(quotaNames[:], ", "))
}

// Faults are the failures the emulator injects, so that a client's timeouts,
// retries, circuit breaker and batching can be tested against real HTTP
// faults. Each request draws its faults in this order: latency, drop,
// server error, quota error, then (after its commands ran) lost reply and
// truncated reply. Rates are probabilities in [0, 1]. The zero value injects
// nothing.
//
// The draws come from a generator seeded with Seed, so requests sent one at a
// time meet the same faults on every run; concurrent requests draw in the
// order they arrive.
type Faults struct {
	// Seed seeds the generator (every value, 0 included, is a fixed seed).
	Seed uint64 `json:"seed"`

	// Latency delays every request before it is served; Jitter adds a
	// uniform random extra in [0, Jitter). A request whose client goes away
	// while it waits is not served.
	Latency time.Duration `json:"-"`
	Jitter  time.Duration `json:"-"`

	// DropRate is the share of requests whose connection is closed before
	// they are read or run: the client sees a reset or an EOF, and no
	// command ran.
	DropRate float64 `json:"drop_rate"`

	// ServerErrorRate is the share of requests answered with status
	// ServerErrorStatus (default 500) and a JSON error, without running.
	ServerErrorRate   float64 `json:"server_error_rate"`
	ServerErrorStatus int     `json:"server_error_status"`

	// QuotaRate is the share of requests refused with the Quota error
	// (status 400), without running.
	QuotaRate float64 `json:"quota_rate"`
	Quota     Quota   `json:"quota"`

	// CommandLimit, when positive, is a budget of billed commands: once
	// Stats().Commands has reached it, every request is refused with
	// `ERR max requests limit exceeded` (status 400), as a free database
	// over its monthly commands. ResetStats restores the budget.
	CommandLimit int64 `json:"command_limit"`

	// DropAfterRate is the share of requests whose commands run and whose
	// connection is then closed with no reply: the client cannot tell
	// whether its write happened.
	DropAfterRate float64 `json:"drop_after_rate"`

	// TruncateRate is the share of requests whose commands run and whose
	// reply is cut in half: status and headers arrive, then half the body,
	// then the connection closes.
	TruncateRate float64 `json:"truncate_rate"`
}

func (f Faults) validate() error {
	rates := map[string]float64{
		"DropRate": f.DropRate, "ServerErrorRate": f.ServerErrorRate, "QuotaRate": f.QuotaRate,
		"DropAfterRate": f.DropAfterRate, "TruncateRate": f.TruncateRate,
	}
	for name, r := range rates {
		if !(r >= 0 && r <= 1) {
			return fmt.Errorf("%w: Faults.%s is %v (want a share in [0, 1])", ErrInvalidOptions, name, r)
		}
	}
	if f.Latency < 0 || f.Jitter < 0 {
		return fmt.Errorf("%w: Faults.Latency and Faults.Jitter must not be negative", ErrInvalidOptions)
	}
	if f.ServerErrorStatus != 0 && (f.ServerErrorStatus < 500 || f.ServerErrorStatus > 599) {
		return fmt.Errorf("%w: Faults.ServerErrorStatus is %d (want 500-599)", ErrInvalidOptions, f.ServerErrorStatus)
	}
	if f.Quota < 0 || int(f.Quota) >= len(quotaNames) {
		return fmt.Errorf("%w: Faults.Quota is %d", ErrInvalidOptions, int(f.Quota))
	}
	return nil
}

func (f Faults) any() bool {
	return f.Latency > 0 || f.Jitter > 0 || f.DropRate > 0 || f.ServerErrorRate > 0 ||
		f.QuotaRate > 0 || f.DropAfterRate > 0 || f.TruncateRate > 0
}

// faultState is a Faults as it was set and its generator.
type faultState struct {
	f      Faults
	status int // of injected server errors
	mu     sync.Mutex
	rng    *rand.Rand
}

func newFaultState(f Faults) *faultState {
	s := &faultState{f: f, status: f.ServerErrorStatus, rng: rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))}
	if s.status == 0 {
		s.status = http.StatusInternalServerError
	}
	return s
}

// plan is what happens to one request.
type plan struct {
	delay       time.Duration
	drop        bool
	serverError bool
	quota       bool
	dropAfter   bool
	truncate    bool
}

// draw decides the faults of one request. It always draws the same numbers
// in the same order, so one fault's rate does not shift another's sequence.
func (s *faultState) draw() plan {
	f := s.f
	if !f.any() {
		return plan{}
	}
	s.mu.Lock()
	var u [6]float64
	for i := range u {
		u[i] = s.rng.Float64()
	}
	s.mu.Unlock()
	p := plan{delay: f.Latency}
	if f.Jitter > 0 {
		p.delay += time.Duration(u[0] * float64(f.Jitter))
	}
	p.drop = u[1] < f.DropRate
	p.serverError = u[2] < f.ServerErrorRate
	p.quota = u[3] < f.QuotaRate
	p.dropAfter = u[4] < f.DropAfterRate
	p.truncate = u[5] < f.TruncateRate
	return p
}

// MarshalJSON writes f with Latency and Jitter as Go durations ("50ms"), as
// `GET /_emulator/faults` shows them.
func (f Faults) MarshalJSON() ([]byte, error) {
	type alias Faults
	return json.Marshal(struct {
		alias
		Latency string `json:"latency"`
		Jitter  string `json:"jitter"`
	}{alias(f), f.Latency.String(), f.Jitter.String()})
}

// UnmarshalJSON reads what MarshalJSON writes; absent fields are zero, and
// an unknown field is an error (a misspelt fault would otherwise be a silent
// no-op).
func (f *Faults) UnmarshalJSON(b []byte) error {
	type alias Faults
	var v Faults
	aux := struct {
		*alias
		Latency string `json:"latency"`
		Jitter  string `json:"jitter"`
	}{alias: (*alias)(&v)}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&aux); err != nil {
		return err
	}
	for _, d := range []struct {
		s   string
		dst *time.Duration
	}{{aux.Latency, &v.Latency}, {aux.Jitter, &v.Jitter}} {
		if d.s == "" {
			continue
		}
		x, err := time.ParseDuration(d.s)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidOptions, err)
		}
		*d.dst = x
	}
	*f = v
	return nil
}
