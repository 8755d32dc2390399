package token

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The fast path: Issue signs, and Verify first checks, tokens of one exact
// shape (the header below, the claims of Wire) with plain fields, JSON
// written and read without reflection (wire.go) and a pooled HMAC, instead
// of golang-jwt's header map, per-claim (un)marshalers and a new HMAC per
// token. Verify falls back to
// golang-jwt for anything else, so the library still decides every
// unusual or faulty token and names its fault.

// headerHS256 is the first segment of every token Issue makes (golang-jwt
// writes the same): base64url of {"alg":"HS256","typ":"JWT"}.
var headerHS256 = b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// b64 is base64url without padding, rejecting non-canonical encodings
// (as jwt.WithStrictDecoding does).
var b64 = base64.RawURLEncoding.Strict()

// sigLen is the length of an encoded HMAC-SHA256 signature.
var sigLen = b64.EncodedLen(sha256.Size)

// Wire is Claims as plain fields, in golang-jwt's order: what a token's
// payload holds, written and read in one pass (the jwt types have a
// marshaler of their own per claim).
type Wire struct {
	UserID        uint64   `json:"id"`
	Nick          string   `json:"nick"`
	DomainID      uint64   `json:"did"`
	SecretVersion int      `json:"sv"`
	Issuer        string   `json:"iss,omitempty"`
	Subject       string   `json:"sub,omitempty"`
	Audience      []string `json:"aud,omitempty"`
	ExpiresAt     *int64   `json:"exp,omitempty"`
	NotBefore     *int64   `json:"nbf,omitempty"`
	IssuedAt      *int64   `json:"iat,omitempty"`
	ID            string   `json:"jti,omitempty"`
}

// Wire returns c as plain fields.
func (c *Claims) Wire() Wire {
	var times *[3]int64 // one allocation for the three dates
	unix := func(i int, d *jwt.NumericDate) *int64 {
		if d == nil {
			return nil
		}
		if times == nil {
			times = new([3]int64)
		}
		times[i] = d.Unix()
		return &times[i]
	}
	return Wire{
		UserID: c.UserID, Nick: c.Nick, DomainID: c.DomainID, SecretVersion: c.SecretVersion,
		Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience, ID: c.ID,
		ExpiresAt: unix(0, c.ExpiresAt), NotBefore: unix(1, c.NotBefore), IssuedAt: unix(2, c.IssuedAt),
	}
}

// macState is a pooled HMAC-SHA256 under the manager's key, with room for
// the bytes it works on, so that signing and checking allocate nothing.
type macState struct {
	h   hash.Hash
	buf []byte // a token or its signing input
	sum [sha256.Size]byte
}

// mac returns the HMAC-SHA256 of a token's signing input (its first two
// segments with the dot between them), valid until s is put back.
func (s *macState) mac(input []byte) []byte {
	s.h.Reset()
	s.h.Write(input)
	return s.h.Sum(s.sum[:0])
}

// sign encodes and signs c (whose times are set).
func (m *Manager) sign(c *Claims) (string, error) {
	s := m.macs.Get().(*macState)
	defer m.macs.Put(s)
	w := c.Wire()
	var payload [512]byte // on the stack for any usual token
	s.buf = append(append(s.buf[:0], headerHS256...), '.')
	s.buf = b64.AppendEncode(s.buf, w.AppendJSON(payload[:0]))
	mac := s.mac(s.buf)
	s.buf = b64.AppendEncode(append(s.buf, '.'), mac)
	return string(s.buf), nil
}

// verifyFast answers only when sure: the claims of a flawless token of
// Issue's shape, or ErrInvalid for a wrong signature. For anything else it
// returns (nil, nil) and Verify asks golang-jwt.
func (m *Manager) verifyFast(tok string) (*Claims, error) {
	head, rest, _ := strings.Cut(tok, ".")
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || head != headerHS256 || len(sig) != sigLen {
		return nil, nil
	}
	s := m.macs.Get().(*macState)
	defer m.macs.Put(s)
	s.buf = append(s.buf[:0], tok...)
	input := s.buf[:len(head)+1+len(payload)]
	var got [sha256.Size]byte
	if n, err := b64.Decode(got[:], s.buf[len(input)+1:]); err != nil || n != sha256.Size {
		return nil, nil
	}
	if !hmac.Equal(s.mac(input), got[:]) {
		return nil, ErrInvalid
	}
	var buf [512]byte // on the stack for any usual token
	raw := buf[:0]
	if n := b64.DecodedLen(len(payload)); n > len(buf) {
		raw = make([]byte, 0, n)
	}
	raw, err := b64.AppendDecode(raw, input[len(head)+1:])
	if err != nil {
		return nil, nil
	}
	w, ok := parseWire(string(raw)) // one string: the claims' strings are parts of it
	if !ok {
		w, ok = unmarshalWire(raw)
	}
	if !ok || w.Issuer != m.issuer || w.ExpiresAt == nil || w.IssuedAt == nil {
		return nil, nil
	}
	// The checks of the parser's options, with golang-jwt's boundaries.
	now := m.now()
	exp, iat := time.Unix(*w.ExpiresAt, 0), time.Unix(*w.IssuedAt, 0)
	if !now.Before(exp.Add(Leeway)) || now.Before(iat.Add(-Leeway)) ||
		w.NotBefore != nil && now.Before(time.Unix(*w.NotBefore, 0).Add(-Leeway)) {
		return nil, nil
	}
	// The claims and their dates in one allocation.
	f := &struct {
		c             Claims
		exp, iat, nbf jwt.NumericDate
	}{
		c: Claims{
			UserID: w.UserID, Nick: w.Nick, DomainID: w.DomainID, SecretVersion: w.SecretVersion,
			RegisteredClaims: jwt.RegisteredClaims{Issuer: w.Issuer, Subject: w.Subject, Audience: w.Audience, ID: w.ID},
		},
		exp: jwt.NumericDate{Time: exp}, iat: jwt.NumericDate{Time: iat},
	}
	f.c.ExpiresAt, f.c.IssuedAt = &f.exp, &f.iat
	if w.NotBefore != nil {
		f.nbf = jwt.NumericDate{Time: time.Unix(*w.NotBefore, 0)}
		f.c.NotBefore = &f.nbf
	}
	if f.c.Validate() != nil {
		return nil, nil
	}
	return &f.c, nil
}

// unmarshalWire reads a payload parseWire does not take, with
// encoding/json. It copies raw first: handing verifyFast's buffer to
// encoding/json would move that buffer, and the claims, to the heap on
// every call, not just this rare one.
func unmarshalWire(raw []byte) (w Wire, ok bool) {
	return w, json.Unmarshal(bytes.Clone(raw), &w) == nil
}
