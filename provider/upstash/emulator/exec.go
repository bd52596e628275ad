package emulator

import (
	"context"
	"errors"
	"net/http"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// call is one command ready for Redis.
type call struct {
	name string                // lower-case name as the client sent it, for billing
	args []any                 // what Redis receives
	post func(outcome) outcome // adjusts Redis's answer, or nil
}

func (c call) finish(o outcome) outcome {
	if c.post != nil {
		return c.post(o)
	}
	return o
}

// prepare checks args against the policy and the token's rights and
// translates the script commands. It returns the call, or the refusal to
// answer instead; an error means Redis could not be asked (the read-only
// rules need its command table).
func (e *Emulator) prepare(ctx context.Context, args []string, acc access) (call, *refusal, error) {
	if ref := policy(args, e.danger); ref != nil {
		return call{}, ref, nil
	}
	if acc == readOnly {
		m, err := e.catalog.load(ctx, e.rdb)
		if err != nil {
			return call{}, nil, err
		}
		if !readOnlyAllows(m, args) {
			return call{}, noPerm(args[0]), nil
		}
	}
	c := call{name: strings.ToLower(args[0])}
	c.args = make([]any, len(args))
	for i, a := range args {
		c.args[i] = a
	}
	switch c.name {
	case "eval", "eval_ro":
		if len(args) > 1 {
			if rw, ok := stripKeyLocking(args[1]); ok {
				e.scripts.put(scriptSHA(args[1]), rw)
				c.args[1] = rw
			}
		}
	case "evalsha", "evalsha_ro":
		if len(args) > 1 {
			if rw, ok := e.scripts.get(args[1]); ok {
				c.args[0] = "eval" + strings.TrimPrefix(c.name, "evalsha") // eval, eval_ro
				c.args[1] = rw
			}
		}
	case "script":
		if len(args) > 1 {
			e.prepareScript(&c, args)
		}
	case "scan":
		prepareScanWithType(&c, args)
	}
	return c, nil, nil
}

// scanWithType runs SCAN with the arguments it is given and answers its
// reply with each key followed by its type.
const scanWithType = `local r = redis.call('SCAN', unpack(ARGV))
local out = {}
for _, k in ipairs(r[2]) do
  out[#out + 1] = k
  out[#out + 1] = redis.call('TYPE', k)['ok']
end
return {r[1], out}`

// prepareScanWithType translates Upstash's SCAN option WITHTYPE, which
// Redis does not have (the official client's scan(cursor, {withType: true})
// sends it): the reply's key list holds each key followed by its type. It
// runs as one script, so it is one command wherever it is sent (alone, in a
// pipeline or in a transaction), as Upstash bills it.
func prepareScanWithType(c *call, args []string) {
	if len(args) < 2 {
		return
	}
	rest := make([]any, 0, len(args)+2)
	rest = append(rest, "eval", scanWithType, "0", args[1])
	with := false
	for i := 2; i < len(args); i++ {
		switch strings.ToLower(args[i]) {
		case "withtype":
			with = true
			continue
		case "match", "count", "type":
			if i+1 < len(args) {
				rest = append(rest, args[i], args[i+1])
				i++
				continue
			}
		}
		rest = append(rest, args[i])
	}
	if with {
		c.args = rest
	}
}

// prepareScript translates SCRIPT LOAD of a flagged script (Redis loads the
// rewritten one; the client gets the SHA of its own), SCRIPT EXISTS (a
// flagged script the emulator holds exists) and SCRIPT FLUSH (forgets them).
func (e *Emulator) prepareScript(c *call, args []string) {
	switch strings.ToLower(args[1]) {
	case "load":
		if len(args) != 3 {
			return
		}
		rw, ok := stripKeyLocking(args[2])
		if !ok {
			return
		}
		sha := scriptSHA(args[2])
		c.args[2] = rw
		c.post = func(o outcome) outcome {
			if !o.isErr {
				e.scripts.put(sha, rw)
				o.result = sha
			}
			return o
		}
	case "exists":
		shas := args[2:]
		c.post = func(o outcome) outcome {
			if arr, ok := o.result.([]any); ok && len(arr) == len(shas) {
				for i, s := range shas {
					if _, ok := e.scripts.get(s); ok {
						arr[i] = int64(1)
					}
				}
			}
			return o
		}
	case "flush":
		e.scripts.flush()
	}
}

// settle bills one command Redis answered and returns the answer for the
// client. Redis's "unknown command" becomes Upstash's "Command is not
// available", refused rather than billed.
func (e *Emulator) settle(c call, o outcome) outcome {
	if o.isErr && isUnknownCommand(o.err) {
		e.stats.refused.Add(1)
		return outcome{err: notAvailable(c.name).msg, isErr: true}
	}
	e.stats.billed(c.name, o.isErr)
	e.seq.Add(1)
	return o
}

func isUnknownCommand(msg string) bool { return strings.HasPrefix(msg, "ERR unknown command") }

// runOne runs one command: 200 {"result":...}, or 400 {"error":...}.
func (e *Emulator) runOne(ctx context.Context, args []string, acc access, b64 bool) (int, []byte, error) {
	c, ref, err := e.prepare(ctx, args, acc)
	if err != nil {
		return 0, nil, err
	}
	if ref != nil {
		e.stats.refused.Add(1)
		return http.StatusBadRequest, errorBody(ref.msg), nil
	}
	o, err := classify(e.rdb.Do(ctx, c.args...).Result())
	if err != nil {
		return 0, nil, err
	}
	o = e.settle(c, c.finish(o))
	status := http.StatusOK
	if o.isErr {
		status = http.StatusBadRequest
	}
	return status, appendOutcome(nil, o, b64), nil
}

// runPipeline runs commands in order in one go-redis pipeline, not
// atomically: 200 and one {"result"} or {"error"} per command. A refused
// command gets its error in place; the others still run.
func (e *Emulator) runPipeline(ctx context.Context, cmds [][]string, acc access, b64 bool) (int, []byte, error) {
	calls := make([]call, len(cmds))
	refs := make([]*refusal, len(cmds))
	for i, args := range cmds {
		c, ref, err := e.prepare(ctx, args, acc)
		if err != nil {
			return 0, nil, err
		}
		calls[i], refs[i] = c, ref
	}
	pipe := e.rdb.Pipeline()
	sent := make([]*goredis.Cmd, len(cmds))
	for i, c := range calls {
		if refs[i] == nil {
			sent[i] = pipe.Do(ctx, c.args...)
		}
	}
	if pipe.Len() > 0 {
		_, _ = pipe.Exec(ctx) // each command's error is read below
	}
	outs := make([]outcome, len(cmds))
	for i, cmd := range sent {
		if cmd == nil {
			continue
		}
		o, err := classify(cmd.Result())
		if err != nil {
			return 0, nil, err
		}
		outs[i] = calls[i].finish(o)
	}
	for i := range outs {
		if refs[i] != nil {
			e.stats.refused.Add(1)
			outs[i] = outcome{err: refs[i].msg, isErr: true}
			continue
		}
		outs[i] = e.settle(calls[i], outs[i])
	}
	e.stats.pipelines.Add(1)
	return http.StatusOK, appendOutcomes(outs, b64), nil
}

// runTransaction runs commands atomically in MULTI/EXEC: 200 and one entry
// per command, or, when the transaction is discarded as a whole (a refused
// command, or one Redis would not queue, such as a wrong number of
// arguments), 400 and that command's error alone.
func (e *Emulator) runTransaction(ctx context.Context, cmds [][]string, acc access, b64 bool) (int, []byte, error) {
	calls := make([]call, len(cmds))
	var first *refusal
	refused := 0
	for i, args := range cmds {
		c, ref, err := e.prepare(ctx, args, acc)
		if err != nil {
			return 0, nil, err
		}
		if ref != nil {
			refused++
			if first == nil {
				first = ref
			}
		}
		calls[i] = c
	}
	if first != nil {
		e.stats.refused.Add(int64(refused))
		e.stats.discarded.Add(1)
		return http.StatusBadRequest, errorBody(first.msg), nil
	}
	pipe := e.rdb.TxPipeline()
	sent := make([]*goredis.Cmd, len(calls))
	for i, c := range calls {
		sent[i] = pipe.Do(ctx, c.args...)
	}
	_, execErr := pipe.Exec(ctx)
	var rerr goredis.Error
	if execErr != nil && errors.As(execErr, &rerr) && strings.HasPrefix(rerr.Error(), "EXECABORT") {
		msg := rerr.Error()
		for i, cmd := range sent {
			var qerr goredis.Error
			if errors.As(cmd.Err(), &qerr) && !strings.HasPrefix(qerr.Error(), "EXECABORT") {
				msg = qerr.Error()
				if isUnknownCommand(msg) {
					msg = notAvailable(calls[i].name).msg
				}
				break
			}
		}
		e.stats.discarded.Add(1)
		return http.StatusBadRequest, errorBody(msg), nil
	}
	outs := make([]outcome, len(calls))
	for i, cmd := range sent {
		o, err := classify(cmd.Result())
		if err != nil {
			return 0, nil, err
		}
		outs[i] = calls[i].finish(o)
	}
	for i := range outs {
		outs[i] = e.settle(calls[i], outs[i])
	}
	e.stats.transactions.Add(1)
	return http.StatusOK, appendOutcomes(outs, b64), nil
}

func appendOutcomes(outs []outcome, b64 bool) []byte {
	b := []byte{'['}
	for i, o := range outs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendOutcome(b, o, b64)
	}
	return append(b, ']')
}
