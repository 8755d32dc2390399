package handlers

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestReadClientSecretFromJSON: a JSON body is read by encoding/json, one
// value and nothing after it.
func TestReadClientSecretFromJSON(t *testing.T) {
	read := func(body string) (string, error) {
		req := httptest.NewRequest(http.MethodPost, "/v1/token", strings.NewReader(body))
		req.Header.Set(echo.HeaderContentType, "application/json; charset=utf-8")
		return readClientSecret(req)
	}
	for body, want := range map[string]string{
		`{"clientSecret":"nbk_ABC234"}`:           "nbk_ABC234",
		` {"clientSecret": "nbk_ABC234"} ` + "\n": "nbk_ABC234",
		`{"clientsecret":"nbk_x"}`:                "nbk_x", // encoding/json matches keys in any case
		`{"clientSecret":"\u006ebk"}`:             "nbk",
		`{"clientSecret":"a","clientSecret":"b"}`: "b",
		`{"clientSecret":"<&>"}`:                  "<&>",
		`{"clientSecret":" nbk_x "}`:              "nbk_x",
		"{\"clientSecret\":\"\xff\"}":             "\ufffd",
	} {
		if got, err := read(body); err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", body, got, err, want)
		}
	}
	wantError := func(body string, status int, key string) {
		t.Helper()
		got, err := read(body)
		var he *echo.HTTPError
		if !errors.As(err, &he) || he.Code != status || he.Message != key {
			t.Errorf("%s: %q, %v; want %d %s", body, got, err, status, key)
		}
	}
	for _, body := range []string{`{"clientSecret":null}`, `{}`, `{"other":1}`, `{"clientSecret":"  "}`} {
		wantError(body, http.StatusBadRequest, "api.secret.missing")
	}
	for _, body := range []string{``, `{`, `{"clientSecret":"a"}{}`, `{"clientSecret":"a"}x`, `{"clientSecret":"a"} "b"`,
		`"nbk"`, `[]`, `{"clientSecret":1}`, `{"clientSecret":"a"`, "{\"clientSecret\":\"a\nb\"}"} {
		wantError(body, http.StatusBadRequest, "api.body.malformed")
	}
}
