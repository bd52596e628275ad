package redact

import "strings"

// Default name lists, already normalised (lower case, no separators).
//
// A name is split into words at separators and camelCase boundaries
// ("stripeApiKey" -> stripe|api|key, "X-Auth-Token" -> x|auth|token), then
// its word-aligned tails are checked, longest first: the whole name
// ("stripeapikey"), then "apikey", then "key". The first tail found in the
// allow list or the suffix list decides; the whole name alone is also checked
// against the exact list.
var (
	// defaultSuffix names are sensitive as a whole name and as the last words
	// of a longer name: "password", "userPassword", "db_password".
	defaultSuffix = []string{
		"password", "passwd", "pwd", "passphrase", "passcode", "passwordhash",
		"secret", "token", "otp",
		"apikey", "apisecret", "privatekey", "secretkey", "accesskey",
		"signingkey", "encryptionkey", "sessionkey", "sessionid",
		"authorization", "cookie", "credential", "credentials",
		"creditcard", "cardnumber", "ssn", "cvv", "cvc",
	}
	// defaultExact names are sensitive only as a whole name. Most are short
	// or plural words that, as the last word of a longer name, usually mean
	// something else ("MapPin", "maxTokens", "lastSession"); the well-known
	// full names at the top stay sensitive even when Rules.Remove drops the
	// suffix rule that also covers them ("token").
	defaultExact = []string{
		"accesstoken", "refreshtoken", "idtoken", "authtoken", "clientsecret",
		"auth", "session", "pin", "sid", "jwt", "bearer", "dsn",
		"connectionstring", "socialsecuritynumber", "ccnumber", "cvv2", "cvc2",
		"securitycode", "setcookie", "cookies", "tokens", "secrets",
		"passwords", "apikeys",
	}
	// defaultAllow tails are never sensitive even though a shorter tail is:
	// pagination cursors end in "token" but must survive caching, or cached
	// list responses lose their next page.
	defaultAllow = []string{
		"pagetoken", "continuationtoken", "synctoken",
	}
)

// names is the compiled name rules of a Filter. It is read-only after New.
type names struct {
	exact  map[string]struct{}
	suffix map[string]struct{}
	allow  map[string]struct{}
}

func newNames() *names {
	n := &names{
		exact:  make(map[string]struct{}, len(defaultExact)),
		suffix: make(map[string]struct{}, len(defaultSuffix)),
		allow:  make(map[string]struct{}, len(defaultAllow)),
	}
	for _, s := range defaultExact {
		n.exact[s] = struct{}{}
	}
	for _, s := range defaultSuffix {
		n.suffix[s] = struct{}{}
	}
	for _, s := range defaultAllow {
		n.allow[s] = struct{}{}
	}
	return n
}

// add adds a user name: "name" is an exact name, "*name" a suffix rule. It
// reports false when the name normalises to nothing.
func (n *names) add(raw string) bool {
	suffix := strings.HasPrefix(raw, "*")
	key := normalizeString(strings.TrimPrefix(raw, "*"))
	if key == "" {
		return false
	}
	delete(n.allow, key)
	if suffix {
		n.suffix[key] = struct{}{}
	} else {
		n.exact[key] = struct{}{}
	}
	return true
}

// remove stops treating raw as sensitive, both as a whole name and as a tail
// of longer names.
func (n *names) remove(raw string) bool {
	key := normalizeString(strings.TrimPrefix(raw, "*"))
	if key == "" {
		return false
	}
	delete(n.exact, key)
	delete(n.suffix, key)
	n.allow[key] = struct{}{}
	return true
}

// match reports whether name is sensitive under the lists. It does not
// allocate for names up to 64 bytes and 16 words.
func match[S ~string | ~[]byte](n *names, name S) bool {
	var buf [64]byte
	var starts [16]int
	norm, words := normalize(name, buf[:0], starts[:0])
	if len(norm) == 0 {
		return false
	}
	if _, ok := n.exact[string(norm)]; ok {
		return true
	}
	for _, s := range words {
		tail := norm[s:]
		if _, ok := n.allow[string(tail)]; ok {
			return false
		}
		if _, ok := n.suffix[string(tail)]; ok {
			return true
		}
	}
	return false
}

func normalizeString(s string) string {
	norm, _ := normalize(s, nil, nil)
	return string(norm)
}

// normalize appends the lower-cased letters and digits of name to buf and the
// offset in buf where each word starts to starts. Every ASCII byte that is not
// a letter or digit is a separator and is dropped; a word also starts at an
// upper-case letter that follows a lower-case letter or digit ("userID" ->
// user|id), and at the last upper-case letter of a run followed by a
// lower-case one ("APIKey" -> api|key). Bytes >= 0x80 are kept as they are.
func normalize[S ~string | ~[]byte](name S, buf []byte, starts []int) ([]byte, []int) {
	inWord := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		upper := c >= 'A' && c <= 'Z'
		lower := c >= 'a' && c <= 'z'
		digit := c >= '0' && c <= '9'
		if !upper && !lower && !digit && c < 0x80 {
			inWord = false
			continue
		}
		boundary := !inWord
		if upper && inWord && i > 0 {
			p := name[i-1]
			switch {
			case (p >= 'a' && p <= 'z') || (p >= '0' && p <= '9'):
				boundary = true
			case p >= 'A' && p <= 'Z' && i+1 < len(name) && name[i+1] >= 'a' && name[i+1] <= 'z':
				boundary = true
			}
		}
		if boundary {
			starts = append(starts, len(buf))
		}
		if upper {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
		inWord = true
	}
	return buf, starts
}
