package token

import (
	"math"
	"unicode/utf8"

	"github.com/nodebird/nodebird-api/internal/jsonenc"
)

// Wire's JSON without reflection: AppendFields writes what encoding/json
// writes for a Wire, and parseWire reads back exactly that shape. The
// tests hold both to encoding/json; parseWire refuses anything else (an
// escaped string, a float, another key order...) and its caller then asks
// encoding/json.

// AppendFields appends w's members, as encoding/json writes them but
// without the enclosing braces, so that a response can add its own.
func (w *Wire) AppendFields(dst []byte) []byte {
	dst = append(dst, `"id":`...)
	dst = jsonenc.Uint(dst, w.UserID)
	dst = append(dst, `,"nick":`...)
	dst = jsonenc.String(dst, w.Nick)
	dst = append(dst, `,"did":`...)
	dst = jsonenc.Uint(dst, w.DomainID)
	dst = append(dst, `,"sv":`...)
	dst = jsonenc.Int(dst, int64(w.SecretVersion))
	if w.Issuer != "" {
		dst = append(dst, `,"iss":`...)
		dst = jsonenc.String(dst, w.Issuer)
	}
	if w.Subject != "" {
		dst = append(dst, `,"sub":`...)
		dst = jsonenc.String(dst, w.Subject)
	}
	if len(w.Audience) > 0 {
		dst = append(dst, `,"aud":[`...)
		for i, a := range w.Audience {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonenc.String(dst, a)
		}
		dst = append(dst, ']')
	}
	dst = appendTime(dst, `,"exp":`, w.ExpiresAt)
	dst = appendTime(dst, `,"nbf":`, w.NotBefore)
	dst = appendTime(dst, `,"iat":`, w.IssuedAt)
	if w.ID != "" {
		dst = append(dst, `,"jti":`...)
		dst = jsonenc.String(dst, w.ID)
	}
	return dst
}

// AppendJSON appends w as the JSON object encoding/json writes.
func (w *Wire) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	return append(w.AppendFields(dst), '}')
}

func appendTime(dst []byte, key string, t *int64) []byte {
	if t == nil {
		return dst
	}
	return jsonenc.Int(append(dst, key...), *t)
}

// parseWire reads a payload of AppendJSON's exact shape; ok is false for
// anything else. The strings of w are parts of b.
func parseWire(b string) (w Wire, ok bool) {
	p := wireParser{b: b, ok: true}
	p.lit(`{"id":`)
	w.UserID = p.uint()
	p.lit(`,"nick":`)
	w.Nick = p.str()
	p.lit(`,"did":`)
	w.DomainID = p.uint()
	p.lit(`,"sv":`)
	w.SecretVersion = int(p.int())
	if p.next(`,"iss":`) {
		w.Issuer = p.str()
	}
	if p.next(`,"sub":`) {
		w.Subject = p.str()
	}
	if p.next(`,"aud":[`) {
		for w.Audience = []string{p.str()}; p.ok && p.next(","); {
			w.Audience = append(w.Audience, p.str())
		}
		p.lit("]")
	}
	times := new([3]int64) // the dates in one allocation
	w.ExpiresAt = p.time(`,"exp":`, &times[0])
	w.NotBefore = p.time(`,"nbf":`, &times[1])
	w.IssuedAt = p.time(`,"iat":`, &times[2])
	if p.next(`,"jti":`) {
		w.ID = p.str()
	}
	p.lit("}")
	return w, p.ok && p.i == len(b)
}

// wireParser reads b from i; after the first mismatch ok is false and
// every read returns a zero value.
type wireParser struct {
	b  string
	i  int
	ok bool
}

// next consumes s if the input continues with it.
func (p *wireParser) next(s string) bool {
	if p.ok && len(p.b)-p.i >= len(s) && p.b[p.i:p.i+len(s)] == s {
		p.i += len(s)
		return true
	}
	return false
}

// lit consumes s, which must come next.
func (p *wireParser) lit(s string) {
	if !p.next(s) {
		p.ok = false
	}
}

// str reads a string without escapes or control characters, in valid UTF-8:
// one that encoding/json reads as its bytes.
func (p *wireParser) str() string {
	if !p.next(`"`) {
		p.ok = false
		return ""
	}
	start := p.i
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if !utf8.ValidString(s) {
				p.ok = false
				return ""
			}
			return s
		case c == '\\' || c < 0x20:
			p.ok = false
			return ""
		}
	}
	p.ok = false
	return ""
}

// uint reads a non-negative integer in JSON's grammar (no leading zeros)
// that fits in a uint64.
func (p *wireParser) uint() uint64 {
	start := p.i
	var n uint64
	for ; p.ok && p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9'; p.i++ {
		d := uint64(p.b[p.i] - '0')
		if n > (math.MaxUint64-d)/10 {
			p.ok = false
			return 0
		}
		n = n*10 + d
	}
	if digits := p.i - start; digits == 0 || digits > 1 && p.b[start] == '0' {
		p.ok = false
		return 0
	}
	return n
}

// int reads an integer that fits in an int (without "-0").
func (p *wireParser) int() int64 {
	neg := p.next("-")
	n := p.uint()
	switch {
	case neg && (n == 0 || n > -math.MinInt):
		p.ok = false
		return 0
	case neg:
		return int64(-n) // two's complement: -n is the negative value
	case n > math.MaxInt:
		p.ok = false
		return 0
	}
	return int64(n)
}

// time reads an optional NumericDate member introduced by key into t.
func (p *wireParser) time(key string, t *int64) *int64 {
	if !p.next(key) {
		return nil
	}
	*t = p.int()
	return t
}
