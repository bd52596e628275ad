package keys_test

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside/keys"
)

func requestKey(t testing.TB, target string, o *keys.RequestOptions, hdr ...string) (string, error) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	k, err := keys.AppendRequest(nil, r, o)
	return string(k), err
}

func TestAppendRequestWritesTheDocumentedForm(t *testing.T) {
	tests := []struct {
		name, target string
		o            *keys.RequestOptions
		hdr          []string
		want         string
	}{
		{"a bare path keeps host and port", "http://shop.test:8080/products", nil, nil, "http://shop.test:8080/products"},
		{"the query is sorted by name", "http://h/p?b=2&a=1", nil, nil, "http://h/p?a=1&b=2"},
		{"values of one name keep their order", "http://h/p?a=2&a=1", nil, nil, "http://h/p?a=2&a=1"},
		{"escapes are rewritten the way QueryEscape writes them", "http://h/p?q=a%20b&r=%7e", nil, nil, "http://h/p?q=a+b&r=~"},
		{"empty pieces are dropped like ParseQuery drops them", "http://h/p?&&a=1&", nil, nil, "http://h/p?a=1"},
		{"ignored parameters are dropped", "http://h/p?utm_source=x&id=1", &keys.RequestOptions{IgnoreQuery: []string{"utm_source"}}, nil, "http://h/p?id=1"},
		{"a query of only ignored parameters leaves no question mark", "http://h/p?utm_source=x", &keys.RequestOptions{IgnoreQuery: []string{"utm_source"}}, nil, "http://h/p"},
		{"an encoded slash stays encoded", "http://h/a%2Fb", nil, nil, "http://h/a%2Fb"},
		{"nominated headers follow the URL", "http://h/p", &keys.RequestOptions{Headers: []string{"Accept-Language", "X-Tenant"}}, []string{"Accept-Language", "fr, en;q=0.5"}, "http://h/p Accept-Language=fr%2C+en%3Bq%3D0.5 X-Tenant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := requestKey(t, tt.target, tt.o, tt.hdr...)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestAppendRequestKeysTLSAsHTTPSAndIgnoresForwardedProto(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "https://h/p", nil)
	r.TLS = &tls.ConnectionState{}
	r.Header.Set("X-Forwarded-Proto", "http")
	k, err := keys.AppendRequest(nil, r, nil)
	require.NoError(t, err)
	require.Equal(t, "https://h/p", string(k))

	plain := httptest.NewRequest(http.MethodGet, "http://h/p", nil)
	plain.Header.Set("X-Forwarded-Proto", "https")
	k, err = keys.AppendRequest(nil, plain, nil)
	require.NoError(t, err)
	require.Equal(t, "http://h/p", string(k))
}

func TestAppendRequestGivesDifferentRequestsDifferentKeys(t *testing.T) {
	h := &keys.RequestOptions{Headers: []string{"Accept-Language"}}
	pairs := []struct {
		name  string
		a, b  string
		o     *keys.RequestOptions
		ha    []string
		hb    []string
		equal bool
	}{
		{name: "an encoded slash is not a slash", a: "http://h/a%2Fb", b: "http://h/a/b"},
		{name: "a semicolon suffix is part of the path", a: "http://h/account;x.css", b: "http://h/account"},
		{name: "a static-looking suffix is part of the path", a: "http://h/account/x.css", b: "http://h/account"},
		{name: "the port is part of the host", a: "http://h:81/p", b: "http://h/p"},
		{name: "the host is part of the key", a: "http://a.test/p", b: "http://b.test/p"},
		{name: "an escaped ampersand is not a separator", a: "http://h/p?a=1%262", b: "http://h/p?a=1&2"},
		{name: "an escaped equals sign is not a separator", a: "http://h/p?a%3Db=c", b: "http://h/p?a=b%3Dc"},
		{name: "value order within a name matters", a: "http://h/p?a=1&a=2", b: "http://h/p?a=2&a=1"},
		{name: "an absent header is not an empty one", a: "http://h/p", b: "http://h/p", o: h, hb: []string{"Accept-Language", ""}},
		{name: "header values are separated unambiguously", a: "http://h/p", b: "http://h/p", o: h, ha: []string{"Accept-Language", "a,b"}, hb: []string{"Accept-Language", "a", "Accept-Language", "b"}},
		{name: "pair order across names does not matter", a: "http://h/p?a=1&b=2", b: "http://h/p?b=2&a=1", equal: true},
		{name: "equivalent escapes are one key", a: "http://h/p?q=%41", b: "http://h/p?q=A", equal: true},
	}
	for _, tt := range pairs {
		t.Run(tt.name, func(t *testing.T) {
			ka, err := requestKey(t, tt.a, tt.o, tt.ha...)
			require.NoError(t, err)
			kb, err := requestKey(t, tt.b, tt.o, tt.hb...)
			require.NoError(t, err)
			if tt.equal {
				require.Equal(t, ka, kb)
			} else {
				require.NotEqual(t, ka, kb)
			}
		})
	}
}

func TestAppendRequestRefusesQueriesNetURLWouldDropPartsOf(t *testing.T) {
	for _, q := range []string{"a=1;b=2", "a=%zz", "%g=1"} {
		r := httptest.NewRequest(http.MethodGet, "http://h/p", nil)
		r.URL.RawQuery = q
		_, err := keys.AppendRequest(nil, r, nil)
		require.True(t, errors.Is(err, keys.ErrUnkeyable), "query %q: %v", q, err)
	}
}

func TestAppendURLNamesARelativeLocationLikeTheRequest(t *testing.T) {
	base := httptest.NewRequest(http.MethodGet, "http://h/products?b=2&a=1", nil)
	want, err := keys.AppendRequest(nil, base, nil)
	require.NoError(t, err)
	loc, err := url.Parse("/products?a=1&b=2")
	require.NoError(t, err)
	got, err := keys.AppendURL(nil, "http", "h", loc, nil)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
}

func BenchmarkAppendRequest(b *testing.B) {
	r := httptest.NewRequest(http.MethodGet, "http://shop.test/products?page=2&sort=price&utm_source=x", nil)
	o := &keys.RequestOptions{IgnoreQuery: []string{"utm_source"}}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = keys.AppendRequest(buf[:0], r, o)
	}
}

// FuzzAppendRequest checks the one-to-one property: requests with equal keys
// agree on everything the key claims to identify.
func FuzzAppendRequest(f *testing.F) {
	f.Add("h", "/p", "a=1&b=2", "h", "/p", "b=2&a=1")
	f.Add("h", "/a%2Fb", "", "h", "/a/b", "")
	f.Add("h:1", "/p", "x=%20", "h", ":1/p", "x=+")
	f.Fuzz(func(t *testing.T, hostA, pathA, queryA, hostB, pathB, queryB string) {
		type parsed struct {
			host, path string
			query      url.Values
		}
		parse := func(host, path, query string) (parsed, []byte, bool) {
			u := &url.URL{RawQuery: query}
			if err := setPath(u, path); err != nil {
				return parsed{}, nil, false
			}
			k, err := keys.AppendURL(nil, "http", host, u, nil)
			if err != nil {
				return parsed{}, nil, false
			}
			q, qerr := url.ParseQuery(query)
			if qerr != nil {
				t.Fatalf("AppendURL accepted query %q that ParseQuery rejects: %v", query, qerr)
			}
			return parsed{host, u.EscapedPath(), q}, k, true
		}
		a, ka, okA := parse(hostA, pathA, queryA)
		b, kb, okB := parse(hostB, pathB, queryB)
		if !okA || !okB || string(ka) != string(kb) {
			return
		}
		if a.host != b.host || a.path != b.path || !reflect.DeepEqual(a.query, b.query) {
			t.Fatalf("same key %q for different requests %+v and %+v", ka, a, b)
		}
	})
}

// setPath sets u's path from an escaped path the way the server's parser does.
func setPath(u *url.URL, escaped string) error {
	p, err := url.PathUnescape(escaped)
	if err != nil {
		return err
	}
	u.Path = p
	u.RawPath = escaped
	if u.EscapedPath() != escaped {
		u.RawPath = ""
	}
	return nil
}
