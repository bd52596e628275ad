package redact

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalizeSplitsWords(t *testing.T) {
	tests := []struct {
		in    string
		words []string
	}{
		{"userPassword", []string{"user", "password"}},
		{"APIKey", []string{"api", "key"}},
		{"stripeApiKey", []string{"stripe", "api", "key"}},
		{"X-Auth-Token", []string{"x", "auth", "token"}},
		{"oauth2Token", []string{"oauth2", "token"}},
		{"userID", []string{"user", "id"}},
		{"snake_case name", []string{"snake", "case", "name"}},
		{"HTTPServer", []string{"http", "server"}},
		{"café_token", []string{"café", "token"}},
		{"a.b-c d", []string{"a", "b", "c", "d"}},
	}
	for _, tt := range tests {
		t.Run(tt.in+" splits into its words", func(t *testing.T) {
			norm, starts := normalize(tt.in, nil, nil)
			var words []string
			for i, s := range starts {
				end := len(norm)
				if i+1 < len(starts) {
					end = starts[i+1]
				}
				words = append(words, string(norm[s:end]))
			}
			require.Equal(t, tt.words, words)
			require.Equal(t, strings.Join(tt.words, ""), string(norm))
		})
	}
}

func TestRulesChangeNames(t *testing.T) {
	tests := []struct {
		name  string
		rules Rules
		check map[string]bool
	}{
		{
			name:  "an added name is sensitive as a whole name only",
			rules: Rules{Add: []string{"date_of_birth"}},
			check: map[string]bool{"dateOfBirth": true, "DATE-OF-BIRTH": true, "userDateOfBirth": false},
		},
		{
			name:  "an added star name is also a tail",
			rules: Rules{Add: []string{"*pin"}},
			check: map[string]bool{"pin": true, "cardPin": true, "MapPin": true, "spin": false},
		},
		{
			name:  "a removed exact name is no longer sensitive",
			rules: Rules{Remove: []string{"pin"}},
			check: map[string]bool{"pin": false, "PIN": false, "cvv": true},
		},
		{
			name:  "an added name can bring back one the defaults leave out",
			rules: Rules{Add: []string{"session", "sid"}},
			check: map[string]bool{"session": true, "Session": true, "sid": true, "lastSession": false},
		},
		{
			name:  "an added tail name ending in digits matches with other digits",
			rules: Rules{Add: []string{"*apikey"}},
			check: map[string]bool{"apikey2": true, "stripe_api_key_3": true},
		},
		{
			name:  "a removed suffix name lets longer names through too",
			rules: Rules{Remove: []string{"token"}},
			check: map[string]bool{"token": false, "github_token": false, "access_token": true, "csrf_token": true, "password": true},
		},
		{
			name:  "remove wins over add",
			rules: Rules{Add: []string{"nickname"}, Remove: []string{"nickname"}},
			check: map[string]bool{"nickname": false},
		},
		{
			name:  "removing an allowed tail's parent keeps other names",
			rules: Rules{Remove: []string{"next_page_token"}},
			check: map[string]bool{"next_page_token": false, "page_token": false, "token": true},
		},
		{
			name: "a custom predicate adds to the lists",
			rules: Rules{Match: func(name string) bool {
				return strings.HasPrefix(name, "x_private_")
			}},
			check: map[string]bool{"x_private_notes": true, "notes": false, "password": true},
		},
		{
			name:  "a disabled filter finds nothing",
			rules: Rules{Disabled: true},
			check: map[string]bool{"password": false, "token": false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := New(tt.rules)
			require.NoError(t, err)
			for name, want := range tt.check {
				require.Equal(t, want, f.IsSensitive(name), name)
			}
		})
	}
}

func TestNewRejectsInvalidRules(t *testing.T) {
	tests := []struct {
		name  string
		rules Rules
	}{
		{"an unknown mode is rejected", Rules{Mode: 7}},
		{"an added name without letters is rejected", Rules{Add: []string{"__"}}},
		{"a bare star is rejected", Rules{Add: []string{"*"}}},
		{"a removed empty name is rejected", Rules{Remove: []string{""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := New(tt.rules)
			require.Nil(t, f)
			require.True(t, errors.Is(err, ErrInvalidRules), err)
			require.True(t, strings.HasPrefix(err.Error(), "aside: redact: "), err)
		})
	}
}

func TestIsSensitiveDoesNotAllocate(t *testing.T) {
	f := Default()
	allocs := testing.AllocsPerRun(100, func() {
		f.IsSensitive("stripeApiKey")
		f.IsSensitive("tokenizer_version")
		f.lookupBytes([]byte("X-Auth-Token"))
	})
	require.Zero(t, allocs)
}
