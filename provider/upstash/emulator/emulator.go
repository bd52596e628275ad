package emulator

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Header and parameter names of the Upstash REST protocol.
const (
	tokenParam           = "_token"
	syncTokenHeader      = "Upstash-Sync-Token"
	encodingHeader       = "Upstash-Encoding"
	responseFormatHeader = "Upstash-Response-Format"
)

// Routes of the emulator's own endpoints. They need the standard token and
// are never billed.
const (
	adminPrefix      = "/_emulator/"
	statsPath        = "/_emulator/stats"
	statsResetPath   = "/_emulator/stats/reset"
	faultsPath       = "/_emulator/faults"
	unauthorizedBody = `{"error":"WRONGPASS invalid or missing auth token"}`
)

// Emulator is an http.Handler that speaks the Upstash Redis REST protocol
// over a Redis reached through go-redis. Make it with [New]. All methods are
// safe for concurrent use.
type Emulator struct {
	rdb      goredis.UniversalClient
	std      [sha256.Size]byte // SHA-256 of the standard token
	ro       [sha256.Size]byte // of the read-only token
	hasRO    bool
	danger   bool
	maxBytes int64
	log      *slog.Logger

	faults  atomic.Pointer[faultState]
	stats   counters
	seq     atomic.Int64 // commands run, the sync token
	catalog catalog
	scripts scripts
}

// New returns an emulator serving Redis through rdb, which the caller keeps
// and closes. rdb must speak RESP2 (go-redis Options.Protocol: 2) and should
// not retry commands (MaxRetries: -1), or a command that failed on the wire
// may run twice; ContextTimeoutEnabled lets a client that hangs up stop its
// command. New sends nothing to Redis.
func New(rdb goredis.UniversalClient, opts Options) (*Emulator, error) {
	if rdb == nil {
		return nil, ErrNilClient
	}
	if opts.Token == "" {
		return nil, ErrNoToken
	}
	if protocol(rdb) == 3 {
		return nil, ErrProtocol
	}
	if err := opts.Faults.validate(); err != nil {
		return nil, err
	}
	e := &Emulator{
		rdb:      rdb,
		std:      sha256.Sum256([]byte(opts.Token)),
		hasRO:    opts.ReadOnlyToken != "",
		danger:   opts.AllowDangerous,
		maxBytes: opts.maxRequestBytes(),
		log:      opts.Logger,
	}
	if e.hasRO {
		e.ro = sha256.Sum256([]byte(opts.ReadOnlyToken))
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.faults.Store(newFaultState(opts.Faults))
	return e, nil
}

// protocol is the RESP version rdb uses, when its type tells (go-redis
// defaults to 3), or 0.
func protocol(rdb goredis.UniversalClient) int {
	var p int
	switch c := rdb.(type) {
	case *goredis.Client:
		p = c.Options().Protocol
	case *goredis.ClusterClient:
		p = c.Options().Protocol
	default:
		return 0
	}
	if p == 0 {
		return 3
	}
	return p
}

// SetFaults replaces the injected faults, from the next request on, and
// reseeds their generator with f.Seed.
func (e *Emulator) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	e.faults.Store(newFaultState(f))
	return nil
}

// Faults returns the faults in force.
func (e *Emulator) Faults() Faults { return e.faults.Load().f }

// Stats returns a snapshot of the counters.
func (e *Emulator) Stats() Stats { return e.stats.snapshot() }

// ResetStats sets every counter to zero (and so restores a CommandLimit
// budget). Requests in flight meanwhile may be counted on either side.
func (e *Emulator) ResetStats() { e.stats.reset() }

// access is what a request's token allows.
type access int

const (
	denied access = iota
	readOnly
	standard
)

// authorize compares the request's token with both tokens in constant time
// (hashes of equal length, both compared every time), so neither the
// token's length nor which token matched shows in the timing.
func (e *Emulator) authorize(r *http.Request) access {
	tok := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			tok = strings.TrimSpace(rest)
		}
	} else {
		tok = r.URL.Query().Get(tokenParam)
	}
	if tok == "" {
		return denied
	}
	h := sha256.Sum256([]byte(tok))
	isStd := subtle.ConstantTimeCompare(h[:], e.std[:])
	isRO := subtle.ConstantTimeCompare(h[:], e.ro[:]) & boolInt(e.hasRO)
	switch {
	case isStd == 1:
		return standard
	case isRO == 1:
		return readOnly
	}
	return denied
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ServeHTTP serves the Upstash REST protocol: POST / (one command as a JSON
// array), POST /pipeline, POST /multi-exec, the path form (GET /get/key,
// POST /set/key with the value as the body), and the emulator's own
// /_emulator/stats and /_emulator/faults.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut:
	default:
		w.Header().Set("Allow", "HEAD, GET, POST, PUT")
		writeRaw(w, http.StatusMethodNotAllowed, []byte(`{"error":"ERR method not allowed (use HEAD, GET, POST or PUT)"}`))
		return
	}
	acc := e.authorize(r)
	if strings.HasPrefix(r.URL.Path, adminPrefix) {
		e.serveAdmin(w, r, acc)
		return
	}
	if acc == denied {
		e.stats.unauthorized.Add(1)
		writeRaw(w, http.StatusUnauthorized, []byte(unauthorizedBody))
		return
	}
	e.stats.requests.Add(1)
	if r.Header.Get(syncTokenHeader) != "" {
		e.stats.syncTokens.Add(1)
	}

	fs := e.faults.Load()
	p := fs.draw()
	var (
		body   []byte
		tooBig bool
		err    error
		read   bool
	)
	if p.delay > 0 {
		// The body is read before the wait: net/http notices a client that
		// closes its connection (and cancels r.Context) only once the body
		// has been read, so a client that leaves during the latency is not
		// served.
		body, tooBig, err = e.readBody(r)
		read = true
		e.stats.delayed.Add(1)
		t := time.NewTimer(p.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if p.drop {
		e.stats.dropped.Add(1)
		abort(w)
		return
	}

	if !read {
		body, tooBig, err = e.readBody(r)
	}
	e.stats.requestBytes.Add(int64(len(body)))
	if err != nil {
		return // the client went away mid-body: nobody to answer
	}
	b64 := strings.EqualFold(r.Header.Get(encodingHeader), "base64")
	if tooBig {
		e.reply(w, r, http.StatusBadRequest, errorBody(QuotaRequestSize.Message()))
		return
	}
	if f := r.Header.Get(responseFormatHeader); f != "" && !strings.EqualFold(f, "json") {
		msg := "ERR Upstash-Response-Format must be json or resp2"
		if strings.EqualFold(f, "resp2") {
			msg = "ERR Upstash-Response-Format resp2 is not supported by the emulator (use json, the default)"
		}
		e.reply(w, r, http.StatusBadRequest, errorBody(msg))
		return
	}
	if p.serverError {
		e.stats.serverErrors.Add(1)
		e.reply(w, r, fs.status, errorBody("emulator: injected server error"))
		return
	}

	var (
		status int
		out    []byte
	)
	switch r.URL.Path {
	case "/pipeline", "/multi-exec":
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			w.Header().Set("Allow", "POST, PUT")
			e.reply(w, r, http.StatusMethodNotAllowed, errorBody("ERR "+r.URL.Path+" takes POST with a JSON array of commands"))
			return
		}
		cmds, perr := parseCommands(body)
		if perr != nil {
			e.reply(w, r, http.StatusBadRequest, errorBody(perr.Error()))
			return
		}
		if q, refused := e.quota(r.Context(), fs, p, cmds); refused {
			e.reply(w, r, http.StatusBadRequest, errorBody(q))
			return
		}
		if r.URL.Path == "/pipeline" {
			status, out, err = e.runPipeline(r.Context(), cmds, acc, b64)
		} else {
			status, out, err = e.runTransaction(r.Context(), cmds, acc, b64)
		}
	default:
		var args []string
		var perr error
		if r.URL.Path == "/" || r.URL.Path == "" {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				perr = errors.New("ERR failed to parse command: no command (POST a JSON array to /, or use the path form /COMMAND/arg1/arg2)")
			} else {
				args, perr = parseCommand(body)
			}
		} else if cmd, channels, ok := subscription(r.URL.EscapedPath()); ok {
			e.serveSubscribe(w, r, cmd, channels)
			return
		} else {
			args, perr = parsePath(r.URL.EscapedPath(), r.URL.RawQuery, body, len(body) > 0)
		}
		if perr != nil {
			e.reply(w, r, http.StatusBadRequest, errorBody(perr.Error()))
			return
		}
		if q, refused := e.quota(r.Context(), fs, p, [][]string{args}); refused {
			e.reply(w, r, http.StatusBadRequest, errorBody(q))
			return
		}
		status, out, err = e.runOne(r.Context(), args, acc, b64)
	}
	if err != nil {
		if r.Context().Err() == nil {
			e.log.Warn("upstash emulator: redis failed", "err", err)
		}
		e.reply(w, r, http.StatusInternalServerError, errorBody("ERR emulator: Redis is unavailable: "+err.Error()))
		return
	}
	switch {
	case p.dropAfter:
		e.stats.droppedAfter.Add(1)
		abort(w)
	case p.truncate:
		e.stats.truncated.Add(1)
		e.truncated(w, status, out)
	default:
		e.reply(w, r, status, out)
	}
}

// quota reports whether the request is refused for a quota, and the message.
func (e *Emulator) quota(ctx context.Context, fs *faultState, p plan, cmds [][]string) (string, bool) {
	if lim := fs.f.CommandLimit; lim > 0 && e.stats.commands.Load() >= lim {
		e.stats.quotaErrors.Add(1)
		return QuotaMaxRequests.Message(), true
	}
	if !p.quota {
		return "", false
	}
	if fs.f.Quota == QuotaDBCapacity && !e.growsData(ctx, cmds) {
		return "", false
	}
	e.stats.quotaErrors.Add(1)
	return fs.f.Quota.Message(), true
}

// growsData reports whether any command may grow the data (Redis's denyoom
// flag). Without the command table it answers true.
func (e *Emulator) growsData(ctx context.Context, cmds [][]string) bool {
	m, err := e.catalog.load(ctx, e.rdb)
	if err != nil {
		return true
	}
	for _, c := range cmds {
		if meta, ok := lookup(m, c); !ok || meta.denyOOM {
			return true
		}
	}
	return false
}

// readBody reads the body up to the limit. tooBig reports a body over it,
// which is not read further.
func (e *Emulator) readBody(r *http.Request) (body []byte, tooBig bool, err error) {
	if r.Body == nil {
		return nil, false, nil
	}
	rd := io.Reader(r.Body)
	if e.maxBytes >= 0 {
		if r.ContentLength > e.maxBytes {
			return nil, true, nil
		}
		rd = io.LimitReader(r.Body, e.maxBytes+1)
	}
	b, err := io.ReadAll(rd)
	if e.maxBytes >= 0 && int64(len(b)) > e.maxBytes {
		return b, true, nil
	}
	return b, false, err
}

// reply writes a complete response, with a fresh sync token, after counting
// its bytes.
func (e *Emulator) reply(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	w.Header().Set(syncTokenHeader, strconv.FormatInt(e.seq.Load(), 10))
	if r.Method != http.MethodHead {
		e.stats.responseBytes.Add(int64(len(body)))
	}
	writeRaw(w, status, body)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func errorBody(msg string) []byte {
	return appendOutcome(nil, outcome{err: msg, isErr: true}, false)
}

// abort closes the client's connection without a response: hijacked and
// closed on HTTP/1 (the client sees a reset or EOF mid-request), the
// handler aborted otherwise.
func abort(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// truncated sends the status, the headers announcing the whole body, and its
// first half, then closes the connection.
func (e *Emulator) truncated(w http.ResponseWriter, status int, body []byte) {
	half := body[:len(body)/2]
	e.stats.responseBytes.Add(int64(len(half)))
	h := w.Header()
	h.Set(syncTokenHeader, strconv.FormatInt(e.seq.Load(), 10))
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(half)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	abort(w)
}

// serveAdmin serves /_emulator/*: GET stats, POST stats/reset, GET and
// POST faults. They need the standard token.
func (e *Emulator) serveAdmin(w http.ResponseWriter, r *http.Request, acc access) {
	if acc != standard {
		writeRaw(w, http.StatusUnauthorized, []byte(unauthorizedBody))
		return
	}
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case r.URL.Path == statsPath && get:
		writeJSON(w, http.StatusOK, e.Stats())
	case r.URL.Path == statsResetPath && !get:
		e.ResetStats()
		writeJSON(w, http.StatusOK, e.Stats())
	case r.URL.Path == faultsPath && get:
		writeJSON(w, http.StatusOK, e.Faults())
	case r.URL.Path == faultsPath:
		var f Faults
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
		dec.DisallowUnknownFields()
		err := dec.Decode(&f)
		if err == nil {
			err = e.SetFaults(f)
		}
		if err != nil {
			writeRaw(w, http.StatusBadRequest, errorBody("ERR emulator: faults: "+err.Error()))
			return
		}
		writeJSON(w, http.StatusOK, e.Faults())
	default:
		writeRaw(w, http.StatusNotFound, errorBody("ERR emulator: unknown endpoint (GET /_emulator/stats, POST /_emulator/stats/reset, GET or POST /_emulator/faults)"))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeRaw(w, http.StatusInternalServerError, errorBody("ERR emulator: "+err.Error()))
		return
	}
	writeRaw(w, status, b)
}
