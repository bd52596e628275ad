package upstash_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/upstash"
	"github.com/aside-go/aside/provider/upstash/emulator"
)

func TestNewChecksTheURLWithoutQuotingIt(t *testing.T) {
	const secret = "AXsecret42"
	tests := []struct {
		name string
		url  string
		o    upstash.Options
		ok   bool
	}{
		{"an Upstash URL", "https://eu1-merry-cat-32748.upstash.io", upstash.Options{}, true},
		{"with a trailing slash", "https://eu1-merry-cat-32748.upstash.io/", upstash.Options{}, true},
		{"with a base path behind a proxy", "https://proxy.example.com/upstash/", upstash.Options{}, true},
		{"http to the loopback emulator", "http://127.0.0.1:8079", upstash.Options{}, true},
		{"http to localhost", "http://localhost:8079", upstash.Options{}, true},
		{"http to ::1", "http://[::1]:8079", upstash.Options{}, true},
		{"http to another host", "http://cache.internal:8079", upstash.Options{}, false},
		{"http to another host when allowed", "http://cache.internal:8079", upstash.Options{AllowHTTP: true}, true},
		{"an empty URL", "  ", upstash.Options{}, false},
		{"another scheme", "redis://cache.internal:6379", upstash.Options{}, false},
		{"no host", "https:///path", upstash.Options{}, false},
		{"credentials in the URL", "https://default:" + secret + "@eu1.upstash.io", upstash.Options{}, false},
		{"the token as a query parameter", "https://eu1.upstash.io/?_token=" + secret, upstash.Options{}, false},
		{"a fragment", "https://eu1.upstash.io/#" + secret, upstash.Options{}, false},
		{"a malformed URL", "https://eu1.upstash.io:" + secret, upstash.Options{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := upstash.New(tt.url, "token", tt.o)
			if tt.ok {
				require.NoError(t, err)
				require.NoError(t, p.Close())
				return
			}
			require.ErrorIs(t, err, upstash.ErrInvalidURL)
			require.NotContains(t, err.Error(), secret)
			require.NotContains(t, err.Error(), "cache.internal")
		})
	}
}

func TestNewChecksTheTokenWithoutQuotingIt(t *testing.T) {
	_, err := upstash.New("https://eu1.upstash.io", "", upstash.Options{})
	require.ErrorIs(t, err, upstash.ErrNoToken)
	_, err = upstash.New("https://eu1.upstash.io", "AXsecret\r\nX-Injected: 1", upstash.Options{})
	require.ErrorIs(t, err, upstash.ErrInvalidOptions)
	require.NotContains(t, err.Error(), "AXsecret")
}

func TestNewRefusesNegativeOptions(t *testing.T) {
	for _, o := range []upstash.Options{
		{Timeout: -1}, {ScanTimeout: -1}, {ScanCount: -1}, {MaxInFlight: -1}, {MaxBatch: -1},
		{MaxBatchBytes: -1}, {BatchWait: -1}, {MaxValueSize: -1}, {MaxRequestBytes: -1}, {MaxResponseBytes: -1},
	} {
		_, err := upstash.New("https://eu1.upstash.io", "t", o)
		require.ErrorIs(t, err, upstash.ErrInvalidOptions, "%+v", o)
	}
}

// Over TLS the provider's own client speaks HTTP/2 when the server offers
// it: one connection multiplexes the requests in flight.
func TestHTTP2WhenTheServerOffersIt(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	var h2, requests atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.ProtoMajor == 2 {
			h2.Add(1)
		}
		f.emu.ServeHTTP(w, r)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	p, err := upstash.New(srv.URL, testToken, upstash.Options{TLSConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}})
	require.NoError(t, err)
	defer p.Close()
	ctx := ctxFor(t)
	k := prefix(t) + "k"
	require.NoError(t, p.Set(ctx, k, []byte("over h2"), time.Minute))
	v, err := p.Get(ctx, k)
	require.NoError(t, err)
	require.Equal(t, "over h2", string(v))
	require.Equal(t, requests.Load(), h2.Load(), "every request over HTTP/2")
	require.EqualValues(t, 2, h2.Load())
}

// The stored form of a value is its base64 text, 4⌈n/3⌉ bytes: measured on
// the Redis behind the emulator.
func TestStoredSizeIsTheBase64OfTheValue(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	p := f.provider(t, upstash.Options{})
	ctx := ctxFor(t)
	for _, n := range []int{0, 1, 2, 3, 28, 184, 1000, 9192, 65536} {
		k := prefix(t) + itoa(n)
		v := make([]byte, n)
		for i := range v {
			v[i] = byte(i * 7)
		}
		require.NoError(t, p.Set(ctx, k, v, time.Minute))
		stored, err := f.rdb.StrLen(ctx, k).Result()
		require.NoError(t, err)
		require.EqualValues(t, 4*((n+2)/3), stored, "value of %d bytes", n)
	}
}

// Scripts run with and without Upstash's allow-key-locking flag; the
// emulator, like Upstash, accepts both.
func TestScriptsWithAndWithoutKeyLocking(t *testing.T) {
	for _, global := range []bool{false, true} {
		t.Run(map[bool]string{false: "allow-key-locking", true: "GlobalScriptLock"}[global], func(t *testing.T) {
			f := newFixture(t, emulator.Options{})
			p := f.provider(t, upstash.Options{GlobalScriptLock: global})
			ctx := ctxFor(t)
			pre := prefix(t)
			require.NoError(t, p.Set(ctx, pre+"a", []byte("old"), 0))
			ok, err := p.CompareAndSwap(ctx, pre+"a", []byte("old"), []byte("new"), time.Minute)
			require.NoError(t, err)
			require.True(t, ok)
			require.NoError(t, p.SetMulti(ctx, []provider.Item{{Key: pre + "b", Value: []byte("1")}, {Key: pre + "c", Value: []byte("2")}}))
			res, err := p.AddMulti(ctx, []provider.Item{{Key: pre + "b", Value: []byte("x")}, {Key: pre + "d", Value: []byte("y")}})
			require.NoError(t, err)
			require.Equal(t, []provider.AddResult{{Added: false, Existing: []byte("1")}, {Added: true}}, res)
		})
	}
}
