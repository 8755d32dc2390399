// Package tokentest forges JWTs for tests: tokens signed with any key and
// algorithm, tokens whose header or payload is any JSON (or not JSON at
// all) under a correct HMAC-SHA256, and genuine tokens with one bit flipped.
//
// It only assembles and signs tokens; whether one is valid is for the
// verifier under test to say.
package tokentest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Header is a JWT header naming alg, with typ JWT.
func Header(alg string) map[string]any { return map[string]any{"alg": alg, "typ": "JWT"} }

// Segment is v as a token segment: unpadded base64url of JSON. A
// json.RawMessage, []byte or string is taken as the JSON itself, written
// as it is (so it may be malformed); anything else is marshalled with
// encoding/json.
func Segment(tb testing.TB, v any) string {
	tb.Helper()
	var raw []byte
	switch v := v.(type) {
	case json.RawMessage:
		raw = v
	case []byte:
		raw = v
	case string:
		raw = []byte(v)
	default:
		var err error
		if raw, err = json.Marshal(v); err != nil {
			tb.Fatalf("tokentest: marshal %T: %v", v, err)
		}
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// Sign assembles header.payload.signature, the segments as Segment writes
// them and the signature HMAC-SHA256 of header.payload under key, whatever
// the header's alg says.
func Sign(tb testing.TB, key []byte, header, payload any) string {
	tb.Helper()
	in := Segment(tb, header) + "." + Segment(tb, payload)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Unsigned assembles header.payload. with an empty signature, as for alg
// none.
func Unsigned(tb testing.TB, header, payload any) string {
	tb.Helper()
	return Segment(tb, header) + "." + Segment(tb, payload) + "."
}

// SignMethod signs claims through golang-jwt with method and key (for
// jwt.SigningMethodNone, the key is jwt.UnsafeAllowNoneSignatureType),
// adding header's fields to the header golang-jwt writes (alg and typ,
// which header may override).
func SignMethod(tb testing.TB, method jwt.SigningMethod, key any, claims jwt.Claims, header map[string]any) string {
	tb.Helper()
	t := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		t.Header[k] = v
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatalf("tokentest: sign %s: %v", method.Alg(), err)
	}
	return s
}

// FlipBit flips bit bit (bit%8 of byte bit/8) of the decoded segment seg
// of tok (0 header, 1 payload, 2 signature) and encodes it again.
func FlipBit(tb testing.TB, tok string, seg, bit int) string {
	tb.Helper()
	parts := strings.Split(tok, ".")
	if seg < 0 || seg >= len(parts) {
		tb.Fatalf("tokentest: FlipBit: %q has no segment %d", tok, seg)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[seg])
	if err != nil {
		tb.Fatalf("tokentest: FlipBit: segment %d: %v", seg, err)
	}
	if bit < 0 || bit >= 8*len(raw) {
		tb.Fatalf("tokentest: FlipBit: segment %d has %d bits, not bit %d", seg, 8*len(raw), bit)
	}
	raw[bit/8] ^= 1 << (bit % 8)
	parts[seg] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

// FlipAt flips the lowest bit of the last byte of the first occurrence of
// within in the decoded segment seg of tok, so that a segment can stay
// well-formed JSON (`"id":42` becomes `"id":43`) and only the signature
// tells.
func FlipAt(tb testing.TB, tok string, seg int, within string) string {
	tb.Helper()
	parts := strings.Split(tok, ".")
	if seg < 0 || seg >= len(parts) {
		tb.Fatalf("tokentest: FlipAt: %q has no segment %d", tok, seg)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[seg])
	if err != nil {
		tb.Fatalf("tokentest: FlipAt: segment %d: %v", seg, err)
	}
	i := strings.Index(string(raw), within)
	if i < 0 || within == "" {
		tb.Fatalf("tokentest: FlipAt: %q not in %s", within, raw)
	}
	return FlipBit(tb, tok, seg, 8*(i+len(within)-1))
}
