package config

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// MinSecretBits is what the estimated entropy of a secret setting must
// exceed in production: the 128-bit security NIST asks of an HMAC key
// (SP 800-107), which a 256-bit random key (as RFC 7518, 3.2 asks for
// HS256) passes whatever patterns it holds by chance. A random 128-bit
// secret (32 hex digits) is estimated at 128 bits at most, so it is refused.
const MinSecretBits = 128

// secretRule is the rule, as the error and the README state it.
const secretRule = "its estimated entropy must exceed 128 bits: each character counts log2 of the " +
	"alphabet the secret draws from (16 for hex digits, 64 for base64, more with more kinds of characters), " +
	"while repeats of earlier text, runs such as abcd, 4321 or qwerty, and words such as secret, key or prod " +
	"count only a few bits; generate one with openssl rand -hex 32"

// secretBits estimates how many bits an attacker must guess to find s,
// knowing how weak secrets are made: the length in bits of the shortest
// description of s (found by dynamic programming over its first
// maxEstimated characters) made of these pieces:
//
//   - one character of the secret's alphabet: log2 of its size (16 when
//     every character is a hex digit of one case, 64 when every one is in
//     the base64 or base64url alphabet, else the sum of the kinds present:
//     26 lower-case letters, 26 upper-case, 10 digits, 33 ASCII symbols and
//     space, 100 for anything else);
//   - a copy of earlier text (as LZ77 compression would: "aaaa",
//     "passwordpassword", "0123456789abcdef0123..."): log2 of how far back
//     plus log2 of its length, plus one bit;
//   - a run of three or more characters that each follow the last in
//     code-point order, up or down ("abcd", "9876"), or along a row of the
//     keyboard ("qwerty", "asdf"): one character, then log2 of its length
//     plus two bits;
//   - one of the secretWords that hand-made secrets are made of ("secret",
//     "key", "prod", ...), in any case: log2 of their number plus one bit.
//
// Other words count as random letters (4.7 bits each for lower case), so a
// phrase is overrated: secrets should be generated.
func secretBits(s string) float64 {
	rs := []rune(s)
	if len(rs) > maxEstimated {
		rs = rs[:maxEstimated]
	}
	lit := math.Log2(alphabet(s))
	n := len(rs)
	// best[i] is the cheapest description of rs[i:]: the parse that
	// costs least, found from the end backwards.
	best := make([]float64, n+1)
	for i := n - 1; i >= 0; i-- {
		b := lit + best[i+1] // one character
		take := func(l int, cost float64) {
			if i+l <= n {
				b = min(b, cost+best[i+l])
			}
		}
		for l, d := range copies(rs, i) {
			if d > 0 {
				take(l, math.Log2(float64(d))+math.Log2(float64(l))+1)
			}
		}
		for l := 3; l <= runLength(rs, i); l++ {
			take(l, lit+math.Log2(float64(l))+2)
		}
		for _, w := range secretWords {
			if hasWordAt(rs, i, w) {
				take(len(w), math.Log2(float64(len(secretWords)))+1)
			}
		}
		best[i] = b
	}
	return best[0]
}

// maxEstimated bounds the characters secretBits reads: far more than the
// threshold needs from a generated secret, and it bounds the work.
const maxEstimated = 256

// alphabet is the number of characters the secret is taken to be drawn from.
func alphabet(s string) float64 {
	const b64 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	hexLower, hexUpper, base64 := true, true, true
	var lower, upper, digit, symbol, other bool
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		case r < utf8.RuneSelf:
			symbol = true
		default:
			other = true
		}
		hexLower = hexLower && (r >= '0' && r <= '9' || r >= 'a' && r <= 'f')
		hexUpper = hexUpper && (r >= '0' && r <= '9' || r >= 'A' && r <= 'F')
		base64 = base64 && (strings.ContainsRune(b64, r) || strings.ContainsRune("+/-_=", r))
	}
	switch {
	case digit && !lower && !upper && !symbol && !other:
		return 10
	case hexLower || hexUpper:
		return 16
	case base64 && (symbol || lower && upper && digit):
		return 64
	}
	n := 0.0
	for _, k := range []struct {
		present bool
		size    float64
	}{{lower, 26}, {upper, 26}, {digit, 10}, {symbol, 33}, {other, 100}} {
		if k.present {
			n += k.size
		}
	}
	return max(n, 2)
}

// copies finds the texts of two or more characters starting at i that
// also start at an earlier position (a copy may overlap i, as "aaaa"
// copies "a"): dist[l] is how far back the nearest copy of length l
// starts, 0 for none.
func copies(rs []rune, i int) (dist []int) {
	longest := 1
	for j := i - 1; j >= 0 && longest < len(rs)-i; j-- {
		l := 0
		for i+l < len(rs) && rs[j+l] == rs[i+l] {
			l++
		}
		for ; longest < l; longest++ {
			if dist == nil {
				dist = make([]int, len(rs)-i+1)
			}
			dist[longest+1] = i - j
		}
	}
	return dist
}

// secretWords are what hand-made secrets are commonly made of: words about
// secrets, environments and placeholders (as jwt.io's "your-256-bit-secret").
var secretWords = []string{
	"secret", "password", "passwd", "pass", "changeme", "change", "replace", "default", "example", "sample",
	"test", "testing", "demo", "dummy", "fake", "key", "token", "jwt", "session", "cookie", "signing", "sign",
	"hmac", "sha", "hs256", "auth", "admin", "root", "user", "login", "prod", "production", "dev",
	"development", "staging", "local", "localhost", "app", "api", "server", "nodebird", "my", "your", "our",
	"the", "this", "is", "for", "and", "super", "very", "long", "random", "strong", "safe", "secure",
	"private", "insecure", "not", "me", "here", "value", "string", "bit", "bits", "letmein", "welcome",
	"hello", "foo", "bar", "qwerty", "abc",
}

// hasWordAt reports whether w (lower-case ASCII) is at i, case ignored.
func hasWordAt(rs []rune, i int, w string) bool {
	if i+len(w) > len(rs) {
		return false
	}
	for k, c := range w {
		if toLowerASCII(rs[i+k]) != c {
			return false
		}
	}
	return true
}

// keyboardRows are the rows of a QWERTY keyboard, for runs such as "qwerty".
var keyboardRows = []string{"`1234567890-=", "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./"}

// runLength is the length of the run starting at i: characters that each
// follow the last by one code point in the same direction, or by one key
// in the same direction along a keyboard row (case ignored).
func runLength(rs []rune, i int) int {
	best := 1
	for _, step := range []func(a, b rune) int{codePointStep, keyboardStep} {
		if i+1 >= len(rs) {
			break
		}
		dir := step(rs[i], rs[i+1])
		if dir == 0 {
			continue
		}
		l := 2
		for i+l < len(rs) && step(rs[i+l-1], rs[i+l]) == dir {
			l++
		}
		best = max(best, l)
	}
	return best
}

// codePointStep is +1 or -1 when b follows a in code-point order, else 0.
func codePointStep(a, b rune) int {
	switch b - a {
	case 1:
		return 1
	case -1:
		return -1
	}
	return 0
}

// keyboardStep is +1 or -1 when b is next to a on a keyboard row, else 0.
func keyboardStep(a, b rune) int {
	a, b = toLowerASCII(a), toLowerASCII(b)
	for _, row := range keyboardRows {
		ia, ib := strings.IndexRune(row, a), strings.IndexRune(row, b)
		if ia < 0 || ib < 0 {
			continue
		}
		switch ib - ia {
		case 1:
			return 1
		case -1:
			return -1
		}
	}
	return 0
}

func toLowerASCII(r rune) rune {
	if r >= 'A' && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}

// weakSecret says why a configured secret is too easy to guess, or "" when
// it is not. name is its setting.
func weakSecret(name string, v []byte) string {
	if bits := secretBits(string(v)); bits <= MinSecretBits {
		return fmt.Sprintf("%s: too easy to guess (estimated %.0f bits): %s", name, bits, secretRule)
	}
	return ""
}

// checkSecretStrength refuses, in production, the secret settings that are
// too easy to guess (JWT_SECRET and SESSION_SECRET missing or too short
// are refused in Load; METRICS_TOKEN, JWT_SECRET_PREVIOUS and
// SESSION_SECRET_PREVIOUS are optional, but when set they are held to the
// same length), and in development logs a warning for each that
// production would refuse.
func (c *Config) checkSecretStrength(log *slog.Logger) []error {
	secrets := map[string][]byte{"JWT_SECRET": c.JWTSecret, "SESSION_SECRET": c.SessionSecret, "METRICS_TOKEN": c.MetricsToken,
		"JWT_SECRET_PREVIOUS": c.JWTSecretPrevious, "SESSION_SECRET_PREVIOUS": c.SessionSecretPrevious}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(secrets)) {
		v := secrets[name]
		if len(v) == 0 {
			continue
		}
		if c.Production() && len(v) < MinSecretLen {
			if name != "JWT_SECRET" && name != "SESSION_SECRET" { // those two are refused in Load
				errs = append(errs, fmt.Errorf("%s: at least %d bytes in production (openssl rand -hex 32)", name, MinSecretLen))
			}
			continue
		}
		if msg := weakSecret(name, v); msg != "" {
			if c.Production() {
				errs = append(errs, errors.New(msg))
			} else {
				log.Warn("weak secret: production would refuse it", "setting", name, "detail", msg)
			}
		}
	}
	return errs
}
