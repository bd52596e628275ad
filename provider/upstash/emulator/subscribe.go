package emulator

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// subscription reports whether path is Upstash's streaming subscribe form,
// POST /subscribe/<channel>[/<channel>...] or /psubscribe/<pattern>..., and
// returns the command and its channels. Any body (the official client sends
// "[]") is ignored.
func subscription(escapedPath string) (cmd string, channels []string, ok bool) {
	p := strings.Trim(escapedPath, "/")
	name, rest, _ := strings.Cut(p, "/")
	cmd = strings.ToLower(name)
	if cmd != "subscribe" && cmd != "psubscribe" {
		return "", nil, false
	}
	for s := range strings.SplitSeq(rest, "/") {
		ch, err := url.PathUnescape(s)
		if err != nil || ch == "" {
			return cmd, nil, true
		}
		channels = append(channels, ch)
	}
	return cmd, channels, true
}

// serveSubscribe streams the messages of channels as Server-Sent Events, as
// Upstash's REST API does for the official client's redis.subscribe: one
// event per Redis reply, "data: subscribe,<channel>,<count>" for each
// confirmation, then "data: message,<channel>,<message>" (psubscribe:
// "data: pmessage,<pattern>,<channel>,<message>"). A message holding a line
// break is sent as several data lines, as the SSE format requires (the
// official client reads each line as an event, so such messages do not reach
// it intact; Upstash's own handling of them is not documented).
//
// The subscription is a dedicated Redis connection held for as long as the
// client stays; the stream ends when the client goes away, when the
// emulator's Redis connection fails (never resubscribed behind the client's
// back: the client sees the end and subscribes again, knowing what was
// published meanwhile is lost), or when Redis ends it. Billing: one command
// per channel subscribed; the messages delivered are not billed here
// (Upstash bills the PUBLISH that sent them).
func (e *Emulator) serveSubscribe(w http.ResponseWriter, r *http.Request, cmd string, channels []string) {
	if len(channels) == 0 {
		e.reply(w, r, http.StatusBadRequest, errorBody("ERR wrong number of arguments for '"+cmd+"' command (use /"+cmd+"/<channel>)"))
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		e.reply(w, r, http.StatusInternalServerError, errorBody("ERR emulator: this server cannot stream responses"))
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var ps *goredis.PubSub
	if cmd == "psubscribe" {
		ps = e.rdb.PSubscribe(ctx, channels...)
	} else {
		ps = e.rdb.Subscribe(ctx, channels...)
	}
	defer ps.Close()
	// go-redis does not interrupt a blocked read when ctx is cancelled:
	// closing the subscription does, when the client goes away.
	defer context.AfterFunc(ctx, func() { _ = ps.Close() })()

	// Confirm every channel before answering, so that a client that has
	// read the confirmations receives everything published after them.
	confirmations := make([]*goredis.Subscription, 0, len(channels))
	for len(confirmations) < len(channels) {
		msg, err := ps.Receive(ctx)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Warn("upstash emulator: redis failed", "err", err)
			}
			e.reply(w, r, http.StatusInternalServerError, errorBody("ERR emulator: Redis is unavailable: "+err.Error()))
			return
		}
		if s, ok := msg.(*goredis.Subscription); ok {
			confirmations = append(confirmations, s)
		}
	}
	for range channels {
		e.stats.billed(cmd, false)
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set(syncTokenHeader, strconv.FormatInt(e.seq.Load(), 10))
	w.WriteHeader(http.StatusOK)
	// send writes one event: its fields joined by commas after "data: ",
	// each line break of a field continuing on a new data line.
	send := func(fields ...string) bool {
		ev := []byte("data: ")
		for i, f := range fields {
			if i > 0 {
				ev = append(ev, ',')
			}
			ev = append(ev, strings.ReplaceAll(strings.ReplaceAll(f, "\r\n", "\n"), "\n", "\ndata: ")...)
		}
		ev = append(ev, "\n\n"...)
		e.stats.responseBytes.Add(int64(len(ev)))
		if _, err := w.Write(ev); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	for _, s := range confirmations {
		if !send(s.Kind, s.Channel, strconv.Itoa(s.Count)) {
			return
		}
	}
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Warn("upstash emulator: a subscription's Redis connection failed; ending its stream", "err", err)
			}
			return
		}
		ok := true
		switch m := msg.(type) {
		case *goredis.Message:
			if m.Pattern != "" {
				ok = send("pmessage", m.Pattern, m.Channel, m.Payload)
			} else {
				ok = send("message", m.Channel, m.Payload)
			}
		case *goredis.Subscription:
			ok = send(m.Kind, m.Channel, strconv.Itoa(m.Count))
		}
		if !ok {
			return
		}
	}
}
