package handlers

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/internal/token"
)

// answer is what a handler writing v with write sends: headers and body.
func answer(t testing.TB, target string, v any, write func(echo.Context, any) error) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, target, nil), rec)
	if err := write(c, v); err != nil {
		t.Fatal(err)
	}
	return rec
}

// sameAnswerAsEchoJSON fails unless writeJSON sends exactly what c.JSON sends for v.
func sameAnswerAsEchoJSON(t testing.TB, target string, v jsonAppender) {
	t.Helper()
	want := answer(t, target, v, func(c echo.Context, v any) error { return c.JSON(http.StatusOK, v) })
	got := answer(t, target, v, func(c echo.Context, v any) error { return writeJSON(c, http.StatusOK, v.(jsonAppender)) })
	if got.Body.String() != want.Body.String() || got.Code != want.Code ||
		got.Header().Get(echo.HeaderContentType) != want.Header().Get(echo.HeaderContentType) {
		t.Fatalf("writeJSON sent %d %q %q\nc.JSON sends %d %q %q", got.Code, got.Header(), got.Body, want.Code, want.Header(), want.Body)
	}
}

func int64p(n int64) *int64 { return &n }

func TestWriteJSONSendsWhatEchoSends(t *testing.T) {
	for _, target := range []string{"/v1/test", "/v1/test?x=1", "/v1/test?pretty"} {
		sameAnswerAsEchoJSON(t, target, &tokenResponse{Code: 200, Message: "토큰이 발급되었습니다", Token: "a.b.c", ExpiresIn: 60})
		sameAnswerAsEchoJSON(t, target, &claimsResponse{Code: 200, Message: "The token is valid", Wire: token.Wire{
			UserID: 1, Nick: `<zero"cho>`, DomainID: 2, SecretVersion: 3, Issuer: "nodebird", Subject: "1",
			Audience: []string{"example.com"}, ExpiresAt: int64p(120), IssuedAt: int64p(60), ID: "jti",
		}})
	}
	pretty := answer(t, "/v1/test?pretty", &tokenResponse{Code: 200}, func(c echo.Context, v any) error {
		return writeJSON(c, http.StatusOK, v.(jsonAppender))
	})
	if want := "{\n  \"code\": 200,\n  \"message\": \"\",\n  \"token\": \"\",\n  \"expiresIn\": 0\n}\n"; pretty.Body.String() != want {
		t.Errorf("?pretty: %q, want %q", pretty.Body, want)
	}
}

func FuzzResponseJSON(f *testing.F) {
	f.Add(200, "The token is valid", "a.b.c", uint64(1), "zerocho", int64(60), "example.com")
	f.Add(419, "토큰이 만료되었습니다", "", uint64(1<<64-1), "\x00<&>\u2028\xff", int64(-1), "")
	f.Fuzz(func(t *testing.T, code int, msg, tok string, id uint64, nick string, n int64, host string) {
		sameAnswerAsEchoJSON(t, "/v1/token", &tokenResponse{Code: code, Message: msg, Token: tok, ExpiresIn: int(n)})
		w := token.Wire{UserID: id, Nick: nick, DomainID: id / 2, SecretVersion: int(n), Issuer: msg, Subject: tok, ID: nick}
		if host != "" {
			w.Audience, w.ExpiresAt, w.IssuedAt, w.NotBefore = []string{host}, &n, int64p(n-60), int64p(n-1)
		}
		sameAnswerAsEchoJSON(t, "/v1/test", &claimsResponse{Code: code, Message: msg, Wire: w})
	})
}

func TestSecretFromJSON(t *testing.T) {
	for body, want := range map[string]string{
		`{"clientSecret":"nbk_ABC234"}`:           "nbk_ABC234",
		` {"clientSecret": "nbk_ABC234"} `:        "nbk_ABC234",
		`{"clientsecret":"nbk_x"}`:                "nbk_x", // encoding/json matches keys in any case
		`{"clientSecret":"\u006ebk"}`:             "nbk",
		`{"clientSecret":null}`:                   "",
		`{}`:                                      "",
		`{"other":1}`:                             "",
		`{"clientSecret":"a","clientSecret":"b"}`: "b",
		`{"clientSecret":"<&>"}`:                  "<&>",
		"{\"clientSecret\":\"\xff\"}":             "\ufffd",
	} {
		if got, err := secretFromJSON([]byte(body)); err != nil || got != want {
			t.Errorf("secretFromJSON(%s) = %q, %v; want %q", body, got, err, want)
		}
	}
	for _, body := range []string{``, `{`, `{"clientSecret":"a"}{}`, `{"clientSecret":"a"}x`, `"nbk"`, `[]`,
		`{"clientSecret":1}`, `{"clientSecret":"a"`, "{\"clientSecret\":\"a\nb\"}"} {
		if got, err := secretFromJSON([]byte(body)); err != errBodyMalformed {
			t.Errorf("secretFromJSON(%s) = %q, %v; want errBodyMalformed", body, got, err)
		}
	}
}

// FuzzSecretFromJSON: the plain-body reader reads every body it takes as
// encoding/json does.
func FuzzSecretFromJSON(f *testing.F) {
	f.Add([]byte(`{"clientSecret":"nbk_ABC234"}`))
	f.Add([]byte(`{"clientSecret":"a\"b"}`))
	f.Add([]byte(`{"clientSecret":""}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, ok := plainSecretBody(body)
		if !ok {
			return
		}
		var v struct {
			ClientSecret *string `json:"clientSecret"`
		}
		if err := json.Unmarshal(body, &v); err != nil || v.ClientSecret == nil || *v.ClientSecret != s {
			t.Fatalf("plainSecretBody(%q) = %q; encoding/json reads %v, %v", body, s, v.ClientSecret, err)
		}
	})
}

// TestFixedHeadersStayFixed: adding to a fixed header on one response
// leaves the value every other response shares untouched.
func TestFixedHeadersStayFixed(t *testing.T) {
	all := append([]fixedHeader{headerNoStore, headerJSON, headerVaryOrigin, hsts}, append(pageHeaders, apiHeaders...)...)
	for _, f := range all {
		want := f.value[0]
		h := http.Header{}
		f.set(h)
		h.Add(f.name, "extra")
		if len(f.value) != 1 || f.value[0] != want || len(h.Values(f.name)) != 2 {
			t.Errorf("%s: shared value now %q, response has %q", f.name, f.value, h.Values(f.name))
		}
	}
}
