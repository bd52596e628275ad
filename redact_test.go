package aside_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
)

func TestRedactionsAreCountedAndEachFieldLoggedOnce(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newCache(t, aside.Options{Logger: log})
	ctx := context.Background()

	type Login struct {
		Name     string
		Password string
		PIN      int
	}
	for range 3 {
		require.NoError(t, aside.Set(ctx, c, "login", Login{Name: "ada", Password: "hunter2", PIN: 1234}))
	}
	body, err := c.RedactJSON([]byte(`{"user":"ada","access_token":"eyJhbGciOi","pin":4321}`))
	require.NoError(t, err)
	require.JSONEq(t, `{"user":"ada"}`, string(body))

	require.Equal(t, int64(3*2+2), c.Stats().Redactions, "every redacted field and member counts")
	var lines []string
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, "redacted a sensitive field") {
			lines = append(lines, l)
		}
	}
	require.Len(t, lines, 4, "one line per type and field: %s", lines)
	require.Contains(t, lines[0], "field=Password")
	require.Contains(t, lines[0], "Login")
	require.Contains(t, lines[1], "field=PIN")
	require.Contains(t, lines[2], `type="JSON body" field=access_token`)
	require.Contains(t, lines[3], `type="JSON body" field=pin`)
	for _, secret := range []string{"hunter2", "1234", "eyJhbGciOi", "4321"} {
		require.NotContains(t, logs.String(), secret, "values are never logged")
	}
}

func TestDefaultRedactionKeepsOrdinaryData(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	type Page struct {
		Items     []string
		NextToken string
		Session   string
		Auth      string
		Tokens    int
		Secure    bool
	}
	in := Page{Items: []string{"a"}, NextToken: "page2", Session: "morning", Auth: "oauth", Tokens: 1200, Secure: true}
	got, err := aside.Remember(ctx, c, "page", func(context.Context) (Page, error) { return in, nil })
	require.NoError(t, err)
	require.Equal(t, in, got)

	body := []byte(`{"NextToken":"page2","session":"morning","tokens":1200}`)
	out, err := c.RedactJSON(body)
	require.NoError(t, err)
	require.Equal(t, string(body), string(out))
	require.Zero(t, c.Stats().Redactions)
}
