package token

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

func ptr(n int64) *int64 { return &n }

var wires = []Wire{
	{},
	{UserID: 1, Nick: "zerocho", DomainID: 7, SecretVersion: 3, Issuer: "nodebird", Subject: "1",
		Audience: []string{"example.com"}, ExpiresAt: ptr(1795797565), IssuedAt: ptr(1795797505), ID: "4a3f406a96196501d2597a2d"},
	{UserID: math.MaxUint64, Nick: "제로초 🐦", DomainID: math.MaxUint64, SecretVersion: math.MinInt,
		Audience: []string{"a", "b:8080", ""}, ExpiresAt: ptr(math.MinInt64), NotBefore: ptr(0), IssuedAt: ptr(math.MaxInt64)},
	{SecretVersion: -1, ExpiresAt: ptr(-1), Audience: []string{}},
}

// Wires whose strings need escaping: written right, left to encoding/json when read.
var escapedWires = []Wire{
	{UserID: 2, Nick: `"q" \ <b>&`, DomainID: 3, SecretVersion: 1},
	{UserID: 2, Nick: "tab\t\x00", DomainID: 3, SecretVersion: 1, Issuer: "bad \xff"},
	{UserID: 2, Nick: "x", DomainID: 3, SecretVersion: 1, Audience: []string{"\u2028"}},
}

func TestWireJSONMatchesEncodingJSON(t *testing.T) {
	for _, w := range append(append([]Wire{}, wires...), escapedWires...) {
		want, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		if got := w.AppendJSON([]byte("x")); string(got) != "x"+string(want) {
			t.Errorf("AppendJSON = %s\nencoding/json writes %s", got[1:], want)
		}
	}
}

func TestParseWireReadsWhatAppendJSONWrites(t *testing.T) {
	for _, w := range wires {
		b := w.AppendJSON(nil)
		var want Wire
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		got, ok := parseWire(string(b))
		if !ok {
			t.Errorf("parseWire refused %s", b)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("parseWire(%s) = %+v, encoding/json reads %+v", b, got, want)
		}
	}
	for _, w := range escapedWires {
		if _, ok := parseWire(string(w.AppendJSON(nil))); ok {
			t.Errorf("parseWire took %s, which has escapes", w.AppendJSON(nil))
		}
	}
	for _, s := range []string{
		``, `{}`, `{"id":1,"nick":"n","did":1,"sv":1} `, `{"id":01,"nick":"n","did":1,"sv":1}`,
		`{"id":1.0,"nick":"n","did":1,"sv":1}`, `{"id":-1,"nick":"n","did":1,"sv":1}`,
		`{"id":18446744073709551616,"nick":"n","did":1,"sv":1}`, `{"id":1,"nick":"n","did":1,"sv":-0}`,
		`{"id":1,"nick":"n","did":1,"sv":9223372036854775808}`, `{"id":1,"nick":"n","did":1,"sv":1,"exp":-9223372036854775809}`,
		`{"id":1,"nick":"n","did":1,"sv":1,"aud":[]}`, `{"id":1,"nick":"n","did":1,"sv":1,"iat":1,"exp":2}`,
		`{"id":1,"nick":"n","did":1,"sv":1,"id":2}`, `{"id":1,"nick":"n\u0041","did":1,"sv":1}`,
		`{"id":1,"nick":null,"did":1,"sv":1}`, `{"id":1, "nick":"n","did":1,"sv":1}`,
	} {
		if w, ok := parseWire(s); ok {
			t.Errorf("parseWire(%s) = %+v, want a refusal", s, w)
		}
	}
}

// FuzzWireJSON holds AppendJSON to encoding/json and parseWire to reading
// back exactly what was written, for any field values.
func FuzzWireJSON(f *testing.F) {
	for _, w := range append(append([]Wire{}, wires...), escapedWires...) {
		var exp int64
		if w.ExpiresAt != nil {
			exp = *w.ExpiresAt
		}
		f.Add(w.UserID, w.Nick, w.DomainID, int64(w.SecretVersion), w.Issuer, "aud", exp, w.ID, uint8(7))
	}
	f.Fuzz(func(t *testing.T, id uint64, nick string, did uint64, sv int64, iss, aud string, exp int64, jti string, set uint8) {
		w := Wire{UserID: id, Nick: nick, DomainID: did, SecretVersion: int(sv), Issuer: iss, ID: jti}
		if set&1 != 0 {
			w.Audience = []string{aud, nick}
		}
		if set&2 != 0 {
			w.ExpiresAt, w.IssuedAt = &exp, ptr(exp/2)
		}
		if set&4 != 0 {
			w.NotBefore, w.Subject = ptr(-exp), aud
		}
		want, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		b := w.AppendJSON(nil)
		if string(b) != string(want) {
			t.Fatalf("AppendJSON = %s\nencoding/json writes %s", b, want)
		}
		got, ok := parseWire(string(b))
		if !ok {
			return // escapes: encoding/json reads it
		}
		var lib Wire
		if err := json.Unmarshal(b, &lib); err != nil || !reflect.DeepEqual(got, lib) {
			t.Fatalf("parseWire(%s) = %+v; encoding/json reads %+v, %v", b, got, lib, err)
		}
	})
}

// FuzzParseWire: whatever parseWire accepts, encoding/json reads the same.
func FuzzParseWire(f *testing.F) {
	for _, w := range append(append([]Wire{}, wires...), escapedWires...) {
		f.Add(w.AppendJSON(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := parseWire(string(b))
		if !ok {
			return
		}
		var lib Wire
		if err := json.Unmarshal(b, &lib); err != nil || !reflect.DeepEqual(got, lib) {
			t.Fatalf("parseWire(%q) = %+v; encoding/json reads %+v, %v", b, got, lib, err)
		}
	})
}
