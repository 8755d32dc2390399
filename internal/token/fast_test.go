package token

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzFastPathAgreesWithLibrary: whenever the fast path answers, golang-jwt
// gives the same answer. Run longer with
//
//	go test ./internal/token -run '^$' -fuzz FuzzFastPath -fuzztime 60s
func FuzzFastPathAgreesWithLibrary(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	at := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	issuer := New(key, "nodebird", time.Minute, func() time.Time { return at })
	for _, s := range []Subject{
		{UserID: 42, Nick: "zerocho", DomainID: 7, SecretVersion: 3, Host: "example.com"},
		{UserID: 1, Nick: "제로초 \"q\"", DomainID: 1<<64 - 1, SecretVersion: -1, Host: "h:8080"},
	} {
		tok, _, err := issuer.Issue(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok, int64(0))
		f.Add(tok, int64(62)) // just expired, beyond the leeway
		parts := strings.Split(tok, ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		for _, edit := range []string{`"exp":1`, `"iat":1.5`, `"nbf":9999999999,"id"`, `"aud":"h"`, `"ID":0`} {
			mangled := strings.Replace(string(payload), `"id"`, edit[:strings.IndexByte(edit, ':')], 1)
			f.Add(parts[0]+"."+base64.RawURLEncoding.EncodeToString([]byte(mangled))+"."+parts[2], int64(0))
		}
	}
	f.Fuzz(func(t *testing.T, tok string, later int64) {
		now := at.Add(time.Duration(later%7200) * time.Second)
		m := New(key, "nodebird", time.Minute, func() time.Time { return now })
		fast, ferr := m.verifyFast(tok)
		if fast == nil && ferr == nil {
			return // left to the library
		}
		lib, lerr := m.verifyLib(tok)
		if ferr != lerr || !reflect.DeepEqual(fast, lib) {
			t.Fatalf("fast path: %+v, %v; golang-jwt: %+v, %v", fast, ferr, lib, lerr)
		}
	})
}

// A payload parseWire leaves alone (its strings have escapes) is still the
// fast path's, read by encoding/json: only the header or the claims' shape
// sends a token to golang-jwt.
func TestFastPathReadsEscapedClaims(t *testing.T) {
	at := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	m := New([]byte("0123456789abcdef0123456789abcdef"), "nodebird", time.Minute, func() time.Time { return at })
	s := Subject{UserID: 1, Nick: `제로초 "q" <b>\`, DomainID: 2, SecretVersion: 3, Host: "h:8080"}
	tok, _, err := m.Issue(s)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if _, ok := parseWire(string(payload)); ok {
		t.Fatalf("parseWire took %s: pick a nick it leaves to encoding/json", payload)
	}
	c, err := m.verifyFast(tok)
	if err != nil || c == nil {
		t.Fatalf("verifyFast = %v, %v; want the claims", c, err)
	}
	if c.Nick != s.Nick || c.UserID != s.UserID || c.DomainID != s.DomainID || c.SecretVersion != s.SecretVersion {
		t.Errorf("claims = %+v, want those of %+v", *c, s)
	}
}
