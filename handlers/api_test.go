package handlers

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/nodebird/nodebird-api/internal/access"
	"github.com/nodebird/nodebird-api/internal/domaincache"
	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/internal/token"
	"github.com/nodebird/nodebird-api/internal/token/tokentest"
	"github.com/nodebird/nodebird-api/models"
)

// ---------------------------------------------------------------------------
// Fixture: one owner with a working domain and one domain each rotated,
// deleted and revoked, with tokens issued before the change.
// ---------------------------------------------------------------------------

type apiFixture struct {
	s      *testServer
	userID uint64
	// Secrets.
	good, rotatedAway, deleted, revoked string
	// Tokens: for the good domain, and issued before each change.
	tok, rotatedTok, deletedTok, revokedTok string
	goodID                                  uint64
}

func newAPIFixture(t *testing.T, s *testServer) *apiFixture {
	t.Helper()
	f := &apiFixture{s: s}
	owner := s.user(t, "owner@example.com")
	u, err := s.app.users.GetByEmail(context.Background(), "owner@example.com")
	if err != nil {
		t.Fatal(err)
	}
	f.userID = u.ID

	f.good = owner.register("good.example.com", "free")
	f.goodID = domainIDOf(t, s, "good.example.com")
	f.tok = s.issueToken(t, f.good)

	f.rotatedAway = owner.register("rotated.example.com", "free")
	f.rotatedTok = s.issueToken(t, f.rotatedAway)
	if r := owner.post(fmt.Sprintf("/domain/%d/rotate", domainIDOf(t, s, "rotated.example.com")), noOverlap()); r.Status != http.StatusSeeOther {
		t.Fatalf("rotate: %d", r.Status)
	}

	f.deleted = owner.register("deleted.example.com", "premium")
	f.deletedTok = s.issueToken(t, f.deleted)
	if r := owner.post(fmt.Sprintf("/domain/%d/delete", domainIDOf(t, s, "deleted.example.com")), nil); r.Status != http.StatusSeeOther {
		t.Fatalf("delete: %d", r.Status)
	}

	f.revoked = owner.register("revoked.example.com", "free")
	f.revokedTok = s.issueToken(t, f.revoked)
	revokeHere(t, s, domainIDOf(t, s, "revoked.example.com"))
	return f
}

// ---------------------------------------------------------------------------
// Forged tokens
// ---------------------------------------------------------------------------

// but returns a copy of claims with the given key/value pairs set, or
// deleted when the value is nil.
func but(claims jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range claims {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

type namedToken struct {
	name string
	tok  string
}

// forgedTokens are tokens /v1/test must refuse with 401 although each
// carries the good domain's genuine claims: only the named fault is wrong.
func forgedTokens(t *testing.T, f *apiFixture) []namedToken {
	t.Helper()
	key := f.s.app.config.JWTSecret
	good := jwt.MapClaims(jwtPayload(t, f.tok))
	now := time.Now()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	otherKey := []byte("another-secret-0123456789abcdef0123456789")

	ts := []namedToken{
		{"alg none", tokentest.Unsigned(t, tokentest.Header("none"), good)},
		{"alg None", tokentest.Unsigned(t, tokentest.Header("None"), good)},
		{"alg NONE", tokentest.Unsigned(t, tokentest.Header("NONE"), good)},
		{"alg none with an HMAC signature", tokentest.Sign(t, key, tokentest.Header("none"), good)},
		{"HS384 with the same key", tokentest.SignMethod(t, jwt.SigningMethodHS384, key, good, nil)},
		{"HS512 with the same key", tokentest.SignMethod(t, jwt.SigningMethodHS512, key, good, nil)},
		{"RS256 with a fresh RSA key", tokentest.SignMethod(t, jwt.SigningMethodRS256, rsaKey, good, nil)},
		{"ES256 with a fresh ECDSA key", tokentest.SignMethod(t, jwt.SigningMethodES256, ecKey, good, nil)},
		{"EdDSA with a fresh Ed25519 key", tokentest.SignMethod(t, jwt.SigningMethodEdDSA, edKey, good, nil)},
		{"RS256 header over an HMAC signature with the key", tokentest.Sign(t, key, tokentest.Header("RS256"), good)},
		{"signed with another key", tokentest.SignMethod(t, jwt.SigningMethodHS256, otherKey, good, nil)},
		{"wrong issuer", tokentest.SignMethod(t, jwt.SigningMethodHS256, key, but(good, "iss", "evil"), nil)},
		{"no issuer", tokentest.SignMethod(t, jwt.SigningMethodHS256, key, but(good, "iss", nil), nil)},
		{"no exp", tokentest.SignMethod(t, jwt.SigningMethodHS256, key, but(good, "exp", nil), nil)},
		{"nbf in the future", tokentest.SignMethod(t, jwt.SigningMethodHS256, key, but(good, "nbf", now.Add(time.Hour).Unix()), nil)},
		{"iat in the future", tokentest.SignMethod(t, jwt.SigningMethodHS256, key, but(good, "iat", now.Add(time.Hour).Unix(), "exp", now.Add(2*time.Hour).Unix()), nil)},
		{"a secret version the domain never had", tokentest.SignMethod(t, jwt.SigningMethodHS256, key, but(good, "sv", 2), nil)},
		{"expired and wrong issuer", tokentest.SignMethod(t, jwt.SigningMethodHS256, key,
			but(good, "iss", "evil", "iat", now.Add(-2*time.Hour).Unix(), "exp", now.Add(-time.Hour).Unix()), nil)},
		{"bit flipped in the signature", tokentest.FlipBit(t, f.tok, 2, 5)},
		{"bit flipped in the payload", tokentest.FlipBit(t, f.tok, 1, 8*10)},
		{"bit flipped in the header", tokentest.FlipBit(t, f.tok, 0, 8*3+1)},
		{"signature removed", f.tok[:strings.LastIndex(f.tok, ".")+1]},
		{"two segments", f.tok[:strings.LastIndex(f.tok, ".")]},
		{"four segments", f.tok + ".AAAA"},
		{"garbage", "not a token"},
		{"dots", ".."},
		{"100 KB", strings.Repeat("A", 100<<10)},
		{"token of the rotated-away secret", f.rotatedTok},
		{"token of the deleted domain", f.deletedTok},
		// Genuine signatures over claims golang-jwt refuses to decode.
		{"aud [null]", tokentest.Sign(t, key, tokentest.Header("HS256"), but(good, "aud", []any{nil}))},
		{`aud ["a",null]`, tokentest.Sign(t, key, tokentest.Header("HS256"), but(good, "aud", []any{good["aud"].([]any)[0], nil}))},
		{"aud a number", tokentest.Sign(t, key, tokentest.Header("HS256"), but(good, "aud", 5))},
		{"aud an object", tokentest.Sign(t, key, tokentest.Header("HS256"), but(good, "aud", map[string]any{"x": 1}))},
		{"exp a string", tokentest.Sign(t, key, tokentest.Header("HS256"), but(good, "exp", fmt.Sprint(now.Add(time.Hour).Unix())))},
	}
	for _, h := range []struct {
		name  string
		value any
	}{
		{"kid", "attacker"},
		{"jku", "https://attacker.example/jwks.json"},
		{"jwk", map[string]any{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(otherKey)}},
		{"x5u", "https://attacker.example/cert.pem"},
	} {
		ts = append(ts, namedToken{h.name + " header, signed with another key",
			tokentest.SignMethod(t, jwt.SigningMethodHS256, otherKey, good, map[string]any{h.name: h.value})})
	}
	return ts
}

// ---------------------------------------------------------------------------
// The whole API, case by case, in English and Korean.
// ---------------------------------------------------------------------------

type apiCase struct {
	name   string
	req    apiReq
	status int
	key    string // the catalogue key of the message
	allow  string // the method the Allow header must list (405)
}

func tokenCases(t *testing.T, f *apiFixture) []apiCase {
	t.Helper()
	const tokenPath = "/v1/token"
	post := func(ctype, body string) apiReq {
		return apiReq{method: "POST", path: tokenPath, ctype: ctype, body: body}
	}
	js := func(body string) apiReq { return post("application/json", body) }
	mpType, mpBody := multipartBody(map[string]string{"clientSecret": f.good})
	mpEmptyType, mpEmptyBody := multipartBody(map[string]string{"other": "x"})
	big := `{"clientSecret":"` + f.good + `","pad":"` + strings.Repeat("x", 70<<10) + `"}`
	badSum := f.good[:len(f.good)-1] + string("abcdefghijklmnopqrstuvwxyz234567"[(strings.IndexByte("abcdefghijklmnopqrstuvwxyz234567", f.good[len(f.good)-1])+1)%32])
	withQuery := func(r apiReq) apiReq { r.path += "?clientSecret=" + url.QueryEscape(f.good); return r }
	chunked := func(r apiReq) apiReq { r.chunked = true; return r }

	return []apiCase{
		// Accepted bodies.
		{"JSON", jsonSecret(f.good), 200, "api.token.issued", ""},
		{"JSON with a charset", post("application/json; charset=utf-8", `{"clientSecret":"`+f.good+`"}`), 200, "api.token.issued", ""},
		{"JSON with other fields", js(`{"clientSecret":"` + f.good + `","client":"nodecat"}`), 200, "api.token.issued", ""},
		{"JSON with spaces around the secret", js(`{"clientSecret":"  ` + f.good + ` "}`), 200, "api.token.issued", ""},
		{"urlencoded form", post("application/x-www-form-urlencoded", "clientSecret="+f.good), 200, "api.token.issued", ""},
		{"multipart form", post(mpType, mpBody), 200, "api.token.issued", ""},

		// No secret.
		{"empty JSON object", js(`{}`), 400, "api.secret.missing", ""},
		{"empty secret", js(`{"clientSecret":""}`), 400, "api.secret.missing", ""},
		{"blank secret", js(`{"clientSecret":"   "}`), 400, "api.secret.missing", ""},
		{"null secret", js(`{"clientSecret":null}`), 400, "api.secret.missing", ""},
		{"JSON null", js(`null`), 400, "api.secret.missing", ""},
		{"no body at all", apiReq{method: "POST", path: tokenPath}, 400, "api.secret.missing", ""},
		{"empty urlencoded form", post("application/x-www-form-urlencoded", ""), 400, "api.secret.missing", ""},
		{"multipart form without the field", post(mpEmptyType, mpEmptyBody), 400, "api.secret.missing", ""},
		{"secret only in the URL (form)", withQuery(post("application/x-www-form-urlencoded", "")), 400, "api.secret.missing", ""},
		{"secret only in the URL (JSON)", withQuery(js(`{}`)), 400, "api.secret.missing", ""},

		// Malformed bodies.
		{"empty JSON body", js(""), 400, "api.body.malformed", ""},
		{"truncated JSON", js(`{"clientSecret":`), 400, "api.body.malformed", ""},
		{"JSON with trailing garbage", js(`{"clientSecret":"` + f.good + `"} x`), 400, "api.body.malformed", ""},
		{"two JSON objects", js(`{"clientSecret":"` + f.good + `"}{"clientSecret":"` + f.good + `"}`), 400, "api.body.malformed", ""},
		{"JSON array", js(`["` + f.good + `"]`), 400, "api.body.malformed", ""},
		{"JSON string", js(`"` + f.good + `"`), 400, "api.body.malformed", ""},
		{"secret is a number", js(`{"clientSecret":12345}`), 400, "api.body.malformed", ""},
		{"secret is an array", js(`{"clientSecret":["` + f.good + `"]}`), 400, "api.body.malformed", ""},
		{"secret is an object", js(`{"clientSecret":{"value":"` + f.good + `"}}`), 400, "api.body.malformed", ""},
		{"secret is a boolean", js(`{"clientSecret":true}`), 400, "api.body.malformed", ""},
		{"bad urlencoding", post("application/x-www-form-urlencoded", "clientSecret=%zz"), 400, "api.body.malformed", ""},
		{"multipart without its boundary", post("multipart/form-data", mpBody), 400, "api.body.malformed", ""},

		// Unsupported bodies.
		{"text/plain", post("text/plain", f.good), 415, "api.body.type", ""},
		{"XML", post("application/xml", "<clientSecret>"+f.good+"</clientSecret>"), 415, "api.body.type", ""},
		{"a body without Content-Type", apiReq{method: "POST", path: tokenPath, body: `{"clientSecret":"` + f.good + `"}`}, 415, "api.body.type", ""},

		// Too large (BODY_LIMIT is 64K in tests), with and without Content-Length.
		{"JSON over the limit", js(big), 413, "err.413", ""},
		{"JSON over the limit, chunked", chunked(js(big)), 413, "err.413", ""},
		{"form over the limit, chunked", chunked(post("application/x-www-form-urlencoded", "clientSecret="+f.good+"&pad="+strings.Repeat("x", 70<<10))), 413, "err.413", ""},

		// Secrets that do not open the door.
		{"malformed secret", jsonSecret("nbk_short"), 401, "api.secret.malformed", ""},
		{"secret with a wrong checksum", jsonSecret(badSum), 401, "api.secret.malformed", ""},
		{"secret in upper case", jsonSecret(strings.ToUpper(f.good)), 401, "api.secret.malformed", ""},
		{"well-formed unknown secret", jsonSecret(secret.New()), 401, "api.secret.unknown", ""},
		{"rotated-away secret", jsonSecret(f.rotatedAway), 401, "api.secret.unknown", ""},
		{"deleted domain's secret", jsonSecret(f.deleted), 401, "api.secret.unknown", ""},
		{"revoked domain's secret: its holder is told", jsonSecret(f.revoked), 401, "api.domain.revoked", ""},

		// Wrong methods and URLs.
		{"GET /v1/token", apiReq{method: "GET", path: tokenPath}, 405, "err.405", "POST"},
		{"PUT /v1/token", jsonSecret(f.good).with("PUT", tokenPath), 405, "err.405", "POST"},
		{"DELETE /v1/token", apiReq{method: "DELETE", path: tokenPath}, 405, "err.405", "POST"},
		{"PATCH /v1/token", jsonSecret(f.good).with("PATCH", tokenPath), 405, "err.405", "POST"},
		{"POST /v1/test", jsonSecret(f.good).with("POST", "/v1/test"), 405, "err.405", "GET"},
		{"DELETE /v1/test", apiReq{method: "DELETE", path: "/v1/test"}, 405, "err.405", "GET"},
		{"unknown /v1 path", apiReq{method: "GET", path: "/v1/nope"}, 404, "err.404", ""},
		{"POST to an unknown /v1 path", jsonSecret(f.good).with("POST", "/v1/tokens"), 404, "err.404", ""},
		{"/v1 itself", apiReq{method: "GET", path: "/v1"}, 404, "err.404", ""},
		{"/v1/", apiReq{method: "GET", path: "/v1/"}, 404, "err.404", ""},
		{"/v1/token/ with a trailing slash", jsonSecret(f.good).with("POST", tokenPath+"/"), 404, "err.404", ""},
	}
}

func (r apiReq) with(method, path string) apiReq {
	r.method, r.path = method, path
	return r
}

func verifyCases(t *testing.T, f *apiFixture) []apiCase {
	t.Helper()
	key := f.s.app.config.JWTSecret
	good := jwt.MapClaims(jwtPayload(t, f.tok))
	expired := but(good, "iat", time.Now().Add(-2*time.Hour).Unix(), "exp", time.Now().Add(-time.Hour).Unix())
	expiredRotated := but(jwt.MapClaims(jwtPayload(t, f.rotatedTok)), "iat", time.Now().Add(-2*time.Hour).Unix(), "exp", time.Now().Add(-time.Hour).Unix())
	expiredRevoked := but(jwt.MapClaims(jwtPayload(t, f.revokedTok)), "iat", time.Now().Add(-2*time.Hour).Unix(), "exp", time.Now().Add(-time.Hour).Unix())

	cs := []apiCase{
		{"raw token, as the seed's clients send it", verifyReq(f.tok), 200, "api.token.valid", ""},
		{"Bearer token", verifyReq("Bearer " + f.tok), 200, "api.token.valid", ""},
		{"bearer token", verifyReq("bearer " + f.tok), 200, "api.token.valid", ""},
		{"BEARER token", verifyReq("BEARER " + f.tok), 200, "api.token.valid", ""},
		{"Bearer token with extra spaces", verifyReq("Bearer   " + f.tok + "  "), 200, "api.token.valid", ""},
		{"control: re-signed with the key, nothing changed", verifyReq(tokentest.SignMethod(t, jwt.SigningMethodHS256, key, good, nil)), 200, "api.token.valid", ""},
		{"the key's kid header, signed with the key", verifyReq(tokentest.SignMethod(t, jwt.SigningMethodHS256, key, good, map[string]any{"kid": token.KeyID(key)})), 200, "api.token.valid", ""},
		{"an unknown kid header, signed with the key", verifyReq(tokentest.SignMethod(t, jwt.SigningMethodHS256, key, good, map[string]any{"kid": "k1"})), 401, "api.token.invalid", ""},

		{"expired, nothing else wrong", verifyReq(tokentest.SignMethod(t, jwt.SigningMethodHS256, key, expired, nil)), 419, "api.token.expired", ""},
		{"expired, raw", verifyReq(tokentest.SignMethod(t, jwt.SigningMethodHS256, key, expired, nil)), 419, "api.token.expired", ""},
		{"expired and of a rotated-away secret", verifyReq(tokentest.SignMethod(t, jwt.SigningMethodHS256, key, expiredRotated, nil)), 401, "api.token.invalid", ""},

		// A genuine token of a revoked domain: its holder is told, expired
		// or not (renewing would not help); a tampered one learns nothing.
		{"token of the revoked domain", verifyReq(f.revokedTok), 401, "api.domain.revoked", ""},
		{"expired token of the revoked domain", verifyReq(tokentest.SignMethod(t, jwt.SigningMethodHS256, key, expiredRevoked, nil)), 401, "api.domain.revoked", ""},
		{"token of the revoked domain, bit flipped in the signature", verifyReq(tokentest.FlipBit(t, f.revokedTok, 2, 5)), 401, "api.token.invalid", ""},

		{"no Authorization header", verifyReq(""), 401, "api.token.missing", ""},
		{"Bearer without a token", verifyReq("Bearer"), 401, "api.token.missing", ""},
		{"a word starting with bearer", verifyReq("Bearertoken"), 401, "api.token.invalid", ""},
		{"Bearer and spaces", verifyReq("Bearer    "), 401, "api.token.missing", ""},
		{"Basic credentials", verifyReq("Basic dXNlcjpwYXNz"), 401, "api.token.invalid", ""},
		{"token after another scheme", verifyReq("Token " + f.tok), 401, "api.token.invalid", ""},
	}
	for _, ft := range forgedTokens(t, f) {
		cs = append(cs, apiCase{ft.name, verifyReq("Bearer " + ft.tok), 401, "api.token.invalid", ""})
	}
	return cs
}

// TestTokenAPI is the API's specification, case by case: every answer is
// JSON {code, message} in the client's language, sets no cookie and gives
// away no secret.
func TestTokenAPI(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver)
		f := newAPIFixture(t, s)
		secrets := []string{f.good, f.rotatedAway, f.deleted, f.revoked, string(s.app.config.JWTSecret)}
		cases := append(tokenCases(t, f), verifyCases(t, f)...)
		var tokens []string
		for _, tc := range cases {
			for _, lang := range []string{"en", "ko"} {
				t.Run(tc.name+"/"+lang, func(t *testing.T) {
					req := tc.req
					req.header = map[string]string{}
					for k, v := range tc.req.header {
						req.header[k] = v
					}
					if lang == "ko" {
						req.header["Accept-Language"] = koreanFirst
					}
					r := s.call(t, req)
					b := checkAPIAnswer(t, r, tc.status, tc.key, lang)
					if lang == "ko" && b.Message == i18n.T("en", tc.key) {
						t.Errorf("Korean asked, English given: %q", b.Message)
					}
					mustNotContain(t, "answer", r.Body, secrets...)
					if len(r.Body) > 4096 {
						t.Errorf("a %d-byte answer: the request is echoed?", len(r.Body))
					}
					switch {
					case tc.status == 200 && req.path == "/v1/token":
						if b.Token == "" || b.ExpiresIn == nil || *b.ExpiresIn != 60 {
							t.Errorf("token %q, expiresIn %v; want a token and 60", b.Token, b.ExpiresIn)
						}
						tokens = append(tokens, b.Token)
					case tc.status == 200:
						var claims map[string]any
						_ = json.Unmarshal([]byte(r.Body), &claims)
						if claims["nick"] != "owner" || claims["iss"] != "nodebird" {
							t.Errorf("claims %v", claims)
						}
					case tc.status == 401 && req.path == "/v1/test" && req.method == "GET":
						if got := r.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
							t.Errorf("WWW-Authenticate %q", got)
						}
					case tc.status == 419:
						if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer error="invalid_token"`) {
							t.Errorf("WWW-Authenticate %q", got)
						}
					case tc.status == 405:
						if allow := r.Header.Get("Allow"); !strings.Contains(allow, tc.allow) || (tc.allow == "POST") == strings.Contains(allow, "GET") {
							t.Errorf("Allow %q, want %s only", allow, tc.allow)
						}
					}
					if tc.status == 200 && r.Header.Get("Cache-Control") != "no-store" {
						t.Errorf("Cache-Control %q on a token answer, want no-store", r.Header.Get("Cache-Control"))
					}
				})
			}
		}
		// The seed's own Korean words.
		ko := map[string]string{"Accept-Language": koreanFirst, "Authorization": f.rotatedTok}
		mustContain(t, "Korean 401", s.client(t).do("GET", "/v1/test", nil, ko).Body, "유효하지 않은 토큰입니다")

		logs := logsOf(s)
		mustNotContain(t, "server logs", logs, append(secrets, f.tok, f.rotatedTok, f.deletedTok, f.revokedTok)...)
		mustNotContain(t, "server logs", logs, tokens...)
		if !strings.Contains(logs, "route=/v1/token") || !strings.Contains(logs, "status=401") {
			t.Error("the request log does not show the API's requests: the check above proves nothing")
		}
	})
}

// TestIssuedTokenClaims checks the token's header and claims, and that
// /v1/test answers with the same claims.
func TestIssuedTokenClaims(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		cfg := testConfig()
		cfg.TokenTTL, cfg.JWTIssuer = 5*time.Minute, "nodebird-test"
		s := startApp(t, testdb.Fresh(t, driver), cfg, false)
		owner := s.user(t, "claims@example.com")
		sec := owner.register("claims.example.com", "premium")
		u, _ := s.app.users.GetByEmail(context.Background(), "claims@example.com")
		id := domainIDOf(t, s, "claims.example.com")

		before := time.Now().Unix()
		r := s.call(t, jsonSecret(sec))
		after := time.Now().Unix()
		b := checkAPIAnswer(t, r, 200, "api.token.issued", "en")
		if b.ExpiresIn == nil || *b.ExpiresIn != 300 {
			t.Errorf("expiresIn %v, want 300 (TOKEN_TTL 5m)", b.ExpiresIn)
		}
		var shape map[string]any
		_ = json.Unmarshal([]byte(r.Body), &shape)
		if len(shape) != 4 {
			t.Errorf("token answer has fields %v, want exactly code, message, token, expiresIn", shape)
		}

		header := decodeSegment(t, strings.Split(b.Token, ".")[0])
		if header["alg"] != "HS256" || header["typ"] != "JWT" || header["kid"] != token.KeyID(s.app.config.JWTSecret) || len(header) != 3 {
			t.Errorf("header %v, want alg HS256, typ JWT and the key's kid only", header)
		}
		c := jwtPayload(t, b.Token)
		num := func(k string) int64 {
			n, ok := c[k].(json.Number)
			if !ok {
				t.Fatalf("%s = %#v, want a number", k, c[k])
			}
			v, err := n.Int64()
			if err != nil {
				t.Fatalf("%s = %s, want an integer", k, n)
			}
			return v
		}
		if num("id") != int64(u.ID) || c["nick"] != "claims" {
			t.Errorf("id %v nick %v, want the owner's %d and claims", c["id"], c["nick"], u.ID)
		}
		if c["iss"] != "nodebird-test" || c["sub"] != strconv.FormatUint(u.ID, 10) {
			t.Errorf("iss %v sub %v", c["iss"], c["sub"])
		}
		if aud, _ := c["aud"].([]any); len(aud) != 1 || aud[0] != "claims.example.com" {
			t.Errorf("aud %v, want [claims.example.com]", c["aud"])
		}
		if jti, _ := c["jti"].(string); !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(jti) {
			t.Errorf("jti %v, want 24 hex digits", c["jti"])
		}
		if iat := num("iat"); iat < before || iat > after || num("exp") != iat+300 {
			t.Errorf("iat %d exp %d; want iat in [%d, %d] and exp = iat+300", iat, num("exp"), before, after)
		}
		if num("did") != int64(id) || num("sv") != 1 {
			t.Errorf("did %v sv %v", c["did"], c["sv"])
		}
		if _, ok := c["nbf"]; ok {
			t.Error("nbf set: it only adds a way to fail")
		}
		if other := jwtPayload(t, s.issueToken(t, sec)); other["jti"] == c["jti"] {
			t.Error("two tokens share a jti")
		}

		// /v1/test answers with the very same claims, plus code and message.
		r = s.call(t, verifyReq(b.Token))
		checkAPIAnswer(t, r, 200, "api.token.valid", "en")
		var got map[string]any
		dec := json.NewDecoder(strings.NewReader(r.Body))
		dec.UseNumber()
		_ = dec.Decode(&got)
		for k, v := range c {
			if fmt.Sprint(got[k]) != fmt.Sprint(v) {
				t.Errorf("/v1/test %s = %v, want %v", k, got[k], v)
			}
		}
		if len(got) != len(c)+2 {
			t.Errorf("/v1/test answered %v, want the claims, code and message", got)
		}
	})
}

// TestTokenVerifiesWithPlainHS256 shows a consumer needs nothing but
// JWT_SECRET and the issuer: crypto/hmac, no JWT library.
func TestTokenVerifiesWithPlainHS256(t *testing.T) {
	s := newTestServer(t, "sqlite")
	sec := s.user(t, "plain@example.com").register("plain.example.com", "free")
	tok := s.issueToken(t, sec)
	jwtSecret, issuer := s.app.config.JWTSecret, s.app.config.JWTIssuer

	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("%d segments", len(parts))
	}
	mac := hmac.New(sha256.New, jwtSecret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		t.Fatalf("signature is not HMAC-SHA256(JWT_SECRET, header.payload): %v", err)
	}
	var header struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iss  string `json:"iss"`
		Exp  int64  `json:"exp"`
		ID   uint64 `json:"id"`
		Nick string `json:"nick"`
	}
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(h, &header) != nil || json.Unmarshal(p, &claims) != nil {
		t.Fatal("header or payload is not JSON")
	}
	if header.Alg != "HS256" || claims.Iss != issuer || claims.Exp <= time.Now().Unix() || claims.ID == 0 || claims.Nick != "plain" {
		t.Fatalf("header %+v claims %+v", header, claims)
	}
}

// TestTokenExpiry drives the token manager's clock: no sleeping.
func TestTokenExpiry(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		start := time.Now().Truncate(time.Second)
		clk := &apiClock{t: start}
		s := newAPIServer(t, driver, tokenClock(clk))
		owner := s.user(t, "clock@example.com")
		sec := owner.register("clock.example.com", "free")
		tok := s.issueToken(t, sec)
		exp := start.Add(s.app.config.TokenTTL)

		for _, tc := range []struct {
			name   string
			at     time.Time
			status int
		}{
			{"just issued", start, 200},
			{"at exp", exp, 200},
			{"within the leeway after exp", exp.Add(token.Leeway - time.Second), 200},
			{"at exp + leeway", exp.Add(token.Leeway), 419},
			{"an hour later", exp.Add(time.Hour), 419},
			{"before it was issued (beyond the leeway)", start.Add(-time.Minute), 401},
		} {
			clk.set(tc.at)
			r := s.call(t, verifyReq(tok))
			if r.Status != tc.status {
				t.Errorf("%s: %d, want %d", tc.name, r.Status, tc.status)
			}
		}
		clk.set(exp.Add(time.Hour))
		r := s.call(t, apiReq{method: "GET", path: "/v1/test", header: map[string]string{"Authorization": tok, "Accept-Language": koreanFirst}})
		checkAPIAnswer(t, r, 419, "api.token.expired", "ko")
		mustContain(t, "Korean 419", r.Body, "토큰이 만료되었습니다")

		// Expired and retired: two faults, so 401, not 419.
		owner.post(fmt.Sprintf("/domain/%d/rotate", domainIDOf(t, s, "clock.example.com")), noOverlap())
		if r := s.call(t, verifyReq(tok)); r.Status != 401 {
			t.Errorf("expired token of a rotated domain: %d, want 401", r.Status)
		}
	})
}

// TestRevocationAcrossInstances: two instances share one database. A
// change made on one refuses the domain's old secret and tokens there at
// once, and on the other from its next refresh (no sleeping: the test
// calls Refresh).
func TestRevocationAcrossInstances(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s1 := newTestServer(t, driver)
		s2 := instanceOn(t, s1.app.db)
		owner := s1.user(t, "multi@example.com")
		sec := owner.register("multi.example.com", "free")
		id := domainIDOf(t, s1, "multi.example.com")

		// Created on instance 1 after instance 2's last refresh.
		if got := s2.app.cache.Check(id, 1); got != domaincache.Unknown {
			t.Fatalf("instance 2 already knows the new domain (%v): the test proves nothing", got)
		}
		tok := s1.issueToken(t, sec)
		if st := s2.verifyStatus(t, tok); st != 200 {
			t.Fatalf("instance 2, token of a domain it has not seen yet: %d, want 200 (the signature is genuine)", st)
		}
		if st := s2.tokenStatusOn(t, sec); st != 200 {
			t.Fatalf("instance 2, secret created since its refresh: %d, want 200 (looked up in the database)", st)
		}

		steps := []struct {
			name   string
			change func() string // makes the change on instance 1; returns a new secret, if any
		}{
			{"rotation", func() string {
				r := owner.thenGet(owner.post(fmt.Sprintf("/domain/%d/rotate", id), noOverlap()))
				m := secretRe.FindStringSubmatch(r.Body)
				if r.Status != 200 || m == nil {
					t.Fatalf("rotate: %d", r.Status)
				}
				return m[1]
			}},
			{"revocation", func() string { revokeHere(t, s1, id); return "" }},
		}
		for _, step := range steps {
			if err := s2.app.cache.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if st := s2.verifyStatus(t, tok); st != 200 {
				t.Fatalf("before the %s: %d on instance 2", step.name, st)
			}
			newSec := step.change()
			if st := s1.verifyStatus(t, tok); st != 401 {
				t.Errorf("%s, instance 1 (which made it): old token %d, want 401 at once", step.name, st)
			}
			if st := s1.tokenStatusOn(t, sec); st != 401 {
				t.Errorf("%s, instance 1: old secret %d, want 401 at once", step.name, st)
			}
			if st := s2.verifyStatus(t, tok); st != 200 {
				t.Errorf("%s, instance 2 before its refresh: old token %d; want still 200 (the documented window)", step.name, st)
			}
			if err := s2.app.cache.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if st := s2.verifyStatus(t, tok); st != 401 {
				t.Errorf("%s, instance 2 after its refresh: old token %d, want 401", step.name, st)
			}
			if st := s2.tokenStatusOn(t, sec); st != 401 {
				t.Errorf("%s, instance 2 after its refresh: old secret %d, want 401", step.name, st)
			}
			if newSec != "" {
				sec = newSec
				tok = s2.issueToken(t, sec) // the new secret works on both
				if st := s1.verifyStatus(t, tok); st != 200 {
					t.Fatalf("new token on instance 1: %d", st)
				}
			}
		}

		// Deletion, on a fresh domain.
		sec = owner.register("gone.example.com", "free")
		id = domainIDOf(t, s1, "gone.example.com")
		tok = s1.issueToken(t, sec)
		if err := s2.app.cache.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if r := owner.post(fmt.Sprintf("/domain/%d/delete", id), nil); r.Status != http.StatusSeeOther {
			t.Fatalf("delete: %d", r.Status)
		}
		if st := s1.verifyStatus(t, tok); st != 401 {
			t.Errorf("deletion, instance 1: %d, want 401", st)
		}
		if st := s2.verifyStatus(t, tok); st != 200 {
			t.Errorf("deletion, instance 2 before its refresh: %d, want 200", st)
		}
		if err := s2.app.cache.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if st := s2.verifyStatus(t, tok); st != 401 {
			t.Errorf("deletion, instance 2 after its refresh: %d, want 401", st)
		}
		if st := s2.tokenStatusOn(t, sec); st != 401 {
			t.Errorf("deletion, instance 2 after its refresh: secret %d, want 401", st)
		}
		// A third instance started afterwards refuses them from the start.
		s3 := instanceOn(t, s1.app.db)
		if st := s3.verifyStatus(t, tok); st != 401 {
			t.Errorf("a new instance accepts a deleted domain's token: %d", st)
		}
	})
}

// TestTokenAPIWithoutDatabase: a secret the instance cannot check gets 503,
// never 401; what it holds in memory keeps working.
func TestTokenAPIWithoutDatabase(t *testing.T) {
	check := func(t *testing.T, s *testServer) {
		t.Helper()
		for _, lang := range []string{"en", "ko"} {
			req := jsonSecret(secret.New())
			if lang == "ko" {
				req.header = map[string]string{"Accept-Language": koreanFirst}
			}
			r := s.call(t, req)
			checkAPIAnswer(t, r, http.StatusServiceUnavailable, "err.503", lang)
			if r.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		}
		if r := s.call(t, jsonSecret("nbk_malformed")); r.Status != 401 {
			t.Errorf("malformed secret: %d, want 401 (no lookup needed)", r.Status)
		}
	}
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver)
		sec := s.user(t, "down@example.com").register("down.example.com", "free")
		tok := s.issueToken(t, sec)
		sqlDB, err := s.app.db.DB()
		if err != nil {
			t.Fatal(err)
		}
		sqlDB.Close()

		check(t, s)
		if st := s.tokenStatusOn(t, sec); st != 200 {
			t.Errorf("a secret held in memory: %d, want 200 while the database is down", st)
		}
		if st := s.verifyStatus(t, tok); st != 200 {
			t.Errorf("verifying needs no database: %d", st)
		}
		if logs := logsOf(s); !strings.Contains(logs, "status=503") || strings.Contains(logs, sec) || strings.Contains(logs, tok) {
			t.Error("the 503 is not logged, or the log holds the secret or token")
		}
	})
	t.Run("server refusing connections", func(t *testing.T) {
		// A MySQL address where nothing listens: no server needed.
		db, err := gorm.Open(mysql.New(mysql.Config{
			DSN:                       "nodebird@tcp(127.0.0.1:1)/nodebird?timeout=1s&parseTime=true",
			SkipInitializeWithVersion: true,
		}), &gorm.Config{TranslateError: true, DisableAutomaticPing: true, Logger: logger.Discard})
		if err != nil {
			t.Fatal(err)
		}
		app, logs := buildApp(t, db, testConfig(), false)
		check(t, serveApp(t, app, logs))
	})
}

// TestTokenAPIInternalErrors: a panic or an unexpected failure is a JSON
// 500 that tells nothing of the cause.
func TestTokenAPIInternalErrors(t *testing.T) {
	s := newTestServer(t, "sqlite")
	sec := s.user(t, "boom@example.com").register("boom.example.com", "free")
	tok := s.issueToken(t, sec)
	// The same database and keys, with parts missing: every request panics.
	app, logs := buildApp(t, s.app.db, testConfig(), false, func(a *App) {
		a.access = access.New(nil, a.tokenManager(nil), nil, apiLimits(a.config, a.limitStore, nil))
	})
	broken := serveApp(t, app, logs)
	for _, req := range []apiReq{jsonSecret(sec), verifyReq(tok)} {
		for _, lang := range []string{"en", "ko"} {
			req.header = map[string]string{"Authorization": req.header["Authorization"]}
			if lang == "ko" {
				req.header["Accept-Language"] = koreanFirst
			}
			r := broken.call(t, req)
			checkAPIAnswer(t, r, 500, "err.500", lang)
			mustNotContain(t, "500 answer", r.Body, "runtime", "nil pointer", "goroutine", ".go:", "panic")
		}
	}
	if lang := i18n.T("ko", "err.500"); lang != "서버 에러" {
		t.Errorf("the seed's Korean 500 message changed: %q", lang)
	}
}

// TestHugeAuthorizationHeader: a 100 KB header is refused like any bad token.
func TestHugeAuthorizationHeader(t *testing.T) {
	s := newTestServer(t, "sqlite")
	for _, h := range []string{strings.Repeat("A", 100<<10), "Bearer " + strings.Repeat("a.", 50<<10), strings.Repeat("eyJ", 34<<10) + ".x.y"} {
		r := s.call(t, verifyReq(h))
		checkAPIAnswer(t, r, 401, "api.token.invalid", "en")
	}
}

// FuzzTokenEndpoint sends arbitrary bodies, content types and
// Authorization headers through the whole handler: the answer is never a
// 5xx and always JSON {code, message}.
//
//	go test -run='^$' -fuzz='^FuzzTokenEndpoint$' -fuzztime=20s ./handlers/
func FuzzTokenEndpoint(f *testing.F) {
	ctx := context.Background()
	cfg := testConfig()
	cfg.TokenTTL = time.Hour
	app, _ := buildApp(f, testdb.Fresh(f, "sqlite"), cfg, false, func(a *App) { a.log = slog.New(slog.DiscardHandler) })
	u, err := app.users.Insert(ctx, "fuzz@example.com", "fuzz", "password123")
	if err != nil {
		f.Fatal(err)
	}
	_, sec, err := app.domains.Insert(ctx, u.ID, "fuzz.example.com", models.PlanFree)
	if err != nil {
		f.Fatal(err)
	}
	if err := app.cache.Refresh(ctx); err != nil {
		f.Fatal(err)
	}
	h := app.handler
	serve := func(req *http.Request) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := serve(jsonRequest(`{"clientSecret":"` + sec + `"}`))
	var issued apiBody
	if err := json.Unmarshal(rec.Body.Bytes(), &issued); err != nil || issued.Token == "" {
		f.Fatalf("no token to seed with: %d %s", rec.Code, rec.Body)
	}
	tok := issued.Token
	key := cfg.JWTSecret
	good := jwt.MapClaims(jwtPayload(&testing.T{}, tok))
	parts := strings.Split(tok, ".")

	mp, mpBody := multipartBody(map[string]string{"clientSecret": sec})
	for _, s := range []struct{ body, ctype, auth string }{
		{`{"clientSecret":"` + sec + `"}`, "application/json", tok},
		{"clientSecret=" + sec, "application/x-www-form-urlencoded", "Bearer " + tok},
		{mpBody, mp, "bearer " + tok},
		{`{"clientSecret":"` + secret.New() + `"}`, "application/json; charset=utf-8", ""},
		{`{"clientSecret":12}`, "application/json", "Bearer"},
		{`{"clientSecret":"` + sec + `"} x`, "application/json", "Basic dXNlcjpwYXNz"},
		{`[]`, "application/json", parts[0] + "." + parts[1] + "."},
		{`{`, "application/json", tokentest.Unsigned(f, tokentest.Header("none"), good)},
		{"", "", tokentest.Sign(f, key, tokentest.Header("RS256"), good)},
		{"clientSecret=%zz", "application/x-www-form-urlencoded", tokentest.Sign(f, key, tokentest.Header("HS256"), but(good, "exp", nil))},
		{"--x\r\n", "multipart/form-data; boundary=x", tokentest.Sign(f, key, tokentest.Header("HS256"), but(good, "iss", "evil"))},
		{sec, "text/plain", tokentest.Sign(f, key, tokentest.Header("HS256"), but(good, "exp", time.Now().Add(-time.Hour).Unix(), "iat", time.Now().Add(-2*time.Hour).Unix()))},
		{`{"clientSecret":"` + strings.ToUpper(sec) + `"}`, "application/vnd.api+json", tokentest.Sign(f, key, map[string]any{"alg": "HS256", "kid": "../../x"}, good)},
	} {
		f.Add(s.body, s.ctype, s.auth)
	}

	f.Fuzz(func(t *testing.T, body, ctype, auth string) {
		req := httptest.NewRequest("POST", "/v1/token", strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		checkFuzzAnswer(t, serve(req), sec)

		req = httptest.NewRequest("GET", "/v1/test", nil)
		req.Header.Set("Authorization", auth)
		checkFuzzAnswer(t, serve(req), sec)
	})
}

func jsonRequest(body string) *http.Request {
	req := httptest.NewRequest("POST", "/v1/token", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}

func checkFuzzAnswer(t *testing.T, rec *httptest.ResponseRecorder, sec string) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if mt, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type")); mt != "application/json" {
		t.Fatalf("Content-Type %q", rec.Header().Get("Content-Type"))
	}
	var b apiBody
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b.Code != rec.Code || b.Message == "" {
		t.Fatalf("status %d, body %s: want JSON {code, message} (%v)", rec.Code, rec.Body, err)
	}
	if strings.Contains(rec.Body.String(), sec) {
		t.Fatal("the answer holds the client secret")
	}
}
