// Package token issues and verifies the API's JWTs: HS256 only, with the
// seed's claims id and nick, issuer, expiry, and the domain's secret version
// so that rotating or revoking a secret retires the tokens issued under it.
// golang-jwt signs and verifies every token.
//
// Keys rotate without an outage: a Manager signs with its current key and
// also accepts a previous one (Accepting); each token names its key in
// its kid header (KeyID, a digest, never the key), so the verifier picks
// the key without trying both, and refuses a kid it does not know.
package token

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	// ErrExpired: the token is genuine and its only fault is that it expired.
	ErrExpired = errors.New("token expired")
	// ErrInvalid: anything else (signature, algorithm, issuer, shape, claims).
	ErrInvalid = errors.New("invalid token")
)

// MaxLen bounds the size of a token the verifier will look at.
const MaxLen = 4096

// Leeway is the clock skew tolerated on exp, nbf and iat.
const Leeway = 2 * time.Second

// Claims are the token's claims. id and nick are the seed's; did and sv
// name the domain and its secret version.
type Claims struct {
	UserID        uint64 `json:"id"`
	Nick          string `json:"nick"`
	DomainID      uint64 `json:"did"`
	SecretVersion int    `json:"sv"`
	jwt.RegisteredClaims
}

var errMissingClaims = errors.New("token lacks id, did or sv")

// Validate is called by the parser after the standard checks.
func (c *Claims) Validate() error {
	if c.UserID == 0 || c.DomainID == 0 || c.SecretVersion == 0 || c.IssuedAt == nil {
		return errMissingClaims
	}
	return nil
}

var errDateNotNumber = errors.New("token has exp, nbf or iat as a JSON string")

// parsedClaims are Claims as Verify has golang-jwt read them: RFC 7519 makes
// exp, nbf and iat JSON numbers, but jwt.NumericDate also reads a string
// such as "1700000000", so a payload with one is refused here. (A method on
// Claims itself would also take over the decoding of any struct that
// embeds Claims.)
type parsedClaims struct{ Claims }

// UnmarshalJSON reads the payload into Claims in one pass, its exp, nbf and
// iat (as encoding/json matches the names) through numericDate.
func (p *parsedClaims) UnmarshalJSON(b []byte) error {
	var v struct {
		*Claims
		// At a shallower depth than RegisteredClaims' fields of the same
		// names, so these are the ones decoded.
		ExpiresAt numericDate `json:"exp"`
		NotBefore numericDate `json:"nbf"`
		IssuedAt  numericDate `json:"iat"`
	}
	v.Claims = &p.Claims
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	p.ExpiresAt, p.NotBefore, p.IssuedAt = v.ExpiresAt.d, v.NotBefore.d, v.IssuedAt.d
	return nil
}

// numericDate is a jwt.NumericDate that must be a JSON number (or null).
type numericDate struct{ d *jwt.NumericDate }

func (n *numericDate) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		n.d = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		return errDateNotNumber
	}
	n.d = new(jwt.NumericDate)
	return n.d.UnmarshalJSON(b)
}

// Manager signs tokens with one key and issuer, and verifies them with
// that key or a previous one.
type Manager struct {
	key []byte
	kid string
	// keys are the keys accepted, by KeyID: the current one and, with
	// Accepting, the previous one.
	keys   map[string][]byte
	issuer string
	ttl    time.Duration
	now    func() time.Time
	parser *jwt.Parser
}

// New returns a Manager. now may be nil (time.Now).
func New(key []byte, issuer string, ttl time.Duration, now func() time.Time) *Manager {
	if now == nil {
		now = time.Now
	}
	kid := KeyID(key)
	return &Manager{
		key: key, kid: kid, keys: map[string][]byte{kid: key}, issuer: issuer, ttl: ttl, now: now,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithIssuer(issuer),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(Leeway),
			jwt.WithTimeFunc(now),
			jwt.WithStrictDecoding(),
		),
	}
}

// KeyID names key in a token's kid header: the first 72 bits of
// HMAC-SHA256(key, "nodebird jwt kid"), base64url; the key cannot be found
// from it.
func KeyID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("nodebird jwt kid"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:9])
}

// Accepting makes m also accept tokens signed with previous (none when
// empty); m never signs with it. It returns m.
func (m *Manager) Accepting(previous []byte) *Manager {
	if len(previous) > 0 {
		m.keys[KeyID(previous)] = previous
	}
	return m
}

// TTL is the lifetime of issued tokens.
func (m *Manager) TTL() time.Duration { return m.ttl }

// Subject is what a token is issued for.
type Subject struct {
	UserID        uint64
	Nick          string
	DomainID      uint64
	SecretVersion int
	Host          string
	// NotAfter, unless zero, caps the token's expiry: a token issued under a
	// domain's previous secret expires no later than the overlap's end.
	NotAfter time.Time
}

// Issue signs a token for s.
func (m *Manager) Issue(s Subject) (string, *Claims, error) {
	now := m.now().Truncate(time.Second)
	exp := now.Add(m.ttl)
	if !s.NotAfter.IsZero() && s.NotAfter.Before(exp) {
		exp = s.NotAfter.Truncate(time.Second) // whole seconds, as every NumericDate here
		if exp.Before(now) {
			exp = now
		}
	}
	var jti [12]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", nil, err
	}
	c := &Claims{
		UserID: s.UserID, Nick: s.Nick, DomainID: s.DomainID, SecretVersion: s.SecretVersion,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    m.issuer,
			Subject:   strconv.FormatUint(s.UserID, 10),
			Audience:  jwt.ClaimStrings{s.Host},
			ID:        hex.EncodeToString(jti[:]),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	t.Header["kid"] = m.kid
	signed, err := t.SignedString(m.key)
	if err != nil {
		return "", nil, err
	}
	return signed, c, nil
}

// Verify checks a token's algorithm (HS256 only), signature, issuer, times
// and claims. It returns ErrExpired, with the token's claims, only when
// expiry is the token's sole fault, and (nil, ErrInvalid) for any other
// fault; a token that is empty or longer than MaxLen is not even read.
func (m *Manager) Verify(tok string) (*Claims, error) {
	if len(tok) == 0 || len(tok) > MaxLen {
		return nil, ErrInvalid
	}
	p := &parsedClaims{}
	_, err := m.parser.ParseWithClaims(tok, p, m.keyFunc)
	c := &p.Claims
	if err == nil {
		return c, nil
	}
	if errors.Is(err, jwt.ErrTokenExpired) && !errors.Is(err, jwt.ErrTokenSignatureInvalid) &&
		!errors.Is(err, jwt.ErrTokenNotValidYet) && !errors.Is(err, jwt.ErrTokenUsedBeforeIssued) &&
		!errors.Is(err, jwt.ErrTokenInvalidIssuer) && !errors.Is(err, jwt.ErrTokenRequiredClaimMissing) &&
		!errors.Is(err, errMissingClaims) && !errors.Is(err, jwt.ErrTokenMalformed) {
		return c, ErrExpired
	}
	return nil, ErrInvalid
}

// keyFunc picks the key a token names in its kid: the current key or the
// previous one, never both tried; an unknown kid is refused. A token
// without a kid (issued before tokens carried one) is checked with the
// current key only.
func (m *Manager) keyFunc(t *jwt.Token) (any, error) {
	// The parser already pinned HS256; this guards against a misconfiguration.
	if t.Method != jwt.SigningMethodHS256 {
		return nil, ErrInvalid
	}
	kid, named := t.Header["kid"]
	if !named {
		return m.key, nil
	}
	if s, ok := kid.(string); ok {
		if key, ok := m.keys[s]; ok {
			return key, nil
		}
	}
	return nil, ErrInvalid
}
