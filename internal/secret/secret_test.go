package secret

import (
	"encoding/hex"
	"strings"
	"testing"
)

func TestNewIsWellFormedAndUnique(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		s := New()
		if !strings.HasPrefix(s, Prefix) || len(s) != Len {
			t.Fatalf("secret %q: want prefix %q and length %d", s, Prefix, Len)
		}
		if !WellFormed(s) {
			t.Fatalf("fresh secret %q fails its own checksum", s)
		}
		if seen[s] {
			t.Fatalf("duplicate secret after %d", i)
		}
		seen[s] = true
	}
}

func TestWellFormedRejectsTypos(t *testing.T) {
	s := New()
	flip := func(i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	cases := map[string]string{
		"empty":        "",
		"truncated":    s[:Len-1],
		"extra":        s + "a",
		"wrong prefix": "xyz_" + s[4:],
		"upper case":   strings.ToUpper(s),
		"typo in body": flip(10),
		"typo in sum":  flip(Len - 1),
		"bad alphabet": s[:10] + "1" + s[11:],
		"spaces":       " " + s[1:],
	}
	for name, in := range cases {
		if WellFormed(in) {
			t.Errorf("%s: %q accepted", name, in)
		}
	}
}

func TestHashIsStableHexAndHidesSecret(t *testing.T) {
	s := New()
	h := Hash(s)
	if h != Hash(s) || len(h) != 64 || strings.Contains(h, s[4:12]) {
		t.Fatalf("Hash(%q) = %q", s, h)
	}
	if Hash(New()) == h {
		t.Fatal("two secrets share a hash")
	}
	if Last4(s) != s[len(s)-4:] {
		t.Fatal("Last4")
	}
	if sum := Sum(s); hex.EncodeToString(sum[:]) != h {
		t.Fatalf("Sum(%q) = %x, Hash = %s", s, sum, h)
	}
}
