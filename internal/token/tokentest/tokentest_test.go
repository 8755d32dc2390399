package tokentest_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nodebird/nodebird-api/internal/token/tokentest"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func decode(t *testing.T, seg string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("segment %q is not unpadded base64url: %v", seg, err)
	}
	return string(raw)
}

func TestSegmentWritesRawJSONAsItIsAndMarshalsTheRest(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"string", `{"aud":[null]}`, `{"aud":[null]}`},
		{"[]byte", []byte(`{"exp":"1"}`), `{"exp":"1"}`},
		{"json.RawMessage", json.RawMessage(`[1,`), `[1,`},
		{"not JSON at all", "not json", "not json"},
		{"map", map[string]any{"typ": "JWT", "alg": "HS256"}, `{"alg":"HS256","typ":"JWT"}`},
		{"jwt.MapClaims", jwt.MapClaims{"id": 42}, `{"id":42}`},
		{"nil", nil, `null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := decode(t, tokentest.Segment(t, tc.v)); got != tc.want {
				t.Errorf("Segment decodes to %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSignIsHMACSHA256OfHeaderDotPayload(t *testing.T) {
	tok := tokentest.Sign(t, key, tokentest.Header("RS256"), `{"aud":[null]}`)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("%q has %d segments, want 3", tok, len(parts))
	}
	if h := decode(t, parts[0]); h != `{"alg":"RS256","typ":"JWT"}` {
		t.Errorf("header = %s", h)
	}
	if p := decode(t, parts[1]); p != `{"aud":[null]}` {
		t.Errorf("payload = %s", p)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if parts[2] != base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) {
		t.Errorf("signature %q is not HMAC-SHA256(key, header.payload)", parts[2])
	}
}

func TestSignedHS256VerifiesWithGolangJWT(t *testing.T) {
	tok := tokentest.Sign(t, key, tokentest.Header("HS256"), jwt.MapClaims{"sub": "42"})
	c := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(tok, c, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{"HS256"})); err != nil {
		t.Fatalf("golang-jwt refuses %s: %v", tok, err)
	}
	if c["sub"] != "42" {
		t.Errorf("sub = %v", c["sub"])
	}
}

func TestUnsignedHasAnEmptySignature(t *testing.T) {
	tok := tokentest.Unsigned(t, tokentest.Header("none"), jwt.MapClaims{"sub": "42"})
	want := tokentest.Segment(t, tokentest.Header("none")) + "." + tokentest.Segment(t, jwt.MapClaims{"sub": "42"}) + "."
	if tok != want {
		t.Errorf("Unsigned = %q, want %q", tok, want)
	}
}

func TestSignMethodAddsHeaderFields(t *testing.T) {
	tok := tokentest.SignMethod(t, jwt.SigningMethodHS384, key, jwt.MapClaims{"sub": "42"}, map[string]any{"kid": "k1"})
	parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{"HS384"}))
	if err != nil {
		t.Fatalf("golang-jwt refuses %s: %v", tok, err)
	}
	if parsed.Header["kid"] != "k1" || parsed.Header["alg"] != "HS384" || parsed.Header["typ"] != "JWT" {
		t.Errorf("header = %v, want alg HS384, typ JWT and kid k1", parsed.Header)
	}

	none := tokentest.SignMethod(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{}, nil)
	if !strings.HasSuffix(none, ".") || decode(t, strings.Split(none, ".")[0]) != `{"alg":"none","typ":"JWT"}` {
		t.Errorf("alg none token = %q", none)
	}
}

func TestFlipBitAndFlipAtChangeOneBit(t *testing.T) {
	tok := tokentest.Sign(t, key, tokentest.Header("HS256"), `{"id":42,"sv":3}`)
	parts := strings.Split(tok, ".")

	flipped := strings.Split(tokentest.FlipBit(t, tok, 1, 8*len(`{"id":`)), ".")
	if p := decode(t, flipped[1]); p != `{"id":52,"sv":3}` {
		t.Errorf("FlipBit payload = %s, want {\"id\":52,\"sv\":3}", p)
	}
	if flipped[0] != parts[0] || flipped[2] != parts[2] {
		t.Error("FlipBit changed another segment")
	}

	at := strings.Split(tokentest.FlipAt(t, tok, 1, `"id":42`), ".")
	if p := decode(t, at[1]); p != `{"id":43,"sv":3}` {
		t.Errorf("FlipAt payload = %s, want {\"id\":43,\"sv\":3}", p)
	}
	if at[0] != parts[0] || at[2] != parts[2] {
		t.Error("FlipAt changed another segment")
	}
}
