package keys

// maxNesting is Redis's bound on '*' recursion ("protection against abusive
// patterns"): a match that needs more nested stars than this fails.
const maxNesting = 1000

// Match reports whether s matches the glob pattern exactly as Redis's
// stringmatchlen (src/util.c, case-sensitive) decides it for KEYS and
// SCAN MATCH, so that an in-memory store deletes the same keys Redis would.
//
// The syntax is byte-wise: '*' matches any run of bytes, '?' one byte,
// '[abc]' one byte of the set, '[a-z]' a range (reversed ends are swapped),
// '[^...]' negates, and '\' makes the next byte literal, inside a class too.
// Redis's edge cases are kept:
//
//   - An empty s matches only an empty pattern (so "*" does not match "");
//     Redis never stores an empty key.
//   - A '[' without its ']' is a class running to the end of the pattern;
//     "[]" is an empty class and "[^]" matches any byte.
//   - A ']' that ends a range is its end, not the class's: "[a-]" is the
//     range ']'..'a' and the class continues to the next ']'.
//   - A trailing lone '\' matches a '\'.
//   - Range ends compare as signed chars, as Redis built for x86-64 does:
//     "[a-\xc3]" is the range -61..97, which holds '0' and 0xC3 but not 'b'.
//   - A match needing more than 1000 nested '*' fails.
//
// It runs in O(len(pattern) * len(s)) time: like Redis, once the rest of a
// pattern after a '*' has failed at every position, no enclosing '*' retries.
func Match(pattern, s string) bool {
	skipLonger := false
	return match(pattern, s, &skipLonger, 0)
}

func match(p, s string, skipLonger *bool, nesting int) bool {
	if nesting > maxNesting {
		return false
	}
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for len(s) > 0 {
				if match(p[1:], s, skipLonger, nesting+1) {
					return true
				}
				if *skipLonger {
					return false
				}
				s = s[1:]
			}
			// The rest failed at every later position: an enclosing '*'
			// trying a longer run would only start it later still.
			*skipLonger = true
			return false
		case '?':
			p, s = p[1:], s[1:]
		case '[':
			ok, rest := matchClass(p[1:], s[0])
			if !ok {
				return false
			}
			p, s = rest, s[1:]
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if p[0] != s[0] {
				return false
			}
			p, s = p[1:], s[1:]
		}
		if len(s) == 0 {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			break
		}
	}
	return len(p) == 0 && len(s) == 0
}

// matchClass evaluates the class whose text (after the '[') starts p against
// byte c, as Redis does. It returns whether c matches, negation applied, and
// the pattern after the class ("" for a class left open).
func matchClass(p string, c byte) (bool, string) {
	not := len(p) > 0 && p[0] == '^'
	if not {
		p = p[1:]
	}
	matched := false
	for {
		switch {
		case len(p) >= 2 && p[0] == '\\':
			if p[1] == c {
				matched = true
			}
			p = p[2:]
		case len(p) == 0:
			return matched != not, ""
		case p[0] == ']':
			return matched != not, p[1:]
		case len(p) >= 3 && p[1] == '-':
			// Redis reads pattern bytes as (signed) char.
			lo, hi, x := int(int8(p[0])), int(int8(p[2])), int(int8(c))
			if lo > hi {
				lo, hi = hi, lo
			}
			if lo <= x && x <= hi {
				matched = true
			}
			p = p[3:]
		default:
			if p[0] == c {
				matched = true
			}
			p = p[1:]
		}
	}
}
