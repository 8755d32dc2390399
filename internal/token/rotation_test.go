package token_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nodebird/nodebird-api/internal/token"
	"github.com/nodebird/nodebird-api/internal/token/tokentest"
)

// withKid is the HS256 header naming kid.
func withKid(kid string) map[string]any {
	h := tokentest.Header("HS256")
	h["kid"] = kid
	return h
}

// Rotation: the verifier picks the key a token names in its kid; the
// previous key is accepted, never used to sign; an unknown kid is refused.
func TestKeyRotation(t *testing.T) {
	at := fixed(verifyAt)
	old := token.New(otherKey, testIssuer, testTTL, at)                        // before the rotation
	rotated := token.New(testKey, testIssuer, testTTL, at).Accepting(otherKey) // new key, old one previous
	fresh := token.New(testKey, testIssuer, testTTL, at)                       // the old key dropped

	oldTok, _, err := old.Issue(testSubject)
	if err != nil {
		t.Fatal(err)
	}
	newTok, _, err := rotated.Issue(testSubject)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		m    *token.Manager
		tok  string
		ok   bool
	}{
		{"a token of the previous key", rotated, oldTok, true},
		{"a token of the current key", rotated, newTok, true},
		{"a token of the current key, on an instance that knows only the old one", old, newTok, false},
		{"a token of the old key once it is dropped", fresh, oldTok, false},
		{"an unknown kid", rotated, tokentest.Sign(t, testKey, withKid("unknownkid00"), claimsAt(issuedAt)), false},
		{"a kid that is not a string", rotated, tokentest.Sign(t, testKey, withKid(""), claimsAt(issuedAt)), false},
		{"the previous key's kid on a token the current key signed", rotated,
			tokentest.Sign(t, testKey, withKid(token.KeyID(otherKey)), claimsAt(issuedAt)), false},
		{"the current key's kid on a token the previous key signed", rotated,
			tokentest.Sign(t, otherKey, withKid(token.KeyID(testKey)), claimsAt(issuedAt)), false},
		{"no kid (issued before tokens had one), current key", rotated, tokentest.Sign(t, testKey, tokentest.Header("HS256"), claimsAt(issuedAt)), true},
		{"no kid, previous key: not tried", rotated, tokentest.Sign(t, otherKey, tokentest.Header("HS256"), claimsAt(issuedAt)), false},
		{"HS512 under the previous key's kid", rotated,
			tokentest.SignMethod(t, jwt.SigningMethodHS512, otherKey, claimsAt(issuedAt), map[string]any{"kid": token.KeyID(otherKey)}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.m.Verify(tc.tok)
			if tc.ok && (err != nil || c.UserID != testSubject.UserID) {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok {
				wantInvalid(t, c, err)
			}
		})
	}
	// The kid names the key without giving it away, and differs per key.
	if kid := jwtHeader(t, newTok)["kid"]; kid != token.KeyID(testKey) || kid == token.KeyID(otherKey) ||
		strings.Contains(newTok, string(testKey)) || len(token.KeyID(testKey)) != 12 {
		t.Fatalf("kid %v", kid)
	}
	// A genuine expired token of the previous key is still told apart.
	late := token.New(testKey, testIssuer, testTTL, fixed(verifyAt.Add(2*testTTL))).Accepting(otherKey)
	if _, err := late.Verify(oldTok); !errors.Is(err, token.ErrExpired) {
		t.Fatalf("expired token of the previous key: %v", err)
	}
}

func jwtHeader(t *testing.T, tok string) map[string]any {
	t.Helper()
	var h map[string]any
	if err := decodeJSONSegment(strings.Split(tok, ".")[0], &h); err != nil {
		t.Fatal(err)
	}
	return h
}
