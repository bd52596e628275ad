package redact

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

// defaultNameCases is the contract of the default list: names that hold
// credentials, card data and session identifiers, and ordinary API field
// names that merely look like them.
var defaultNameCases = []struct {
	name      string
	sensitive bool
	why       string
}{
	// Passwords.
	{"password", true, "a default name"},
	{"Password", true, "case is ignored"},
	{"PASSWORD", true, "all caps is ignored"},
	{"pass_word", true, "separators are ignored"},
	{"userPassword", true, "password is a word-aligned tail"},
	{"db_password", true, "password is a tail after a separator"},
	{"new_password", true, "password tail"},
	{"current_password", true, "password tail"},
	{"password_confirmation", true, "holds the password a second time"},
	{"password1", true, "trailing digits are ignored (Django's password1/password2)"},
	{"password2", true, "trailing digits are ignored"},
	{"passwordHash", true, "a password hash can be cracked offline"},
	{"passwd", true, "a default name"},
	{"pwd", true, "a default name"},
	{"mysql_pwd", true, "pwd tail"},
	{"passphrase", true, "a default name"},
	{"passcode", true, "a default name"},
	// Secrets, keys, credentials.
	{"secret", true, "a default name"},
	{"client_secret", true, "secret tail"},
	{"clientSecret", true, "camelCase secret tail"},
	{"webhook_secret", true, "secret tail"},
	{"oauth_token_secret", true, "secret tail"},
	{"totp_secret", true, "secret tail"},
	{"secrets", true, "the plural as a whole name"},
	{"api_key", true, "a default name"},
	{"apiKey", true, "camelCase"},
	{"APIKey", true, "an acronym run splits before Key"},
	{"X-API-Key", true, "header spelling"},
	{"stripeApiKey", true, "apikey is a tail across camelCase words"},
	{"apikeys", true, "the plural as a whole name"},
	{"private_key", true, "a default name"},
	{"sshPrivateKey", true, "privatekey tail"},
	{"secret_key", true, "a default name"},
	{"aws_secret_access_key", true, "accesskey tail"},
	{"signing_key", true, "a default name"},
	{"encryption_key", true, "a default name"},
	{"master_key", true, "a default name"},
	{"auth_key", true, "a default name"},
	{"credentials", true, "a default name"},
	{"credential", true, "a default name"},
	{"connection_string", true, "connection strings carry passwords"},
	{"dsn", true, "so do DSNs"},
	{"Authorization", true, "header name"},
	{"Proxy-Authorization", true, "authorization tail"},
	{"bearer", true, "exact name"},
	{"jwt", true, "a default name"},
	{"cookie", true, "a default name"},
	{"Set-Cookie", true, "header name"},
	{"cookies", true, "the plural as a whole name"},
	{"session_cookie", true, "cookie tail"},
	// Bearer tokens.
	{"token", true, "a default name"},
	{"access_token", true, "a default name"},
	{"accessToken", true, "camelCase"},
	{"refresh_token", true, "a default name"},
	{"id_token", true, "a default name"},
	{"idToken", true, "camelCase"},
	{"auth_token", true, "a default name"},
	{"X-Auth-Token", true, "header spelling"},
	{"bearer_token", true, "a default name"},
	{"api_token", true, "a default name"},
	{"github_token", true, "token is a tail"},
	{"slackBotToken", true, "token is a tail"},
	{"personal_access_token", true, "accesstoken tail"},
	{"oauth_token", true, "token tail"},
	{"X-Amz-Security-Token", true, "a temporary credential"},
	{"reset_token", true, "a password reset token is a one-time credential"},
	{"verification_token", true, "so is an e-mail verification token"},
	{"authenticity_token", true, "Rails' CSRF token"},
	{"csrf_token", true, "a per-session secret: see the package doc"},
	{"CSRFToken", true, "an acronym run splits before Token"},
	{"X-CSRF-Token", true, "header spelling"},
	{"XSRF-TOKEN", true, "Angular's cookie name"},
	{"_csrf", true, "Express' field name"},
	{"tokens", true, "the plural as a whole name (a count under it is kept: see the value tests)"},
	// Session identifiers.
	{"session_id", true, "a default name"},
	{"sessionId", true, "camelCase"},
	{"sessionID", true, "camelCase with acronym"},
	{"userSessionId", true, "sessionid is a tail"},
	{"sessionToken", true, "a default name"},
	{"session_key", true, "a default name"},
	{"PHPSESSID", true, "PHP's cookie name"},
	{"JSESSIONID", true, "Java's cookie name"},
	{"connect.sid", true, "Express' cookie name"},
	{"ASP.NET_SessionId", true, "sessionid tail"},
	// Card data, SSNs, one-time codes.
	{"credit_card", true, "a default name"},
	{"creditCard", true, "camelCase"},
	{"card_number", true, "a default name"},
	{"creditCardNumber", true, "cardnumber tail"},
	{"cc_number", true, "exact name"},
	{"cvv", true, "a default name"},
	{"CVV", true, "case is ignored"},
	{"cvv2", true, "trailing digits are ignored"},
	{"cvc", true, "a default name"},
	{"card_cvc", true, "cvc tail"},
	{"security_code", true, "a default name"},
	{"pin", true, "exact name"},
	{"PIN", true, "case is ignored"},
	{"ssn", true, "a default name"},
	{"social_security_number", true, "a default name"},
	{"otp", true, "a default name"},
	{"smsOtp", true, "otp tail"},

	// Pagination cursors.
	{"NextToken", false, "AWS pagination cursor"},
	{"next_token", false, "pagination cursor"},
	{"PageToken", false, "pagination cursor"},
	{"page_token", false, "pagination cursor"},
	{"nextPageToken", false, "Google pagination cursor"},
	{"next_page_token", false, "pagination cursor"},
	{"continuationToken", false, "pagination cursor"},
	{"NextContinuationToken", false, "S3 pagination cursor"},
	{"pagination_token", false, "pagination cursor"},
	{"sync_token", false, "sync cursor"},
	{"resumeToken", false, "change stream cursor"},
	{"skipToken", false, "OData cursor"},
	{"deltaToken", false, "Graph delta cursor"},
	{"cursor", false, "not on the list"},
	{"idempotency_token", false, "an idempotency key, not a credential"},
	{"deviceToken", false, "a push address, not a credential"},
	{"push_token", false, "a push address, not a credential"},
	// Counts and token metadata.
	{"tokenCount", false, "token is not the tail"},
	{"maxTokens", false, "plurals are exact-only, so LLM counters pass"},
	{"max_tokens", false, "plurals are exact-only"},
	{"prompt_tokens", false, "plurals are exact-only"},
	{"tokens_used", false, "tokens is not the tail"},
	{"token_type", false, "token is not the tail"},
	{"tokenExpiresAt", false, "token is not the tail"},
	{"tokenizer_version", false, "token is not a whole word here"},
	// Sessions as data.
	{"Session", false, "ambiguous: a session object, a conference slot, a count"},
	{"session", false, "ambiguous"},
	{"sessions", false, "a list of sessions"},
	{"lastSession", false, "session is not on the list"},
	{"SessionCount", false, "a count"},
	{"session_start", false, "a time"},
	{"sessionLength", false, "a duration"},
	{"session_timeout", false, "a duration"},
	{"sid", false, "Twilio's and Windows' resource identifier; connect.sid is listed"},
	{"AccountSid", false, "a Twilio account id"},
	// Authentication state.
	{"Auth", false, "ambiguous: an object describing the method, a flag"},
	{"auth", false, "ambiguous"},
	{"auth_method", false, "a method name"},
	{"authType", false, "a type name"},
	{"authorized", false, "a state"},
	{"is_authenticated", false, "a state"},
	{"author", false, "not a word on the list"},
	{"authorId", false, "author is another word"},
	// Other look-alikes.
	{"password_hint", false, "shown to the user by design"},
	{"password_changed_at", false, "a time"},
	{"passwordExpiresAt", false, "a time"},
	{"password_policy", false, "a policy"},
	{"secretName", false, "secret is not the tail"},
	{"secret_arn", false, "an ARN names a secret, it is not one"},
	{"publicKey", false, "public keys are public"},
	{"apiKeyId", false, "a key id is not the key"},
	{"accessKeyId", false, "an access key id is not the key"},
	{"cookieConsent", false, "cookie is not the tail"},
	{"cookie_policy", false, "cookie is not the tail"},
	{"MapPin", false, "pin is exact-only"},
	{"pin_code", false, "a postal code in India"},
	{"pinned", false, "a flag"},
	{"ssn_last4", false, "the last four digits may be shown"},
	{"card_last4", false, "likewise"},
	{"card_brand", false, "not card data"},
	{"shipping", false, "no word-aligned match"},
	{"email", false, "not on the list"},
	{"ID", false, "not on the list"},
	{"", false, "empty"},
	{"___", false, "only separators"},
}

func TestDefaultNames(t *testing.T) {
	f := Default()
	for _, tt := range defaultNameCases {
		t.Run(tt.name+" "+tt.why, func(t *testing.T) {
			require.Equal(t, tt.sensitive, f.IsSensitive(tt.name))
			_, ok := f.lookupBytes([]byte(tt.name))
			require.Equal(t, tt.sensitive, ok, "byte form agrees")
		})
	}
}

// TestDefaultNamesInEveryCarrier puts a string under each name as a struct
// field (by json tag, the Go name being neutral), a map key and a JSON
// member, and checks that all three redact it exactly when the name is
// sensitive.
func TestDefaultNamesInEveryCarrier(t *testing.T) {
	f := Default()
	const value = "v4lue"
	for _, tt := range defaultNameCases {
		if tt.name == "" || tt.name == "___" {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			st := reflect.StructOf([]reflect.StructField{
				{Name: "F", Type: reflect.TypeFor[string](), Tag: reflect.StructTag(`json:"` + tt.name + `"`)},
				{Name: "Keep", Type: reflect.TypeFor[string]()},
			})
			sv := reflect.New(st).Elem()
			sv.Field(0).SetString(value)
			sv.Field(1).SetString("kept")
			out, changed := f.Apply(sv.Interface())
			require.Equal(t, tt.sensitive, changed, "struct field")
			got := reflect.ValueOf(out)
			require.Equal(t, "kept", got.Field(1).String())
			if tt.sensitive {
				require.Empty(t, got.Field(0).String())
			} else {
				require.Equal(t, value, got.Field(0).String())
			}

			m := map[string]any{tt.name: value, "keep": "kept"}
			mout, changed := f.Apply(m)
			require.Equal(t, tt.sensitive, changed, "map key")
			_, present := mout.(map[string]any)[tt.name]
			require.Equal(t, !tt.sensitive, present)

			body, err := json.Marshal(m)
			require.NoError(t, err)
			jout, changed, err := f.JSON(body)
			require.NoError(t, err)
			require.Equal(t, tt.sensitive, changed, "JSON member")
			var back map[string]any
			require.NoError(t, json.Unmarshal(jout, &back))
			_, present = back[tt.name]
			require.Equal(t, !tt.sensitive, present)
		})
	}
}

// Real struct shapes from the issue: a paginated list, an LLM usage record,
// a session record and a login form.
type page struct {
	Items     []string
	NextToken string
	PageToken *string
	Session   string
	Auth      string
	Tokens    int
}

type usage struct {
	Model        string
	Tokens       int
	InputTokens  int64
	SessionCount int
	Session      int
	Cost         float64
}

type login struct {
	Username    string
	Password    string
	CSRFToken   string
	Remember    bool
	PIN         int
	CardNumber  uint64
	CVV         int
	SSN         string
	Token       int // a lexer-style token kind: data
	HasPassword bool
	Password2   []byte
}

func TestDefaultsKeepOrdinaryData(t *testing.T) {
	f := Default()

	p := page{Items: []string{"a"}, NextToken: "page2", PageToken: ptr("p3"), Session: "morning", Auth: "oauth", Tokens: 1200}
	out, changed := Value(f, p)
	require.False(t, changed)
	require.Equal(t, p, out)

	u := usage{Model: "m", Tokens: 1200, InputTokens: 800, SessionCount: 3, Session: 2, Cost: 0.5}
	uout, changed := Value(f, u)
	require.False(t, changed)
	require.Equal(t, u, uout)
	require.Equal(t, kSkip, f.planFor(reflect.TypeFor[usage]()).kind,
		"counts under token and session names leave nothing to redact: the fast path")

	body := []byte(`{"NextToken":"page2","session":"morning","Tokens":1200,"auth":{"method":"oauth"},"items":[]}`)
	jout, changed, err := f.JSON(body)
	require.NoError(t, err)
	require.False(t, changed)
	require.Equal(t, string(body), string(jout))
}

func TestDefaultsRedactCredentialsAndNumericSecrets(t *testing.T) {
	in := login{
		Username: "ann", Password: "pw", CSRFToken: "c", Remember: true, PIN: 1234,
		CardNumber: 4111111111111111, CVV: 123, SSN: "078-05-1120", Token: 7,
		HasPassword: true, Password2: []byte("pw"),
	}
	out, changed := Value(Default(), in)
	require.True(t, changed)
	require.Equal(t, login{Username: "ann", Remember: true, Token: 7, HasPassword: true}, out,
		"strings, []byte and numeric secrets go; booleans and a number under token stay")
}

// TestValuesUnderSensitiveNames pins which values under a sensitive name are
// redacted, for decoded JSON (Apply) and JSON bodies alike.
func TestValuesUnderSensitiveNames(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"a string goes", `{"token":"t","a":1}`, `{"a":1}`},
		{"a boolean stays", `{"password":true,"secret":false}`, `{"password":true,"secret":false}`},
		{"null and empty values stay", `{"password":null,"token":"","cookies":[]}`, `{"password":null,"token":"","cookies":[]}`},
		{"a count under a token name stays", `{"tokens":1200,"token":5}`, `{"tokens":1200,"token":5}`},
		{"a list of numbers under a token name stays", `{"tokens":[101,2023,102]}`, `{"tokens":[101,2023,102]}`},
		{"a list of strings under a token name goes", `{"tokens":["a","b"],"x":1}`, `{"x":1}`},
		{"a number under a name for numeric secrets goes", `{"pin":1234,"cvv":123,"card_number":4111111111111111,"ssn":78051120,"otp":123456,"password":1234,"x":1}`, `{"x":1}`},
		{"a number under an API key name stays", `{"api_key":12345}`, `{"api_key":12345}`},
		{"an object under a token name is walked", `{"token":{"id":5,"text":"hi","access_token":"a"}}`, `{"token":{"id":5,"text":"hi"}}`},
		{"an object under pin is walked (a map pin)", `{"pin":{"lat":1.5,"title":"home"}}`, `{"pin":{"lat":1.5,"title":"home"}}`},
		{"an object under a secret name goes whole", `{"secret":{"a":"b"},"credentials":{"user":"u","key":"k"},"x":1}`, `{"x":1}`},
		{"a card object goes whole", `{"credit_card":{"number":"4111111111111111","exp":"12/30"},"x":1}`, `{"x":1}`},
		{"a list of objects under a token name is walked", `{"tokens":[{"name":"ci","token":"t"}]}`, `{"tokens":[{"name":"ci"}]}`},
		{"a list with a string under a token name goes whole", `{"tokens":[{"name":"ci"},"t"],"x":1}`, `{"x":1}`},
		{"nested lists are looked through", `{"tokens":[[1,2],[3]],"cookies":[["a"]],"x":1}`, `{"tokens":[[1,2],[3]],"x":1}`},
	}
	f := Default()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := f.JSON([]byte(tt.in))
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(out))
			checkJSON(t, f, []byte(tt.in)) // Apply on the decoded document agrees
		})
	}
}

func TestAddedNamesRedactNumbersAndObjects(t *testing.T) {
	f, err := New(Rules{Add: []string{"token", "*dob"}, Match: func(n string) bool { return n == "score" }})
	require.NoError(t, err)
	out, changed, err := f.JSON([]byte(`{"token":5,"user_dob":19900101,"score":{"a":1},"x":1}`))
	require.NoError(t, err)
	require.True(t, changed)
	require.JSONEq(t, `{"x":1}`, string(out), "Add and Match redact every value but a boolean")
}

func TestListsUnderSensitiveNamesAreClassifiedOnce(t *testing.T) {
	f := Default()
	t.Run("a list that holds itself many times terminates", func(t *testing.T) {
		s := make([]any, 40)
		for i := range s {
			s[i] = s
		}
		out, changed := f.Apply(map[string]any{"tokens": s, "x": 1})
		require.False(t, changed, "only lists and no strings: kept")
		require.Len(t, out.(map[string]any), 2)

		s[39] = "secret"
		out, changed = f.Apply(map[string]any{"tokens": s, "x": 1})
		require.True(t, changed)
		require.Equal(t, map[string]any{"x": 1}, out)
	})
	t.Run("a string deep in nested lists sends the whole list", func(t *testing.T) {
		doc := "\"s\""
		for range 200 {
			doc = "[" + doc + "]"
		}
		out := checkJSON(t, f, []byte(`{"tokens":`+doc+`,"x":1}`))
		require.Equal(t, `{"x":1}`, string(out))
	})
	t.Run("a kept value under a sensitive key costs no allocation", func(t *testing.T) {
		m := map[string]any{"tokens": 1200.0, "token": []any{1.0, true, nil}, "pin": map[string]any{"lat": 1.5}}
		allocs := testing.AllocsPerRun(100, func() {
			if _, changed := f.Apply(m); changed {
				panic("changed")
			}
		})
		require.Zero(t, allocs)
	})
}
