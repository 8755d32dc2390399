package handlers

import (
	"net/http"
	"strings"
	"testing"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/internal/token"
)

// Keys for the rotation tests: the old ones, and the new ones.
var (
	oldJWT, newJWT         = []byte("old-jwt-secret-0123456789abcdef0123456789"), []byte("new-jwt-secret-fedcba9876543210fedcba987")
	oldSession, newSession = []byte("old-session-secret-0123456789abcdef01234"), []byte("new-session-secret-fedcba9876543210fedcb")
)

// keys sets the current JWT and session keys and the previous ones (nil: none).
func keys(jwt, jwtPrevious, session, sessionPrevious []byte) func(*config.Config) {
	return func(c *config.Config) {
		c.JWTSecret, c.JWTSecretPrevious, c.SessionSecret, c.SessionSecretPrevious = jwt, jwtPrevious, session, sessionPrevious
	}
}

// signedInOn reports whether c is signed in on s (the page shows the log-out button).
func (c *client) signedInOn(s *testServer) bool {
	c.t.Helper()
	c.srv = s
	r := c.get("/")
	if r.Status != http.StatusOK {
		c.t.Fatalf("GET /: %d", r.Status)
	}
	return strings.Contains(r.Body, `data-testid="logout"`)
}

// A session cookie made with the previous session key still signs in, and
// is made again with the current key: an instance that knows only the
// current key then accepts it.
func TestSessionCookieOfThePreviousKey(t *testing.T) {
	db := testdb.Fresh(t, "sqlite")
	start := func(tweak func(*config.Config)) *testServer {
		cfg := testConfig()
		tweak(cfg)
		return startApp(t, db, cfg, false)
	}
	before := start(keys(oldJWT, nil, oldSession, nil))
	rotated := start(keys(oldJWT, nil, newSession, oldSession))
	after := start(keys(oldJWT, nil, newSession, nil))

	c := before.user(t, "rotate@example.com")
	other := before.user(t, "control@example.com") // never visits the rotated instance
	if !c.signedInOn(before) || !other.signedInOn(before) {
		t.Fatal("not signed in before the rotation")
	}
	if other.signedInOn(after) {
		t.Fatal("a cookie of the old key signed in where only the new key is known")
	}
	c.srv = rotated
	r := c.get("/")
	if !strings.Contains(r.Body, `data-testid="logout"`) {
		t.Fatal("the cookie of the previous key did not sign in")
	}
	if !strings.Contains(r.Header.Get("Set-Cookie"), sessionCookie+"=") {
		t.Fatal("the cookie of the previous key was not made again")
	}
	if !c.signedInOn(after) {
		t.Fatal("the cookie made again is not of the current key")
	}
	// Made with the current key, it is not made again on every request.
	c.srv = rotated
	if r := c.get("/"); r.Header.Get("Set-Cookie") != "" {
		t.Fatalf("a cookie of the current key was made again: %s", r.Header.Get("Set-Cookie"))
	}
}

// TestRollingKeyRotation follows the README's procedure on two instances
// sharing a database, one restarted at a time, a client alternating
// between them at every step: tokens issued on one are checked on the
// other, and the session stays signed in on both. No request fails.
//
//  1. every instance ACCEPTS the new keys (JWT_SECRET_PREVIOUS and
//     SESSION_SECRET_PREVIOUS = new), still signing with the old ones;
//  2. every instance SIGNS with the new keys (JWT_SECRET, SESSION_SECRET =
//     new) and accepts the old ones as previous;
//  3. once the old tokens have expired (TOKEN_TTL) and cookies have had
//     SESSION_TTL to be made again, the previous keys go.
//
// Signing with the new key before every instance accepts it (step 2 with
// no step 1) fails requests: checked too.
func TestRollingKeyRotation(t *testing.T) {
	db := testdb.Fresh(t, "sqlite")
	start := func(tweak func(*config.Config)) *testServer {
		cfg := testConfig()
		tweak(cfg)
		return startApp(t, db, cfg, false)
	}
	v0 := keys(oldJWT, nil, oldSession, nil)           // before
	v1 := keys(oldJWT, newJWT, oldSession, newSession) // step 1: accept the new keys
	v2 := keys(newJWT, oldJWT, newSession, oldSession) // step 2: sign with them
	v3 := keys(newJWT, nil, newSession, nil)           // step 3: the old keys gone

	a := start(v0)
	owner := a.user(t, "owner@example.com")
	sec := owner.register("rolling.example.com", "free")
	b := start(v0)

	// Signing with the new key while an instance knows only the old one
	// fails: why step 1 comes first.
	naive := start(v2)
	if got := a.verifyStatus(t, naive.issueToken(t, sec)); got != http.StatusUnauthorized {
		t.Fatalf("a token of the new key on an instance of the old one: %d, want 401", got)
	}

	steps := []struct {
		name string
		cfg  func(*config.Config)
		slot **testServer
	}{
		{"1: A accepts the new keys", v1, &a}, {"1: B accepts the new keys", v1, &b},
		{"2: A signs with the new keys", v2, &a}, {"2: B signs with the new keys", v2, &b},
		{"3: A drops the old keys", v3, &a}, {"3: B drops the old keys", v3, &b},
	}
	check := func(step string) {
		t.Helper()
		for range 2 {
			for _, p := range [][2]*testServer{{a, b}, {b, a}} {
				if got := p[1].verifyStatus(t, p[0].issueToken(t, sec)); got != http.StatusOK {
					t.Fatalf("%s: a token issued on one instance, checked on the other: %d", step, got)
				}
				if !owner.signedInOn(p[0]) {
					t.Fatalf("%s: signed out", step)
				}
			}
		}
	}
	check("before")
	for _, st := range steps {
		*st.slot = start(st.cfg) // the instance restarted with its new settings
		check(st.name)
	}
	// After step 2 the tokens carry the new key's kid.
	if h := jwtHeaderOf(t, a.issueToken(t, sec)); h["kid"] != token.KeyID(newJWT) {
		t.Fatalf("kid %v after the rotation", h["kid"])
	}
}

func jwtHeaderOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	return decodeSegment(t, strings.Split(tok, ".")[0])
}
