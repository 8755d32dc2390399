package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash"
	"io"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The fast path: Issue signs, and Verify first checks, tokens of one exact
// shape (the header below, the claims of Wire) with plain fields, JSON
// written and read without reflection (wire.go) and a pooled HMAC, instead of golang-jwt's header map,
// per-claim (un)marshalers and a new HMAC per token. Verify falls back to
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
	unix := func(d *jwt.NumericDate) *int64 {
		if d == nil {
			return nil
		}
		u := d.Unix()
		return &u
	}
	return Wire{
		UserID: c.UserID, Nick: c.Nick, DomainID: c.DomainID, SecretVersion: c.SecretVersion,
		Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience, ID: c.ID,
		ExpiresAt: unix(c.ExpiresAt), NotBefore: unix(c.NotBefore), IssuedAt: unix(c.IssuedAt),
	}
}

// mac appends the HMAC-SHA256 of a token's signing input (its first two
// segments with the dot between them) to dst.
func (m *Manager) mac(dst []byte, input string) []byte {
	h := m.macs.Get().(hash.Hash)
	h.Reset()
	io.WriteString(h, input)
	dst = h.Sum(dst)
	m.macs.Put(h)
	return dst
}

// sign encodes and signs c (whose times are set).
func (m *Manager) sign(c *Claims) (string, error) {
	w := c.Wire()
	var payload, enc [512]byte // on the stack for any usual token
	p := b64.AppendEncode(enc[:0], w.AppendJSON(payload[:0]))
	var b strings.Builder
	b.Grow(len(headerHS256) + 1 + len(p) + 1 + sigLen)
	b.WriteString(headerHS256)
	b.WriteByte('.')
	b.Write(p)
	var sig [sha256.Size]byte
	mac := m.mac(sig[:0], b.String())
	b.WriteByte('.')
	b.Write(b64.AppendEncode(payload[:0], mac))
	return b.String(), nil
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
	var got, want [sha256.Size]byte
	if n, err := b64.Decode(got[:], []byte(sig)); err != nil || n != sha256.Size {
		return nil, nil
	}
	if !hmac.Equal(m.mac(want[:0], tok[:len(head)+1+len(payload)]), got[:]) {
		return nil, ErrInvalid
	}
	raw, err := b64.DecodeString(payload)
	if err != nil {
		return nil, nil
	}
	w, ok := parseWire(raw)
	if !ok && json.Unmarshal(raw, &w) != nil || w.Issuer != m.issuer || w.ExpiresAt == nil || w.IssuedAt == nil {
		return nil, nil
	}
	// The checks of the parser's options, with golang-jwt's boundaries.
	now := m.now()
	exp, iat := time.Unix(*w.ExpiresAt, 0), time.Unix(*w.IssuedAt, 0)
	if !now.Before(exp.Add(Leeway)) || now.Before(iat.Add(-Leeway)) ||
		w.NotBefore != nil && now.Before(time.Unix(*w.NotBefore, 0).Add(-Leeway)) {
		return nil, nil
	}
	c := &Claims{
		UserID: w.UserID, Nick: w.Nick, DomainID: w.DomainID, SecretVersion: w.SecretVersion,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: w.Issuer, Subject: w.Subject, Audience: w.Audience, ID: w.ID,
			ExpiresAt: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(iat),
		},
	}
	if w.NotBefore != nil {
		c.NotBefore = jwt.NewNumericDate(time.Unix(*w.NotBefore, 0))
	}
	if c.Validate() != nil {
		return nil, nil
	}
	return c, nil
}
