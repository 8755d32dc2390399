package jsonenc

import (
	"encoding/json"
	"testing"
)

var samples = []string{
	"", "nodebird", "제로초", "토큰이 만료되었습니다", `q"uote`, `back\slash`, "<script>", "a&b", "tab\there",
	"nl\n", "\x00\x1f", "\x7f", "bad \xff utf8", "\xe2\x80", "line\u2028sep\u2029", "emoji 🐦", "é",
}

func TestStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range samples {
		want, _ := json.Marshal(s)
		if got := String([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("String(%q) = %s, encoding/json writes %s", s, got[1:], want)
		}
	}
}

func TestPlain(t *testing.T) {
	for s, want := range map[string]bool{
		"": true, "nbk_ABC234": true, "<a & b>": true, " ~": true,
		`q"`: false, `b\`: false, "tab\t": false, "\x7f": false, "é": false, "\xff": false,
	} {
		if Plain(s) != want {
			t.Errorf("Plain(%q) = %v, want %v", s, !want, want)
		}
		if want {
			var back string
			if err := json.Unmarshal(append(append([]byte{'"'}, s...), '"'), &back); err != nil || back != s {
				t.Errorf("%q between quotes reads back as %q, %v", s, back, err)
			}
		}
	}
}

func TestNumbers(t *testing.T) {
	for _, n := range []int64{0, 1, -1, 60, 1<<63 - 1, -1 << 63} {
		want, _ := json.Marshal(n)
		if got := Int(nil, n); string(got) != string(want) {
			t.Errorf("Int(%d) = %s, want %s", n, got, want)
		}
	}
	for _, n := range []uint64{0, 7, 1<<64 - 1} {
		want, _ := json.Marshal(n)
		if got := Uint(nil, n); string(got) != string(want) {
			t.Errorf("Uint(%d) = %s, want %s", n, got, want)
		}
	}
}

func FuzzString(f *testing.F) {
	for _, s := range samples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := String(nil, s); string(got) != string(want) {
			t.Fatalf("String(%q) = %s, encoding/json writes %s", s, got, want)
		}
	})
}

func BenchmarkString(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = String(buf[:0], "The token is valid")
	}
}

func BenchmarkStringToken(b *testing.B) {
	tok := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6MSwibmljayI6ImxvYWQwIiwiZGlkIjoxLCJzdiI6MSwiaXNzIjoibm9kZWJpcmQiLCJzdWIiOiIxIiwiYXVkIjpbInNpdGUwLmxvYWQudGVzdCJdLCJleHAiOjE3OTU4ODczNTAsImlhdCI6MTc5NTgwMDk1MCwianRpIjoiYjkwZjkyMjdmMzVlOGUzMGVmOGQzY2ZjIn0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl"
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = String(buf[:0], tok)
	}
}
