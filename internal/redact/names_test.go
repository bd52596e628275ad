package redact

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDefaultNames(t *testing.T) {
	f := Default()
	tests := []struct {
		name      string
		sensitive bool
		why       string
	}{
		{"password", true, "a default name"},
		{"Password", true, "case is ignored"},
		{"PASSWORD", true, "all caps is ignored"},
		{"pass_word", true, "separators are ignored"},
		{"userPassword", true, "password is a word-aligned tail"},
		{"db_password", true, "password is a tail after a separator"},
		{"passwordHash", true, "a password hash is on the list"},
		{"passwd", true, "a default name"},
		{"pwd", true, "a default name"},
		{"github_token", true, "token is a tail"},
		{"access_token", true, "a default name"},
		{"refreshToken", true, "camelCase token"},
		{"id_token", true, "token tail"},
		{"X-Auth-Token", true, "header spelling"},
		{"X-CSRF-Token", true, "csrf tokens are secrets"},
		{"stripeApiKey", true, "apikey is a tail across camelCase words"},
		{"APIKey", true, "an acronym run splits before Key"},
		{"api_key", true, "a default name"},
		{"x-api-key", true, "header spelling"},
		{"apikey", true, "one word"},
		{"client_secret", true, "secret tail"},
		{"secret", true, "a default name"},
		{"Authorization", true, "header name"},
		{"Proxy-Authorization", true, "authorization tail"},
		{"auth", true, "exact name"},
		{"cookie", true, "a default name"},
		{"Set-Cookie", true, "header name"},
		{"session", true, "exact name"},
		{"session_id", true, "a default name"},
		{"sessionID", true, "camelCase with acronym"},
		{"userSessionId", true, "sessionid is a tail"},
		{"ssn", true, "a default name"},
		{"social_security_number", true, "exact name"},
		{"credit_card", true, "a default name"},
		{"creditCardNumber", true, "cardnumber tail"},
		{"card_number", true, "a default name"},
		{"cvv", true, "a default name"},
		{"cvc", true, "a default name"},
		{"pin", true, "exact name"},
		{"private_key", true, "a default name"},
		{"sshPrivateKey", true, "privatekey tail"},
		{"secret_key", true, "a default name"},
		{"aws_secret_access_key", true, "accesskey tail"},
		{"passphrase", true, "a default name"},
		{"otp", true, "a default name"},
		{"smsOtp", true, "otp tail"},
		{"tokens", true, "the plural as a whole name"},
		{"credentials", true, "a default name"},
		{"dsn", true, "connection strings carry passwords"},

		{"tokenizer_version", false, "token is not a whole word here"},
		{"authorId", false, "auth is exact-only and author is another word"},
		{"author", false, "not a word on the list"},
		{"authType", false, "auth is exact-only"},
		{"maxTokens", false, "plurals are exact-only, so LLM counters pass"},
		{"inputTokens", false, "plurals are exact-only"},
		{"token_type", false, "token is not the tail"},
		{"tokenExpiresAt", false, "token is not the tail"},
		{"next_page_token", false, "page tokens are allowed for pagination"},
		{"pageToken", false, "page tokens are allowed"},
		{"continuationToken", false, "continuation tokens are allowed"},
		{"sessions", false, "plural session is a list, not a secret"},
		{"lastSession", false, "session is exact-only"},
		{"MapPin", false, "pin is exact-only"},
		{"shipping", false, "no word-aligned match"},
		{"publicKey", false, "public keys are public"},
		{"apiKeyId", false, "a key id is not the key"},
		{"cookieConsent", false, "cookie is not the tail"},
		{"secretName", false, "secret is not the tail"},
		{"email", false, "not on the list"},
		{"ID", false, "not on the list"},
		{"", false, "empty"},
		{"___", false, "only separators"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.why, func(t *testing.T) {
			require.Equal(t, tt.sensitive, f.IsSensitive(tt.name))
			require.Equal(t, tt.sensitive, f.sensitiveBytes([]byte(tt.name)), "byte form agrees")
		})
	}
}

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
			rules: Rules{Remove: []string{"session"}},
			check: map[string]bool{"session": false, "session_id": true},
		},
		{
			name:  "a removed suffix name lets longer names through too",
			rules: Rules{Remove: []string{"token"}},
			check: map[string]bool{"token": false, "github_token": false, "access_token": true, "password": true},
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
		f.sensitiveBytes([]byte("X-Auth-Token"))
	})
	require.Zero(t, allocs)
}
