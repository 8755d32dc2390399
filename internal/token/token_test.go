package token_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nodebird/nodebird-api/internal/token"
	"github.com/nodebird/nodebird-api/internal/token/tokentest"
)

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

const (
	testIssuer = "nodebird-api"
	testTTL    = time.Hour
)

var (
	testKey  = []byte("0123456789abcdef0123456789abcdef")
	otherKey = []byte("fedcba9876543210fedcba9876543210")
)

// Tokens in the tables are verified at verifyAt. A genuine token was issued
// at issuedAt, ten minutes earlier, so it is well inside its lifetime.
// verifyAt has a sub-second part on purpose: Issue truncates to seconds.
var (
	verifyAt = time.Date(2030, 5, 6, 7, 8, 9, 600_000_000, time.UTC)
	issuedAt = verifyAt.Add(-10 * time.Minute)
)

var testSubject = token.Subject{UserID: 42, Nick: "zerocho", DomainID: 7, SecretVersion: 3, Host: "example.com"}

// clock is a settable time source for token.New.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

// verifier is the Manager every table is checked against.
func verifier() *token.Manager { return token.New(testKey, testIssuer, testTTL, fixed(verifyAt)) }

// issue returns a token issued by a Manager whose clock reads at.
func issue(tb testing.TB, s token.Subject, at time.Time) string {
	tb.Helper()
	tok, _, err := token.New(testKey, testIssuer, testTTL, fixed(at)).Issue(s)
	if err != nil {
		tb.Fatalf("Issue: %v", err)
	}
	return tok
}

// claimsAt are the claims Issue would put in a token issued at iat.
func claimsAt(iat time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"id": 42, "nick": "zerocho", "did": 7, "sv": 3,
		"iss": testIssuer, "sub": "42", "aud": []string{"example.com"},
		"jti": "00112233445566778899aabb",
		"iat": iat.Unix(), "exp": iat.Add(testTTL).Unix(),
	}
}

// absent, as a value given to with, deletes the claim.
type absent struct{}

// with returns a copy of c with the given key/value pairs set (or deleted).
func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := make(jwt.MapClaims, len(c)+len(kv)/2)
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if _, del := kv[i+1].(absent); del {
			delete(out, k)
		} else {
			out[k] = kv[i+1]
		}
	}
	return out
}

// issueOfLen returns a token the Manager issued (at issuedAt) whose length
// is exactly n, by padding the nick.
func issueOfLen(tb testing.TB, n int) string {
	tb.Helper()
	s := testSubject
	for pad := 0; pad <= n; pad++ {
		s.Nick = strings.Repeat("a", pad)
		tok := issue(tb, s, issuedAt)
		if len(tok) == n {
			return tok
		}
		if len(tok) > n {
			break
		}
	}
	tb.Fatalf("no issued token has length %d", n)
	return ""
}

var (
	rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	})
	ecKey = sync.OnceValue(func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
	edKey = sync.OnceValue(func() ed25519.PrivateKey {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
)

// keyHints are header fields that, in other systems, tell the verifier
// where to find the key. Verify must ignore them. (kid is not among them:
// it names one of the Manager's own keys, and an unknown one is refused;
// see TestKeyRotation.)
var keyHints = []struct {
	name  string
	value any
}{
	{"jku", "https://attacker.example/.well-known/jwks.json"},
	{"jwk", map[string]any{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(otherKey)}},
	{"x5u", "https://attacker.example/cert.pem"},
}

type namedToken struct{ name, tok string }

// invalidTokens are tokens Verify must reject with (nil, ErrInvalid) at
// verifyAt. Whenever the fault is not the signature itself, they are signed
// with the right key, so that the named fault is the only reason to reject.
func invalidTokens(tb testing.TB) []namedToken {
	tb.Helper()
	good := claimsAt(issuedAt)
	genuine := tokentest.SignMethod(tb, jwt.SigningMethodHS256, testKey, good, nil)
	parts := strings.Split(genuine, ".")
	h, p, s := parts[0], parts[1], parts[2]
	otherPayload := strings.Split(tokentest.SignMethod(tb, jwt.SigningMethodHS256, testKey, with(good, "id", 1), nil), ".")[1]
	later := verifyAt.Add(time.Minute) // beyond Leeway

	var ts []namedToken
	add := func(name, tok string) { ts = append(ts, namedToken{name, tok}) }

	// Algorithm.
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		add("alg "+alg+" with empty signature", tokentest.Unsigned(tb, tokentest.Header(alg), good))
	}
	add("alg none carrying an HMAC-SHA256 signature under the key", tokentest.Sign(tb, testKey, tokentest.Header("none"), good))
	add("alg hs256 in lower case", tokentest.Sign(tb, testKey, tokentest.Header("hs256"), good))
	add("header without alg", tokentest.Sign(tb, testKey, map[string]any{"typ": "JWT"}, good))
	add("alg is not a string", tokentest.Sign(tb, testKey, map[string]any{"alg": 256, "typ": "JWT"}, good))
	add("HS384 signed with the same key", tokentest.SignMethod(tb, jwt.SigningMethodHS384, testKey, good, nil))
	add("HS512 signed with the same key", tokentest.SignMethod(tb, jwt.SigningMethodHS512, testKey, good, nil))
	add("RS256 signed with a fresh RSA key", tokentest.SignMethod(tb, jwt.SigningMethodRS256, rsaKey(), good, nil))
	add("ES256 signed with a fresh ECDSA key", tokentest.SignMethod(tb, jwt.SigningMethodES256, ecKey(), good, nil))
	add("EdDSA signed with a fresh Ed25519 key", tokentest.SignMethod(tb, jwt.SigningMethodEdDSA, edKey(), good, nil))
	add("RS256 header over an HMAC-SHA256 signature under the key", tokentest.Sign(tb, testKey, tokentest.Header("RS256"), good))
	add("ES256 header over an HMAC-SHA256 signature under the key", tokentest.Sign(tb, testKey, tokentest.Header("ES256"), good))

	// Signature.
	add("signed with another key", tokentest.SignMethod(tb, jwt.SigningMethodHS256, otherKey, good, nil))
	add("signature removed", h+"."+p+".")
	add("signature truncated", h+"."+p+"."+s[:40])
	add("signature of another payload", h+"."+otherPayload+"."+s)
	add("bit flipped in the signature", tokentest.FlipBit(tb, genuine, 2, 0))
	add("bit flipped in the payload (id 42 becomes 43)", tokentest.FlipAt(tb, genuine, 1, `"id":42`))
	add("bit flipped in the header (typ JWT becomes JVT)", tokentest.FlipAt(tb, genuine, 0, `"JW`))
	for _, hint := range keyHints {
		add(hint.name+" header pointing elsewhere, signed with that other key",
			tokentest.SignMethod(tb, jwt.SigningMethodHS256, otherKey, good, map[string]any{hint.name: hint.value}))
	}

	// Issuer.
	add("wrong issuer", tokentest.SignMethod(tb, jwt.SigningMethodHS256, testKey, with(good, "iss", "someone-else"), nil))
	add("issuer differing in case", tokentest.SignMethod(tb, jwt.SigningMethodHS256, testKey, with(good, "iss", strings.ToUpper(testIssuer)), nil))
	add("issuer with a trailing space", tokentest.SignMethod(tb, jwt.SigningMethodHS256, testKey, with(good, "iss", testIssuer+" "), nil))
	add("missing issuer", tokentest.SignMethod(tb, jwt.SigningMethodHS256, testKey, with(good, "iss", absent{}), nil))
	add("empty issuer", tokentest.SignMethod(tb, jwt.SigningMethodHS256, testKey, with(good, "iss", ""), nil))

	// Times.
	add("missing exp", tokentest.SignMethod(tb, jwt.SigningMethodHS256, testKey, with(good, "exp", absent{}), nil))
	add("exp is null", tokentest.SignMethod(tb, jwt.SigningMethodHS256, testKey, with(good, "exp", nil), nil))
	add("nbf in the future beyond leeway", tokentest.SignMethod(tb, jwt.SigningMethodHS256, testKey, with(good, "nbf", later.Unix()), nil))
	add("iat in the future beyond leeway", tokentest.SignMethod(tb, jwt.SigningMethodHS256, testKey,
		with(good, "iat", later.Unix(), "exp", later.Add(testTTL).Unix()), nil))

	// The application's claims.
	for _, c := range []string{"id", "did", "sv", "iat"} {
		add("missing "+c, tokentest.SignMethod(tb, jwt.SigningMethodHS256, testKey, with(good, c, absent{}), nil))
	}
	for _, c := range []string{"id", "did", "sv"} {
		add(c+" is zero", tokentest.SignMethod(tb, jwt.SigningMethodHS256, testKey, with(good, c, 0), nil))
	}

	// Shape.
	add("empty string", "")
	add("garbage", "this is not a token")
	add("only dots", "..")
	add("two segments", h+"."+p)
	add("four segments", genuine+"."+s)
	add("trailing dot", genuine+".")
	add("leading dot", "."+genuine)
	add("leading space", " "+genuine)
	add("longer than MaxLen", issueOfLen(tb, token.MaxLen+1))
	add("a megabyte of garbage", strings.Repeat("A", 1<<20))
	add("header not base64", "eyJ*"+h[4:]+"."+p+"."+s)
	add("payload with standard-alphabet base64", h+"."+p[:8]+"+/"+p[10:]+"."+s)
	add("signature with base64 padding", genuine+"=")
	add("payload of impossible base64 length", h+"."+p+"A."+s)
	add("header not JSON", tokentest.Segment(tb, "not json")+"."+p+"."+s)
	add("header is a JSON array", tokentest.Sign(tb, testKey, `["HS256"]`, good))
	add("payload is a JSON array", tokentest.Sign(tb, testKey, tokentest.Header("HS256"), `[42,"zerocho",7,3]`))
	add("payload is a JSON string", tokentest.Sign(tb, testKey, tokentest.Header("HS256"), `"hello"`))
	add("payload is a JSON number", tokentest.Sign(tb, testKey, tokentest.Header("HS256"), `42`))
	add("payload is null", tokentest.Sign(tb, testKey, tokentest.Header("HS256"), `null`))
	add("payload is truncated JSON", tokentest.Sign(tb, testKey, tokentest.Header("HS256"), `{"id":42,"did":7`))

	// Claims of the wrong type (signed with the right key).
	for _, wt := range []struct {
		name  string
		claim string
		value any
	}{
		{"id as a string", "id", "42"},
		{"id negative", "id", -1},
		{"id fractional", "id", 4.2},
		{"did as a string", "did", "7"},
		{"sv as a string", "sv", "3"},
		{"sv fractional", "sv", 1.5},
		{"nick as a number", "nick", 5},
		{"iss as a number", "iss", 5},
		{"aud as a number", "aud", 5},
		{"exp as a word", "exp", "tomorrow"},
		{"exp as an object", "exp", map[string]any{"t": 1}},
		{"iat as a boolean", "iat", true},
	} {
		add(wt.name, tokentest.SignMethod(tb, jwt.SigningMethodHS256, testKey, with(good, wt.claim, wt.value), nil))
	}
	return ts
}

// handwritten is a token HS256-signed with the key whose payload is written
// by hand: the claims of claimsAt(issuedAt), in that order, except that set
// pairs a claim with raw JSON for its value (a claim not among them is
// added at the end). jwt.MapClaims would normalise such values or refuse
// to write them.
func handwritten(tb testing.TB, set ...string) string {
	tb.Helper()
	unix := func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
	members := [][2]string{
		{"id", "42"}, {"nick", `"zerocho"`}, {"did", "7"}, {"sv", "3"},
		{"iss", `"` + testIssuer + `"`}, {"sub", `"42"`}, {"aud", `["example.com"]`},
		{"exp", unix(issuedAt.Add(testTTL))}, {"iat", unix(issuedAt)},
		{"jti", `"00112233445566778899aabb"`},
	}
next:
	for i := 0; i+1 < len(set); i += 2 {
		for j := range members {
			if members[j][0] == set[i] {
				members[j][1] = set[i+1]
				continue next
			}
		}
		members = append(members, [2]string{set[i], set[i+1]})
	}
	payload := "{"
	for i, m := range members {
		if i > 0 {
			payload += ","
		}
		payload += `"` + m[0] + `":` + m[1]
	}
	return tokentest.Sign(tb, testKey, tokentest.Header("HS256"), payload+"}")
}

// mistypedTokens are genuine tokens (right key, issuer, iat and exp) with
// one claim of the wrong type. Verify must reject each with (nil,
// ErrInvalid) at verifyAt.
func mistypedTokens(tb testing.TB) []namedToken {
	tb.Helper()
	quoted := func(t time.Time) string { return `"` + strconv.FormatInt(t.Unix(), 10) + `"` }
	var ts []namedToken
	for _, tc := range []struct {
		name string
		set  []string
	}{
		{"aud is [null]", []string{"aud", `[null]`}},
		{"aud is [\"a\",null]", []string{"aud", `["a",null]`}},
		{"aud is [null,\"example.com\"]", []string{"aud", `[null,"example.com"]`}},
		{"aud is a number", []string{"aud", `5`}},
		{"aud is an object", []string{"aud", `{"x":1}`}},
		{"aud is [5]", []string{"aud", `[5]`}},
		{"exp is a string", []string{"exp", `"9999999999"`}},
		{"exp is its own value as a string", []string{"exp", quoted(issuedAt.Add(testTTL))}},
		{"exp is a string, and past", []string{"exp", quoted(verifyAt.Add(-time.Hour))}},
		{"iat is a string", []string{"iat", quoted(issuedAt)}},
		{"nbf is a string", []string{"nbf", quoted(issuedAt)}},
		{"Exp (read as exp by encoding/json) is a string, after exp", []string{"Exp", `"9999999999"`}},
	} {
		ts = append(ts, namedToken{tc.name, handwritten(tb, tc.set...)})
	}
	return ts
}

// expiredTokens pairs tokens that are expired at verifyAt with the error
// Verify must give: ErrExpired only when expiry is the sole fault.
func expiredTokens(tb testing.TB) []struct {
	name string
	tok  string
	want error
} {
	tb.Helper()
	iat := verifyAt.Add(-2 * time.Hour)
	exp := claimsAt(iat) // expired an hour before verifyAt
	future := verifyAt.Add(time.Hour).Unix()
	hs := func(c jwt.MapClaims) string { return tokentest.SignMethod(tb, jwt.SigningMethodHS256, testKey, c, nil) }
	return []struct {
		name string
		tok  string
		want error
	}{
		{"expired, nothing else wrong (forged with the key)", hs(exp), token.ErrExpired},
		{"expired, nothing else wrong (issued by the Manager)", issue(tb, testSubject, iat), token.ErrExpired},
		{"expired, with the key's kid header", tokentest.SignMethod(tb, jwt.SigningMethodHS256, testKey, exp, map[string]any{"kid": token.KeyID(testKey)}), token.ErrExpired},
		{"expired, with an unknown kid header", tokentest.SignMethod(tb, jwt.SigningMethodHS256, testKey, exp, map[string]any{"kid": "x"}), token.ErrInvalid},

		{"expired and wrong issuer", hs(with(exp, "iss", "someone-else")), token.ErrInvalid},
		{"expired and missing issuer", hs(with(exp, "iss", absent{})), token.ErrInvalid},
		{"expired and signed with another key", tokentest.SignMethod(tb, jwt.SigningMethodHS256, otherKey, exp, nil), token.ErrInvalid},
		{"expired and bit flipped in the signature", tokentest.FlipBit(tb, hs(exp), 2, 7), token.ErrInvalid},
		{"expired and bit flipped in the payload (id 42 becomes 43)", tokentest.FlipAt(tb, hs(exp), 1, `"id":42`), token.ErrInvalid},
		{"expired and alg none", tokentest.Unsigned(tb, tokentest.Header("none"), exp), token.ErrInvalid},
		{"expired and HS384", tokentest.SignMethod(tb, jwt.SigningMethodHS384, testKey, exp, nil), token.ErrInvalid},
		{"expired and RS256 header over an HMAC signature", tokentest.Sign(tb, testKey, tokentest.Header("RS256"), exp), token.ErrInvalid},
		{"expired and RS256 with a fresh key", tokentest.SignMethod(tb, jwt.SigningMethodRS256, rsaKey(), exp, nil), token.ErrInvalid},
		{"expired and nbf in the future", hs(with(exp, "nbf", future)), token.ErrInvalid},
		{"expired and iat in the future", hs(with(exp, "iat", future)), token.ErrInvalid},
		{"expired and missing id", hs(with(exp, "id", absent{})), token.ErrInvalid},
		{"expired and missing did", hs(with(exp, "did", absent{})), token.ErrInvalid},
		{"expired and missing sv", hs(with(exp, "sv", absent{})), token.ErrInvalid},
		{"expired and missing iat", hs(with(exp, "iat", absent{})), token.ErrInvalid},
		{"expired and id as a string", hs(with(exp, "id", "42")), token.ErrInvalid},
		{"expired and longer than MaxLen", hs(with(exp, "pad", strings.Repeat("x", token.MaxLen))), token.ErrInvalid},
	}
}

// wantInvalid fails unless Verify gave exactly (nil, ErrInvalid).
func wantInvalid(t *testing.T, c *token.Claims, err error) {
	t.Helper()
	if err != token.ErrInvalid {
		t.Errorf("Verify error = %v, want %v", err, token.ErrInvalid)
	}
	if c != nil {
		t.Errorf("Verify returned claims %+v with an invalid token, want nil", *c)
	}
}

// ---------------------------------------------------------------------------
// Issue and Verify
// ---------------------------------------------------------------------------

func TestIssueVerifyRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		issuer string
		ttl    time.Duration
		s      token.Subject
	}{
		{"typical user", testIssuer, time.Hour, testSubject},
		{"short lifetime", testIssuer, time.Minute, token.Subject{UserID: 1, Nick: "a", DomainID: 1, SecretVersion: 1, Host: "localhost:8002"}},
		{"long lifetime", "https://api.nodebird.example", 30 * 24 * time.Hour, testSubject},
		{"unicode nick and largest ids", testIssuer, time.Hour, token.Subject{
			UserID: 1<<64 - 1, Nick: "제로초 \"quoted\" <b>", DomainID: 1<<64 - 1, SecretVersion: 1<<31 - 1, Host: "nodebird.example",
		}},
		{"empty nick and negative secret version", testIssuer, time.Hour, token.Subject{UserID: 9, DomainID: 8, SecretVersion: -1, Host: "h"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := token.New(testKey, tc.issuer, tc.ttl, fixed(verifyAt))
			if m.TTL() != tc.ttl {
				t.Errorf("TTL() = %v, want %v", m.TTL(), tc.ttl)
			}
			tok, issued, err := m.Issue(tc.s)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			got, err := m.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}

			wantIat := verifyAt.Truncate(time.Second)
			for _, c := range []struct {
				claim     string
				got, want any
			}{
				{"id", got.UserID, tc.s.UserID},
				{"nick", got.Nick, tc.s.Nick},
				{"did", got.DomainID, tc.s.DomainID},
				{"sv", got.SecretVersion, tc.s.SecretVersion},
				{"iss", got.Issuer, tc.issuer},
				{"sub", got.Subject, strconv.FormatUint(tc.s.UserID, 10)},
				{"aud", strings.Join(got.Audience, ","), tc.s.Host},
				{"len(aud)", len(got.Audience), 1},
				{"jti (as issued)", got.ID, issued.ID},
				{"nbf present", got.NotBefore != nil, false},
				{"iat present", got.IssuedAt != nil, true},
				{"exp present", got.ExpiresAt != nil, true},
			} {
				if c.got != c.want {
					t.Errorf("%s = %v, want %v", c.claim, c.got, c.want)
				}
			}
			if b, err := hex.DecodeString(got.ID); err != nil || len(b) != 12 {
				t.Errorf("jti = %q, want 24 hex digits", got.ID)
			}
			if got.IssuedAt != nil && !got.IssuedAt.Equal(wantIat) {
				t.Errorf("iat = %v, want %v (now truncated to the second)", got.IssuedAt.Time, wantIat)
			}
			if got.IssuedAt != nil && got.ExpiresAt != nil && !got.ExpiresAt.Equal(got.IssuedAt.Add(tc.ttl)) {
				t.Errorf("exp = %v, want iat + ttl = %v", got.ExpiresAt.Time, got.IssuedAt.Add(tc.ttl))
			}
			if !issued.IssuedAt.Equal(got.IssuedAt.Time) || !issued.ExpiresAt.Equal(got.ExpiresAt.Time) {
				t.Errorf("claims returned by Issue (iat %v, exp %v) differ from the token's (iat %v, exp %v)",
					issued.IssuedAt, issued.ExpiresAt, got.IssuedAt, got.ExpiresAt)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("verified claims fail Validate: %v", err)
			}
		})
	}
}

func TestIssueGivesEveryTokenItsOwnJTI(t *testing.T) {
	m := token.New(testKey, testIssuer, testTTL, fixed(verifyAt))
	seen := map[string]bool{}
	for range 100 {
		_, c, err := m.Issue(testSubject)
		if err != nil {
			t.Fatal(err)
		}
		if seen[c.ID] {
			t.Fatalf("jti %q issued twice", c.ID)
		}
		seen[c.ID] = true
	}
}

func TestVerifyExpiryBoundary(t *testing.T) {
	// The token is issued at t0 (truncated to the second: iat) and expires
	// at iat+ttl. It stays valid while now < exp+Leeway.
	t0 := verifyAt
	exp := t0.Truncate(time.Second).Add(testTTL)
	tests := []struct {
		name string
		at   time.Time
		want error
	}{
		{"at issue", t0, nil},
		{"half way through its life", exp.Add(-testTTL / 2), nil},
		{"one second before exp", exp.Add(-time.Second), nil},
		{"at exp (inside leeway)", exp, nil},
		{"one second after exp (inside leeway)", exp.Add(time.Second), nil},
		{"one nanosecond before exp+Leeway", exp.Add(token.Leeway - time.Nanosecond), nil},
		{"at exp+Leeway", exp.Add(token.Leeway), token.ErrExpired},
		{"one nanosecond after exp+Leeway", exp.Add(token.Leeway + time.Nanosecond), token.ErrExpired},
		{"one second after exp+Leeway", exp.Add(token.Leeway + time.Second), token.ErrExpired},
		{"a year later", exp.Add(365 * 24 * time.Hour), token.ErrExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: t0}
			m := token.New(testKey, testIssuer, testTTL, clk.now)
			tok, _, err := m.Issue(testSubject)
			if err != nil {
				t.Fatal(err)
			}
			clk.t = tc.at
			c, err := m.Verify(tok)
			if err != tc.want {
				t.Fatalf("Verify at exp%+v: error = %v, want %v", tc.at.Sub(exp), err, tc.want)
			}
			// Valid and merely expired tokens both come with their claims.
			if c == nil || c.UserID != testSubject.UserID || c.DomainID != testSubject.DomainID {
				t.Errorf("Verify returned claims %+v, want the token's claims", c)
			}
		})
	}
}

func TestVerifyNotBeforeAndIssuedAtBoundary(t *testing.T) {
	// A token whose nbf (or iat) is at is accepted from at-Leeway on.
	at := verifyAt.Truncate(time.Second)
	nbfTok := tokentest.SignMethod(t, jwt.SigningMethodHS256, testKey, with(claimsAt(at.Add(-time.Hour)), "nbf", at.Unix()), nil)
	iatTok := tokentest.SignMethod(t, jwt.SigningMethodHS256, testKey, claimsAt(at), nil)
	tests := []struct {
		name string
		tok  string
		now  time.Time
		want error
	}{
		{"nbf: one second before nbf-Leeway", nbfTok, at.Add(-token.Leeway - time.Second), token.ErrInvalid},
		{"nbf: one nanosecond before nbf-Leeway", nbfTok, at.Add(-token.Leeway - time.Nanosecond), token.ErrInvalid},
		{"nbf: at nbf-Leeway", nbfTok, at.Add(-token.Leeway), nil},
		{"nbf: at nbf", nbfTok, at, nil},
		{"iat: one second before iat-Leeway", iatTok, at.Add(-token.Leeway - time.Second), token.ErrInvalid},
		{"iat: one nanosecond before iat-Leeway", iatTok, at.Add(-token.Leeway - time.Nanosecond), token.ErrInvalid},
		{"iat: at iat-Leeway", iatTok, at.Add(-token.Leeway), nil},
		{"iat: at iat", iatTok, at, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: tc.now}
			c, err := token.New(testKey, testIssuer, testTTL, clk.now).Verify(tc.tok)
			if tc.want == nil {
				if err != nil || c == nil {
					t.Fatalf("Verify = (%v, %v), want claims and nil", c, err)
				}
				return
			}
			wantInvalid(t, c, err)
		})
	}
}

func TestVerifyExpiredIsErrExpiredOnlyWhenExpiryIsTheSoleFault(t *testing.T) {
	m := verifier()
	for _, tc := range expiredTokens(t) {
		t.Run(tc.name, func(t *testing.T) {
			c, err := m.Verify(tc.tok)
			if tc.want == token.ErrInvalid {
				wantInvalid(t, c, err)
				return
			}
			if err != tc.want {
				t.Fatalf("Verify error = %v, want %v", err, tc.want)
			}
			if c == nil || c.UserID != 42 || c.Issuer != testIssuer {
				t.Errorf("Verify returned claims %+v with ErrExpired, want the token's claims", c)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	m := verifier()
	// Control: the claims the forgeries start from are accepted when
	// signed properly, so each rejection below is due to its named fault.
	if _, err := m.Verify(tokentest.SignMethod(t, jwt.SigningMethodHS256, testKey, claimsAt(issuedAt), nil)); err != nil {
		t.Fatalf("control token rejected: %v", err)
	}
	for _, tc := range invalidTokens(t) {
		t.Run(tc.name, func(t *testing.T) {
			c, err := m.Verify(tc.tok)
			wantInvalid(t, c, err)
		})
	}
}

// TestVerifyRejectsMistypedClaims: a claim of the wrong type makes a token
// invalid even when it is signed with the key.
func TestVerifyRejectsMistypedClaims(t *testing.T) {
	m := verifier()
	// Control: the handwritten payload is accepted as it is, so each
	// rejection below is due to its named claim.
	c, err := m.Verify(handwritten(t))
	if err != nil {
		t.Fatalf("control token rejected: %v", err)
	}
	if len(c.Audience) != 1 || c.Audience[0] != "example.com" || c.UserID != 42 {
		t.Fatalf("control token's claims = %+v", *c)
	}
	for _, tc := range mistypedTokens(t) {
		t.Run(tc.name, func(t *testing.T) {
			c, err := m.Verify(tc.tok)
			wantInvalid(t, c, err)
		})
	}
}

func TestVerifyRejectsEveryBitFlip(t *testing.T) {
	m := verifier()
	tok := issue(t, testSubject, issuedAt)
	for seg, name := range []string{"header", "payload", "signature"} {
		raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[seg])
		if err != nil {
			t.Fatal(err)
		}
		for bit := range 8 * len(raw) {
			c, err := m.Verify(tokentest.FlipBit(t, tok, seg, bit))
			if err != token.ErrInvalid || c != nil {
				t.Errorf("%s bit %d flipped: Verify = (%v, %v), want (nil, ErrInvalid)", name, bit, c, err)
			}
		}
	}
}

func TestVerifyAccepts(t *testing.T) {
	m := verifier()
	good := claimsAt(issuedAt)
	tests := []namedToken{
		{"a token the Manager issued", issue(t, testSubject, issuedAt)},
		{"a token with the same claims from any HS256 signer", tokentest.SignMethod(t, jwt.SigningMethodHS256, testKey, good, nil)},
		{"a token without typ header", tokentest.Sign(t, testKey, map[string]any{"alg": "HS256"}, good)},
		{"nbf in the past", tokentest.SignMethod(t, jwt.SigningMethodHS256, testKey, with(good, "nbf", issuedAt.Unix()), nil)},
		{"a token of exactly MaxLen", issueOfLen(t, token.MaxLen)},
	}
	// Key hints in the header are ignored: the right key still verifies.
	for _, hint := range keyHints {
		tests = append(tests, namedToken{
			hint.name + " header pointing elsewhere, signed with the right key",
			tokentest.SignMethod(t, jwt.SigningMethodHS256, testKey, good, map[string]any{hint.name: hint.value}),
		})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := m.Verify(tc.tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.UserID != 42 || c.DomainID != 7 || c.SecretVersion != 3 || c.Issuer != testIssuer {
				t.Errorf("claims = %+v", *c)
			}
		})
	}
}

// TestIssuedTokenVerifiesWithPlainHS256 shows that a consumer needs nothing
// but the key and the issuer: no part of this package, no JWT library.
func TestIssuedTokenVerifiesWithPlainHS256(t *testing.T) {
	tok := issue(t, testSubject, issuedAt)

	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	mac := hmac.New(sha256.New, testKey)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	want := mac.Sum(nil)
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatalf("signature is not base64url: %v", err)
	}
	if !hmac.Equal(sig, want) {
		t.Fatal("signature is not HMAC-SHA256(key, header.payload)")
	}
	if parts[2] != base64.RawURLEncoding.EncodeToString(want) {
		t.Errorf("signature %q is not the canonical unpadded base64url encoding", parts[2])
	}

	var header map[string]any
	if err := decodeJSONSegment(parts[0], &header); err != nil {
		t.Fatalf("header: %v", err)
	}
	if header["alg"] != "HS256" || header["typ"] != "JWT" || header["kid"] != token.KeyID(testKey) || len(header) != 3 {
		t.Errorf("header = %v, want exactly alg HS256, typ JWT and kid %s", header, token.KeyID(testKey))
	}

	var claims map[string]any
	if err := decodeJSONSegment(parts[1], &claims); err != nil {
		t.Fatalf("payload: %v", err)
	}
	if claims["iss"] != testIssuer {
		t.Errorf("iss = %v, want %q", claims["iss"], testIssuer)
	}
	exp, expOK := claims["exp"].(json.Number)
	iat, iatOK := claims["iat"].(json.Number)
	if !expOK || !iatOK {
		t.Fatalf("exp = %#v, iat = %#v, want JSON numbers", claims["exp"], claims["iat"])
	}
	expS, err1 := exp.Int64()
	iatS, err2 := iat.Int64()
	if err1 != nil || err2 != nil {
		t.Fatalf("exp %s / iat %s are not integers", exp, iat)
	}
	if iatS != issuedAt.Unix() || expS != iatS+int64(testTTL/time.Second) {
		t.Errorf("iat = %d, exp = %d; want iat %d and exp iat+%d", iatS, expS, issuedAt.Unix(), int64(testTTL/time.Second))
	}
	if !verifyAt.Before(time.Unix(expS, 0)) {
		t.Errorf("exp %d is not after %v", expS, verifyAt)
	}
	for _, c := range []string{"id", "did", "sv"} {
		if _, ok := claims[c].(json.Number); !ok {
			t.Errorf("%s = %#v, want a JSON number", c, claims[c])
		}
	}
}

// decodeJSONSegment base64url-decodes seg and decodes the JSON in it with
// numbers kept as json.Number.
func decodeJSONSegment(seg string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}

// ---------------------------------------------------------------------------
// Fuzzing
// ---------------------------------------------------------------------------

func FuzzVerify(f *testing.F) {
	m := verifier()
	seeds := []string{
		issue(f, testSubject, issuedAt),
		issueOfLen(f, token.MaxLen),
		tokentest.SignMethod(f, jwt.SigningMethodHS256, testKey, claimsAt(issuedAt), nil),
	}
	for _, tc := range invalidTokens(f) {
		seeds = append(seeds, tc.tok)
	}
	for _, tc := range mistypedTokens(f) {
		seeds = append(seeds, tc.tok)
	}
	for _, tc := range expiredTokens(f) {
		seeds = append(seeds, tc.tok)
	}
	for _, s := range seeds {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, tok string) {
		c, err := m.Verify(tok)
		switch err {
		case nil:
			if c == nil {
				t.Fatal("Verify = (nil, nil)")
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("accepted claims fail Validate: %v", err)
			}
			if alg := headerAlg(tok); alg != "HS256" {
				t.Fatalf("accepted a token with alg %q", alg)
			}
			if !genuineHS256(tok, testKey) {
				t.Fatal("accepted a token whose HMAC-SHA256 does not match")
			}
			if c.Issuer != testIssuer {
				t.Fatalf("accepted a token with issuer %q", c.Issuer)
			}
		case token.ErrExpired:
			// ErrExpired promises a genuine token whose sole fault is expiry.
			if c == nil {
				t.Fatal("Verify = (nil, ErrExpired), want the claims")
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("expired claims fail Validate: %v", err)
			}
			if alg := headerAlg(tok); alg != "HS256" || !genuineHS256(tok, testKey) {
				t.Fatalf("ErrExpired for a token that is not genuine HS256 (alg %q)", alg)
			}
		case token.ErrInvalid:
			if c != nil {
				t.Fatalf("Verify = (%+v, ErrInvalid), want nil claims", *c)
			}
		default:
			t.Fatalf("Verify error = %v, want nil, ErrExpired or ErrInvalid", err)
		}
	})
}

// headerAlg is the alg of tok's header, decoded independently of the package.
func headerAlg(tok string) string {
	h, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return ""
	}
	var header map[string]any
	if json.Unmarshal(raw, &header) != nil {
		return ""
	}
	alg, _ := header["alg"].(string)
	return alg
}

// genuineHS256 reports whether tok's signature is HMAC-SHA256 of its
// header.payload under key.
func genuineHS256(tok string, key []byte) bool {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	return hmac.Equal(sig, mac.Sum(nil))
}

// ---------------------------------------------------------------------------
// Benchmarks
// ---------------------------------------------------------------------------

func BenchmarkIssue(b *testing.B) {
	m := token.New(testKey, testIssuer, testTTL, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := m.Issue(testSubject); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	m := token.New(testKey, testIssuer, testTTL, nil)
	tok, _, err := m.Issue(testSubject)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}
