// Package token issues and verifies the API's JWTs: HS256 only, with the
// seed's claims id and nick, issuer, expiry, and the domain's secret version
// so that rotating or revoking a secret retires the tokens issued under it.
// golang-jwt signs and verifies every token.
package token

import (
	"crypto/rand"
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

// Manager signs and verifies tokens with one key and issuer.
type Manager struct {
	key    []byte
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
	return &Manager{
		key: key, issuer: issuer, ttl: ttl, now: now,
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
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(m.key)
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

func (m *Manager) keyFunc(t *jwt.Token) (any, error) {
	// The parser already pinned HS256; this guards against a misconfiguration.
	if t.Method != jwt.SigningMethodHS256 {
		return nil, ErrInvalid
	}
	return m.key, nil
}
