package upstash

import (
	"context"
	"fmt"

	"github.com/aside-go/aside/keys"
)

// DeletePattern deletes the keys matching the Redis glob pattern and returns
// how many it removed. It loops SCAN cursor MATCH glob COUNT
// Options.ScanCount and DELs the keys each SCAN found: one billed command
// per SCAN (each examines about ScanCount keys, so their number grows with
// the database, not with the matches) and one per DEL. The SCANs ask for a
// base64 reply, so every key name comes back exact; the MATCH glob is the
// pattern itself unless the pattern has '?', a class or bytes that are not
// UTF-8 (see storedGlob), and every key found is checked against the
// pattern (keys.Match, Redis's own rules) before it is deleted. A key
// written by another client in bytes that are not UTF-8 cannot be named in a
// JSON request: it is skipped. Each SCAN and each DEL is bounded by
// Options.ScanTimeout; the whole call by ctx only. It never uses KEYS and is
// not atomic: keys written while it runs may survive. An empty pattern
// matches no key.
func (p *Provider) DeletePattern(ctx context.Context, pattern string) (int, error) {
	if p.closed.Load() {
		return 0, errClosed
	}
	if err := ctxErr(ctx); err != nil {
		return 0, fail(ctx, "delete pattern", err)
	}
	if pattern == "" {
		return 0, nil // SCAN without MATCH would visit, and so delete, every key
	}
	glob := storedGlob(pattern)
	cursor := "0"
	total := 0
	for {
		found, next, err := p.scan(ctx, cursor, glob)
		if err != nil {
			return total, err
		}
		var del []string
		for _, sk := range found {
			if k, ok := originalKey(sk); ok && keys.Match(pattern, k) {
				del = append(del, k)
			}
		}
		if len(del) > 0 {
			n, err := p.unlink(ctx, del)
			total += n
			if err != nil {
				return total, err
			}
		}
		if next == "0" {
			return total, nil
		}
		cursor = next
	}
}

// scan runs one SCAN and returns the stored keys it found and the next
// cursor.
func (p *Provider) scan(ctx context.Context, cursor, glob string) ([][]byte, string, error) {
	ctx, cancel, err := p.bound(ctx, p.o.ScanTimeout)
	if err != nil {
		return nil, "", err
	}
	defer cancel()
	cmd := newCmd("SCAN", len(glob)+48).str(cursor).str("MATCH").str(glob).str("COUNT").num(int64(p.o.ScanCount)).done()
	o, err := p.send(ctx, &call{cmd: cmd, idem: true, b64: true})
	if err == nil && o.isErr {
		err = serverError(o.err)
	}
	if err == nil {
		err = decodeBase64Strings(&o.val)
	}
	if err != nil {
		return nil, "", fail(ctx, "delete pattern: scan", err)
	}
	v := o.val
	if v.kind != kArr || len(v.arr) != 2 || v.arr[0].kind != kStr || v.arr[1].kind != kArr {
		return nil, "", fail(ctx, "delete pattern: scan", errShape("SCAN", v))
	}
	found := make([][]byte, 0, len(v.arr[1].arr))
	for _, e := range v.arr[1].arr {
		if e.kind != kStr {
			return nil, "", fail(ctx, "delete pattern: scan", fmt.Errorf("%w: SCAN answered a key that is %s", ErrProtocol, e.kind))
		}
		found = append(found, e.str)
	}
	return found, string(v.arr[0].str), nil
}

// unlink deletes keys found by a SCAN with one DEL.
func (p *Provider) unlink(ctx context.Context, keys []string) (int, error) {
	ctx, cancel, err := p.bound(ctx, p.o.ScanTimeout)
	if err != nil {
		return 0, err
	}
	defer cancel()
	c := newCmd("DEL", 16*len(keys))
	for _, k := range keys {
		c.key(k)
	}
	v, err := p.run(ctx, c.done(), false)
	if err == nil && v.kind != kInt {
		err = errShape("DEL", v)
	}
	if err != nil {
		return 0, fail(ctx, "delete pattern: del", err)
	}
	return int(v.num), nil
}

// Scan runs one SCAN from cursor ("0" to start) and returns the keys it
// found that match the Redis glob pattern, and the next cursor ("0" once
// the whole database was visited). It is one billed, read-only command that
// examines about Options.ScanCount keys, bounded by Options.ScanTimeout; a
// key that another client wrote in bytes that are not UTF-8 is skipped, as
// in DeletePattern. It is for tools that walk a database without writing to
// it, such as the bench's -sample; it never uses KEYS.
func (p *Provider) Scan(ctx context.Context, cursor, pattern string) ([]string, string, error) {
	if p.closed.Load() {
		return nil, "", errClosed
	}
	if err := ctxErr(ctx); err != nil {
		return nil, "", fail(ctx, "scan", err)
	}
	found, next, err := p.scan(ctx, cursor, storedGlob(pattern))
	if err != nil {
		return nil, "", err
	}
	var out []string
	for _, sk := range found {
		if k, ok := originalKey(sk); ok && keys.Match(pattern, k) {
			out = append(out, k)
		}
	}
	return out, next, nil
}
