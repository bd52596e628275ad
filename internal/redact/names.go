package redact

import "strings"

// flags say which values under a sensitive name are secrets. Strings (and
// []byte) always are; booleans never are (unless a field is tagged
// `aside:"redact"`).
type flags uint8

const (
	// numeric: numbers under the name are secrets too. Only names of secrets
	// that are numbers by nature have it — card numbers, CVVs, PINs, SSNs,
	// one-time codes, passwords — so that a count under any other name
	// ("Tokens": 1200, "Session": 3) is left alone.
	numeric flags = 1 << iota
	// walk: a struct or map under the name is filtered like any other value
	// (its own field names decide) instead of being dropped whole. Names
	// whose secret is always a string have it: an object called "token" is an
	// oauth2.Token whose AccessToken field is redacted by its own name, a
	// lexer token or a streamed LLM token, and an object called "pin" is a
	// map pin, not a card PIN.
	walk

	// added is what Rules.Add and Rules.Match give a name: every value but a
	// boolean is redacted, objects whole.
	added = numeric
)

// rule is one entry of the default name lists, already normalised.
type rule struct {
	name  string
	tail  bool // also sensitive as the last words of a longer name
	flags flags
}

// defaultRules is the default deny-list. See the package doc for why each
// group is on it and what was left off.
var defaultRules = []rule{
	// Passwords. Numbers too: a numeric password or passcode is the secret.
	{"password", true, numeric}, {"passwd", true, numeric}, {"pwd", true, numeric},
	{"passcode", true, numeric}, {"passphrase", true, numeric},
	{"passwordhash", true, numeric}, {"passwordconfirmation", true, numeric},
	{"passwords", false, 0}, // a plural: a number under it is a count

	// Secrets, keys and credentials: strings, and objects dropped whole
	// (a JWK private key, a {"user","key"} credential pair).
	{"secret", true, 0}, {"secrets", false, 0}, {"clientsecret", true, 0},
	{"apikey", true, 0}, {"apikeys", false, 0}, {"apisecret", true, 0},
	{"privatekey", true, 0}, {"secretkey", true, 0}, {"accesskey", true, 0},
	{"signingkey", true, 0}, {"encryptionkey", true, 0}, {"masterkey", true, 0},
	{"authkey", true, 0},
	{"credential", true, 0}, {"credentials", true, 0},
	{"connectionstring", true, 0}, {"dsn", true, 0},
	{"authorization", true, 0}, {"bearer", false, 0}, {"jwt", true, 0},
	{"cookie", true, 0}, {"cookies", false, 0}, {"setcookie", true, 0},

	// Bearer tokens. "token" is a tail, except after the words in
	// defaultAllow (pagination cursors and device addresses). The kinds
	// below are listed too so that Rules.Remove("token") keeps them.
	{"token", true, walk}, {"tokens", false, walk},
	{"accesstoken", true, walk}, {"refreshtoken", true, walk},
	{"idtoken", true, walk}, {"authtoken", true, walk},
	{"bearertoken", true, walk}, {"apitoken", true, walk},
	{"securitytoken", true, walk}, {"sessiontoken", true, walk},
	{"csrftoken", true, walk}, {"xsrftoken", true, walk},
	{"csrf", false, walk}, {"xsrf", false, walk},

	// Session identifiers (not "session" itself, which names many things).
	{"sessionid", true, walk}, {"sessionkey", true, walk},
	{"phpsessid", false, walk}, {"jsessionid", false, walk}, {"connectsid", false, walk},

	// Card data, SSNs and one-time codes: numbers too. A card object is
	// dropped whole; an object under the other names is walked.
	{"creditcard", true, numeric},
	{"cardnumber", true, numeric | walk}, {"ccnumber", false, numeric | walk},
	{"cvv", true, numeric | walk}, {"cvc", true, numeric | walk},
	{"securitycode", true, numeric | walk}, {"pin", false, numeric | walk},
	{"ssn", true, numeric | walk}, {"socialsecuritynumber", true, numeric | walk},
	{"otp", true, numeric | walk},
}

// defaultAllow tails are never sensitive even though a shorter tail is.
// Pagination cursors end in "token" but carry no authority, and a cached
// list response without its cursor silently loses every later page; device
// and push tokens are addresses an app needs to reach a device, not
// credentials.
var defaultAllow = []string{
	"nexttoken", "pagetoken", "continuationtoken", "paginationtoken",
	"cursortoken", "synctoken", "resumetoken", "skiptoken", "deltatoken",
	"starttoken", "prevtoken", "previoustoken", "idempotencytoken",
	"devicetoken", "pushtoken",
}

// names is the compiled name rules of a Filter. It is read-only after New.
type names struct {
	exact map[string]flags
	tail  map[string]flags
	allow map[string]struct{}
}

func newNames() *names {
	n := &names{
		exact: make(map[string]flags),
		tail:  make(map[string]flags),
		allow: make(map[string]struct{}, len(defaultAllow)),
	}
	for _, r := range defaultRules {
		if r.tail {
			n.tail[r.name] = r.flags
		} else {
			n.exact[r.name] = r.flags
		}
	}
	for _, s := range defaultAllow {
		n.allow[s] = struct{}{}
	}
	return n
}

// add adds a user name: "name" is an exact name, "*name" a tail rule. An
// added name redacts every value but a boolean, also when it was a default
// name with narrower flags. It reports false when the name normalises to
// nothing.
func (n *names) add(raw string) bool {
	tail := strings.HasPrefix(raw, "*")
	key := normalizeString(strings.TrimPrefix(raw, "*"))
	if key == "" {
		return false
	}
	delete(n.allow, key)
	if tail {
		delete(n.exact, key) // the tail rule covers the whole name too
		n.tail[key] = added
	} else {
		n.exact[key] = added
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
	delete(n.tail, key)
	n.allow[key] = struct{}{}
	return true
}

// match reports whether name is sensitive under the lists, and with which
// flags. A name ending in digits is also tried without them, so "password2"
// and "cvv2" match. It does not allocate for names up to 64 bytes and 16
// words.
func match[S ~string | ~[]byte](n *names, name S) (flags, bool) {
	var buf [64]byte
	var starts [16]int
	norm, words := normalize(name, buf[:0], starts[:0])
	if len(norm) == 0 {
		return 0, false
	}
	digits := 0
	for digits < len(norm) && norm[len(norm)-1-digits] >= '0' && norm[len(norm)-1-digits] <= '9' {
		digits++
	}
	trimmed := norm[:len(norm)-digits]
	if fl, ok := n.exact[string(norm)]; ok {
		return fl, true
	}
	if digits > 0 && len(trimmed) > 0 {
		if fl, ok := n.exact[string(trimmed)]; ok {
			return fl, true
		}
	}
	for _, s := range words {
		tail := norm[s:]
		if _, ok := n.allow[string(tail)]; ok {
			return 0, false
		}
		if fl, ok := n.tail[string(tail)]; ok {
			return fl, true
		}
		if digits > 0 && s < len(trimmed) {
			t := trimmed[s:]
			if _, ok := n.allow[string(t)]; ok {
				return 0, false
			}
			if fl, ok := n.tail[string(t)]; ok {
				return fl, true
			}
		}
	}
	return 0, false
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
