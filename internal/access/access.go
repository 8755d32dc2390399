// Package access holds the API's token rules, apart from HTTP.
//
// Issuing: a client secret of an active domain, presented from the
// domain's own origin (or by a server, with no origin), within the quota of
// the domain's plan and the client's share of it, gets a signed token, and
// the domain's usage counts it. Checking: a genuine token whose domain was
// not rotated, revoked or deleted since, presented from the domain's own
// origin, within the verification quota and the client's share of it,
// opens the API.
//
// Shares: a secret embedded in a page and a token handed to a browser are
// public, so each client network (an IPv4 address, or an IPv6 /64) may take
// at most max(1, quota/Limits.Shares) of a domain's quota a window; one
// holder cannot spend it all and shut the domain's other clients out.
//
// Every refusal is an *Error with a Reason; the HTTP layer maps reasons to
// statuses and messages in one table.
package access

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"time"

	"github.com/nodebird/nodebird-api/internal/domaincache"
	"github.com/nodebird/nodebird-api/internal/ratelimit"
	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/internal/token"
	"github.com/nodebird/nodebird-api/internal/usage"
	"github.com/nodebird/nodebird-api/models"
)

// Reason says why a request was refused.
type Reason int

const (
	// UnknownSecret: unknown, rotated away, or of a deleted domain. The
	// three are not told apart (no oracle for guessing).
	UnknownSecret Reason = iota + 1
	// WrongOrigin: a browser on another origin than the domain's host.
	WrongOrigin
	// RateLimited: a quota or the client's share of it is spent;
	// Error.Limits say which and until when.
	RateLimited
	// MissingToken: no token was presented.
	MissingToken
	// InvalidToken: forged, malformed, of another issuer or algorithm, or
	// of a domain rotated or deleted since it was issued.
	InvalidToken
	// Expired: a genuine token whose only fault is its age.
	Expired
	// MalformedSecret: not a client secret at all (its form or checksum is
	// wrong: a typo, a truncated copy, another key); no lookup is made.
	// Telling it from UnknownSecret tells nothing a guesser does not know:
	// the form and checksum are public.
	MalformedSecret
	// Unavailable: the database could not answer; try again.
	Unavailable
	// DomainRevoked: a secret of a domain an administrator revoked, or a genuine token of such a domain (an expired one too:
	// renewing would not help). Only a caller that holds the secret or a
	// token signed by this server learns it: a guesser learns nothing.
	DomainRevoked
)

var reasonNames = [...]string{
	UnknownSecret: "unknown secret", WrongOrigin: "wrong origin", RateLimited: "rate limited",
	MissingToken: "missing token", InvalidToken: "invalid token", Expired: "token expired",
	MalformedSecret: "malformed secret", Unavailable: "unavailable", DomainRevoked: "domain revoked",
}

func (r Reason) String() string {
	if r > 0 && int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}

// Error is a refusal.
type Error struct {
	Reason Reason
	// Limits are the limits the request was counted against, if any: for
	// RateLimited the domain's quota and the client's share of it (Refusing
	// says which refused) or the bad-secret count, for UnknownSecret the
	// bad-secret count.
	Limits []Limit
	// Err is the cause, for Unavailable.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return "access: " + e.Reason.String() + ": " + e.Err.Error()
	}
	return "access: " + e.Reason.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ReasonOf is err's Reason, or 0 when err is not an *Error.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return 0
}

// Limit is one limit's policy and where the request left its count. Its
// Allowed says whether this limit had room: a request counted against a
// domain's quota and the client's share passed only when both had.
type Limit struct {
	Policy ratelimit.Policy
	ratelimit.Result
}

// Refusing is the limit among ls that refused the request (the one with
// the longest wait when both a domain's quota and the client's share did),
// or nil when none did.
func Refusing(ls []Limit) *Limit {
	var r *Limit
	for i := range ls {
		if !ls[i].Allowed && (r == nil || ls[i].Reset > r.Reset) {
			r = &ls[i]
		}
	}
	return r
}

// Client is who presents a secret or token.
type Client struct {
	// Browser: the request carries an Origin header.
	Browser bool
	// OriginHost is the Origin's host[:port], normalised as registered
	// hosts are; "" when the Origin is not a plain http(s) origin.
	OriginHost string
	// Network is the client's network, the key of its shares and of its
	// bad-secret count: an IPv4 address (/32), or an IPv6 /64 (one
	// subscriber's allocation). Clients whose address is unknown (the zero
	// Prefix) share one count. Unused when limits are off.
	Network netip.Prefix
}

// Limits are the API's quotas. With On false nothing is counted.
type Limits struct {
	On bool
	// TokenFree and TokenPremium: tokens a domain may get, by plan.
	TokenFree, TokenPremium ratelimit.Policy
	// Verify: verifications a domain's tokens may get.
	Verify ratelimit.Policy
	// Shares: one client network may take at most max(1, q/Shares) of each
	// of the quotas above (q), in a policy named after the quota with
	// "-client" appended. 1 or less: no share, a client may take it all.
	Shares int
	// BadSecret: unknown or malformed secrets a client network may send
	// before it is refused without a lookup.
	BadSecret ratelimit.Policy
	// MaxKeys bounds the keys each limiter holds (in memory).
	MaxKeys int
	// Store, when set, is the Redis the limits are counted in, shared by
	// every instance (in memory while it does not answer); nil counts in
	// memory.
	Store *ratelimit.Store
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// quotaKey names one domain's token or verification count: no string to
// build per request.
type quotaKey struct {
	verify bool
	domain uint64
}

// redisKey names the count in Redis: t:42 (tokens), v:42 (verifications).
func (k quotaKey) redisKey() string {
	if k.verify {
		return "v:" + strconv.FormatUint(k.domain, 10)
	}
	return "t:" + strconv.FormatUint(k.domain, 10)
}

// shareKey names one client network's count under a domain's quota.
type shareKey struct {
	quotaKey
	network netip.Prefix
}

// redisKey names the count in Redis: t:42|198.51.100.7/32.
func (k shareKey) redisKey() string { return k.quotaKey.redisKey() + "|" + k.network.String() }

// quota is a domain's quota and the share of it one client network may
// take (share.Quota is 0 when no share applies).
type quota struct{ domain, share ratelimit.Policy }

// Service applies the token rules. It is safe for concurrent use.
type Service struct {
	domains *domaincache.Cache
	tokens  *token.Manager
	usage   *usage.Counter
	limits  Limits
	// tokenFree, tokenPremium and verify are the quotas with their shares.
	tokenFree, tokenPremium, verify quota
	// Each kind of key has its own table, so that flooding one (many
	// client networks) cannot evict another (a domain's count).
	quotas  ratelimit.Limiter[quotaKey]
	shares  ratelimit.Limiter[shareKey]
	guesses ratelimit.Limiter[netip.Prefix]
}

// New returns a Service over the domain view, the token signer and the
// usage counter.
func New(domains *domaincache.Cache, tokens *token.Manager, counter *usage.Counter, limits Limits) *Service {
	s := &Service{
		domains: domains, tokens: tokens, usage: counter, limits: limits,
		quotas:  ratelimit.Table(limits.Store, "quota", quotaKey.redisKey, limits.MaxKeys, limits.Now),
		shares:  ratelimit.Table(limits.Store, "share", shareKey.redisKey, limits.MaxKeys, limits.Now),
		guesses: ratelimit.Table(limits.Store, "bad-secret", netip.Prefix.String, limits.MaxKeys, limits.Now),
	}
	for _, q := range []struct {
		into *quota
		p    ratelimit.Policy
	}{{&s.tokenFree, limits.TokenFree}, {&s.tokenPremium, limits.TokenPremium}, {&s.verify, limits.Verify}} {
		q.into.domain = q.p
		q.into.share, _ = s.Share(q.p)
	}
	return s
}

// Share is the share of the domain quota p that one client network may
// take: max(1, p.Quota/Shares) in p's window, named after p with "-client"
// appended; false when no share applies (Shares is 1 or less, or the share
// would be the whole quota).
func (s *Service) Share(p ratelimit.Policy) (ratelimit.Policy, bool) {
	if s.limits.Shares <= 1 {
		return ratelimit.Policy{}, false
	}
	n := max(1, p.Quota/s.limits.Shares)
	if n >= p.Quota {
		return ratelimit.Policy{}, false
	}
	return ratelimit.Policy{Name: p.Name + "-client", Quota: n, Window: p.Window}, true
}

// TokenTTL is the lifetime of the tokens Issue makes.
func (s *Service) TokenTTL() time.Duration { return s.tokens.TTL() }

// Issued is a token Issue made.
type Issued struct {
	Token  string
	Claims *token.Claims
	Plan   string
	// Limits are the plan's quota and the client's share of it after this
	// token (none with limits off).
	Limits []Limit
}

// Issue exchanges a client secret for a token.
//
// Its limits take one round trip when they are counted in Redis and the
// secret is malformed or in the domain view; a secret the view does not
// hold takes two, as the bad-secret count is checked before the database
// is asked.
func (s *Service) Issue(ctx context.Context, clientSecret string, cl Client) (*Issued, error) {
	if !secret.WellFormed(clientSecret) { // a typo or a guess: no lookup
		return nil, s.guessed(cl, MalformedSecret)
	}
	sum := secret.Sum(clientSecret)
	d, inView := s.domains.Cached(sum)
	if !inView {
		if lim := s.guessing(cl); lim != nil { // too many bad secrets: no lookup at all
			return nil, &Error{Reason: RateLimited, Limits: lim}
		}
		var err error
		switch d, err = s.domains.Lookup(ctx, sum); {
		case errors.Is(err, models.ErrNoRecord):
			return nil, s.guessed(cl, UnknownSecret)
		case err != nil: // the database cannot tell: never a misleading UnknownSecret
			return nil, &Error{Reason: Unavailable, Err: err}
		}
	}
	if !d.Active {
		reason := UnknownSecret
		if d.Revoked { // the caller holds this domain's secret: tell it why
			reason = DomainRevoked
		}
		err := s.guessed(cl, reason)
		if ReasonOf(err) == reason {
			s.usage.Refused(d.ID)
		}
		return nil, err
	}
	if cl.Browser && cl.OriginHost != d.Host {
		// A client past its bad secrets learns nothing of this one.
		if lim := s.guessing(cl); lim != nil {
			return nil, &Error{Reason: RateLimited, Limits: lim}
		}
		s.usage.Refused(d.ID)
		return nil, &Error{Reason: WrongOrigin}
	}
	// With Redis the usage count is made by the limits' script (tally):
	// no round trip of its own.
	tally := s.usage.Tally(d.ID)
	lim, ok, guessing := s.takeToken(quotaKey{domain: d.ID}, s.tokenQuota(d.Plan), cl.Network, tally)
	tallied := tally != nil && tally.Done
	if !ok {
		if !guessing && !tallied {
			s.usage.Refused(d.ID)
		}
		return nil, &Error{Reason: RateLimited, Limits: lim}
	}
	tok, claims, err := s.tokens.Issue(token.Subject{
		UserID: d.UserID, Nick: d.Nick, DomainID: d.ID, SecretVersion: d.SecretVersion, Host: d.Host,
		NotAfter: d.Until, // a previous secret's tokens end with its overlap
	})
	if err != nil {
		return nil, err
	}
	if !tallied { // a tally counted it as issued already (a signing error, which is a bug, would be counted too)
		s.usage.Issued(d.ID)
	}
	return &Issued{Token: tok, Claims: claims, Plan: d.Plan, Limits: lim}, nil
}

func (s *Service) tokenQuota(plan string) quota {
	if plan == models.PlanPremium {
		return s.tokenPremium
	}
	return s.tokenFree
}

// Checked is a token Check accepted.
type Checked struct {
	Claims *token.Claims
	// Limits are the verification quota and the client's share of it after
	// this check (none with limits off).
	Limits []Limit
}

// Check tells whether a token still opens the API. Expired only when the
// token is genuine, its domain stands, it comes from the right origin, and
// its age is its only fault: a client then knows to get a new one.
func (s *Service) Check(ctx context.Context, raw string, cl Client) (*Checked, error) {
	if raw == "" {
		return nil, &Error{Reason: MissingToken}
	}
	claims, err := s.tokens.Verify(raw)
	if err != nil && !errors.Is(err, token.ErrExpired) {
		return nil, &Error{Reason: InvalidToken}
	}
	// A domain this instance has not seen yet (created on another one since
	// the last refresh) is accepted: the signature proves it existed. While
	// the view is loading, the database is asked instead.
	switch v, err := s.domains.Verify(ctx, claims.DomainID, claims.SecretVersion); {
	case err != nil:
		return nil, &Error{Reason: Unavailable, Err: err}
	case v == domaincache.Retired:
		return nil, &Error{Reason: InvalidToken}
	case v == domaincache.Revoked:
		return nil, &Error{Reason: DomainRevoked}
	}
	if cl.Browser && cl.OriginHost != Host(claims) {
		return nil, &Error{Reason: WrongOrigin}
	}
	if err != nil {
		return nil, &Error{Reason: Expired}
	}
	lim, ok := s.take(quotaKey{verify: true, domain: claims.DomainID}, s.verify, cl.Network)
	if !ok {
		return nil, &Error{Reason: RateLimited, Limits: lim}
	}
	return &Checked{Claims: claims, Limits: lim}, nil
}

// Host is the registered host a token was issued for (its audience).
func Host(c *token.Claims) string {
	if len(c.Audience) == 0 {
		return ""
	}
	return c.Audience[0]
}

// take counts one request against the domain's quota q for key and the
// network's share of it, at once: counted in both when both have room, in
// neither when either is spent (a client refused at its share spends
// nothing of the domain's quota, and a request the domain refuses nothing
// of the client's share). The limits come back domain first.
func (s *Service) take(key quotaKey, q quota, network netip.Prefix) ([]Limit, bool) {
	if !s.limits.On {
		return nil, true
	}
	if q.share.Quota == 0 {
		r := s.quotas.Allow(key, q.domain.Quota, q.domain.Window)
		return []Limit{{Policy: q.domain, Result: r}}, r.Allowed
	}
	rd, rs := ratelimit.AllowBoth(s.quotas, key, q.domain.Quota,
		s.shares, shareKey{quotaKey: key, network: network}, q.share.Quota, q.domain.Window)
	return []Limit{{Policy: q.domain, Result: rd}, {Policy: q.share, Result: rs}}, rd.Allowed && rs.Allowed
}

// takeToken is take for a token: counted only while the client network
// has not spent its bad secrets (guessing and the bad-secret limit
// otherwise), in one step (one round trip in Redis).
//
// tally (nil for none) is made with the limits when they count in Redis.
func (s *Service) takeToken(key quotaKey, q quota, network netip.Prefix, tally *ratelimit.Tally) (lim []Limit, ok, guessing bool) {
	if !s.limits.On {
		return nil, true, false
	}
	bad := s.limits.BadSecret
	g := ratelimit.Gate[netip.Prefix]{L: s.guesses, Key: network, Limit: bad.Quota, Per: bad.Window}
	var rg ratelimit.Result
	if q.share.Quota == 0 {
		var r ratelimit.Result
		if rg, r = ratelimit.AllowGated(g, s.quotas, key, q.domain.Quota, q.domain.Window, tally); rg.Allowed {
			return []Limit{{Policy: q.domain, Result: r}}, r.Allowed, false
		}
	} else {
		var rd, rs ratelimit.Result
		rg, rd, rs = ratelimit.AllowBothGated(g, s.quotas, key, q.domain.Quota,
			s.shares, shareKey{quotaKey: key, network: network}, q.share.Quota, q.domain.Window, tally)
		if rg.Allowed {
			return []Limit{{Policy: q.domain, Result: rd}, {Policy: q.share, Result: rs}}, rd.Allowed && rs.Allowed, false
		}
	}
	return []Limit{{Policy: bad, Result: rg}}, false, true
}

// guessing is the bad-secret limit when this client network has spent it
// (it is checked before any lookup, so that guessing stays slow), else nil.
func (s *Service) guessing(cl Client) []Limit {
	if !s.limits.On {
		return nil
	}
	p := s.limits.BadSecret
	if r := s.guesses.Peek(cl.Network, p.Quota, p.Window); !r.Allowed {
		return []Limit{{Policy: p, Result: r}}
	}
	return nil
}

// guessed counts an unknown, malformed or retired secret against the
// client network: reason (UnknownSecret, MalformedSecret) with the count, or RateLimited when the
// network had spent its bad secrets (then nothing is counted: Allow
// refuses exactly when Peek would).
func (s *Service) guessed(cl Client, reason Reason) error {
	if !s.limits.On {
		return &Error{Reason: reason}
	}
	p := s.limits.BadSecret
	r := s.guesses.Allow(cl.Network, p.Quota, p.Window)
	lim := []Limit{{Policy: p, Result: r}}
	if !r.Allowed {
		return &Error{Reason: RateLimited, Limits: lim}
	}
	return &Error{Reason: reason, Limits: lim}
}

// Limits are the quotas the service applies.
func (s *Service) Limits() Limits { return s.limits }
