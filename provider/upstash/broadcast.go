package upstash

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/aside-go/aside/provider"
)

var _ provider.Broadcaster = (*Provider)(nil)

// maxEventBytes bounds one Server-Sent Event line of a subscription: a
// message of up to 3 MiB once base64-encoded. A longer line ends the
// subscription (its Messages channel closes) rather than growing a buffer.
const maxEventBytes = 4 << 20

// Publish sends msg on channel with PUBLISH (one billed command) and reports
// how many subscribers received it. The message travels as its standard
// base64 text, because Upstash delivers messages as lines of text (a line
// break would cut one); Subscribe decodes it, so subscribers of other
// clients see the base64 text. A lost reply is not retried: a retried
// PUBLISH could deliver twice.
func (p *Provider) Publish(ctx context.Context, channel string, msg []byte) (int64, error) {
	if p.closed.Load() {
		return 0, errClosed
	}
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		return 0, err
	}
	defer cancel()
	text := base64.StdEncoding.EncodeToString(msg)
	v, err := p.run(ctx, newCmd("PUBLISH", len(channel)+len(text)+8).str(channel).str(text).done(), false)
	if err != nil {
		return 0, fail(ctx, "publish", err)
	}
	if v.kind != kInt {
		return 0, fail(ctx, "publish", errShape("PUBLISH", v))
	}
	return v.num, nil
}

// Subscribe opens Upstash's streaming subscription to channel (POST
// /subscribe/<channel>, Server-Sent Events; one billed command) and returns
// once the server has confirmed it, or when ctx ends. The stream is one HTTP
// request held open on its own connection for the life of the subscription,
// outside the command queue and its Timeout; Provider.Close ends it. Any
// failure of the stream (the connection lost, the server ending it, a line
// that cannot be read) closes the Messages channel: nothing is resubscribed
// behind the caller's back. Messages that are not base64 text (published by
// another client) are skipped.
//
// A client given in Options.HTTPClient must not set http.Client.Timeout,
// which would cut every subscription after that long.
func (p *Provider) Subscribe(ctx context.Context, channel string) (provider.Subscription, error) {
	if p.closed.Load() {
		return nil, errClosed
	}
	if channel == "" {
		return nil, fmt.Errorf("%w: the channel is empty", ErrInvalidOptions)
	}
	life, end := context.WithCancel(p.life)
	stop := context.AfterFunc(ctx, end) // ctx bounds the wait for the confirmation only
	body := []byte("[]")
	req, err := http.NewRequestWithContext(life, http.MethodPost, p.base+"/subscribe/"+url.PathEscape(channel), bytes.NewReader(body))
	if err != nil {
		stop()
		end()
		return nil, fmt.Errorf("%w: cannot build the request", ErrInvalidURL)
	}
	req.Header.Set("Authorization", p.auth)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	res, err := p.client.Do(req)
	if err != nil {
		stop()
		end()
		if p.life.Err() != nil {
			return nil, errClosed
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("aside: upstash: subscribe: %w", ctx.Err())
		}
		return nil, fmt.Errorf("aside: upstash: subscribe: cannot reach the server: %w", transportErr(err))
	}
	p.count(body, 1)
	refuse := func(err error) (provider.Subscription, error) {
		stop()
		end()
		_ = res.Body.Close()
		if p.life.Err() != nil {
			return nil, errClosed
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("aside: upstash: subscribe: %w", ctx.Err())
		}
		return nil, err
	}
	switch {
	case res.StatusCode == http.StatusUnauthorized:
		p.stats.forbidden.Add(1)
		return refuse(ErrUnauthorized)
	case res.StatusCode != http.StatusOK:
		msg, _ := readBody(res, 4096)
		if o, perr := parseOutcome(msg); perr == nil && o.isErr {
			return refuse(fmt.Errorf("aside: upstash: subscribe: %w", serverError(o.err)))
		}
		return refuse(fmt.Errorf("%w: subscribe answered HTTP %d", ErrProtocol, res.StatusCode))
	case !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream"):
		return refuse(fmt.Errorf("%w: subscribe answered %q, not a stream of events", ErrProtocol, res.Header.Get("Content-Type")))
	}
	events := newEventReader(res.Body)
	ev, err := events.next()
	if err != nil {
		return refuse(fmt.Errorf("aside: upstash: subscribe: the stream ended before the confirmation: %w", transportErr(err)))
	}
	if !bytes.HasPrefix(ev, []byte("subscribe,"+channel+",")) {
		return refuse(fmt.Errorf("%w: subscribe was not confirmed", ErrProtocol))
	}
	if !stop() {
		return refuse(fmt.Errorf("aside: upstash: subscribe: %w", ctx.Err()))
	}
	p.stats.commands.Add(1)
	s := &subscription{msgs: make(chan []byte, 64), life: life, end: end, done: make(chan struct{})}
	go s.read(events, res, "message,"+channel+",")
	return s, nil
}

// subscription is one open subscribe stream.
type subscription struct {
	msgs chan []byte
	life context.Context // the stream's request context
	end  context.CancelFunc
	done chan struct{} // closed when read has returned
	once sync.Once
}

func (s *subscription) Messages() <-chan []byte { return s.msgs }

// Close ends the stream and returns once its reader has closed Messages.
func (s *subscription) Close() error {
	s.once.Do(s.end)
	<-s.done
	return nil
}

// read delivers the stream's messages until it fails or is closed.
func (s *subscription) read(events *eventReader, res *http.Response, prefix string) {
	defer close(s.done)
	defer close(s.msgs)
	defer res.Body.Close()
	defer s.once.Do(s.end)
	for {
		ev, err := events.next()
		if err != nil {
			return
		}
		text, ok := bytes.CutPrefix(ev, []byte(prefix))
		if !ok {
			continue // a confirmation or another kind of event
		}
		msg := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
		n, err := base64.StdEncoding.Decode(msg, text)
		if err != nil {
			continue // not ours
		}
		select {
		case s.msgs <- msg[:n]:
		case <-s.life.Done():
			return
		}
	}
}

// eventReader reads the data of Server-Sent Events: the "data:" lines of an
// event joined by "\n", up to the blank line that ends it.
type eventReader struct {
	sc *bufio.Scanner
}

func newEventReader(body io.Reader) *eventReader {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 4096), maxEventBytes)
	return &eventReader{sc: sc}
}

var errStreamEnded = errors.New("the stream ended")

func (r *eventReader) next() ([]byte, error) {
	var data []byte
	seen := false
	for r.sc.Scan() {
		line := r.sc.Bytes()
		if len(line) == 0 {
			if seen {
				return data, nil
			}
			continue
		}
		if d, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			d = bytes.TrimPrefix(d, []byte(" "))
			if seen {
				data = append(data, '\n')
			}
			data, seen = append(data, d...), true
		}
		// Other fields (event:, id:, retry:) and comments carry nothing here.
	}
	if err := r.sc.Err(); err != nil {
		return nil, err
	}
	return nil, errStreamEnded
}
