package handlers

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/internal/access"
	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/internal/ratelimit"
	"github.com/nodebird/nodebird-api/internal/token"
)

// docsData is what the page for API users shows. Its examples are built
// from the request's own base URL, this server's settings and the API's
// own response types, so that they stay true to what the API answers.
type docsData struct {
	APIBase    string
	TTLSeconds int
	TTL        string // the token lifetime in words
	BodyLimit  string
	Limits     bool // rate limits are on
	FreeRPM    string
	PremiumRPM string
	VerifyRPM  string
	BadRPM     string
	// Shares: one client address may take 1/ShareN of each quota (at least
	// 1), FreeShare, PremiumShare and VerifyShare a minute.
	Shares                               bool
	ShareN                               int
	FreeShare, PremiumShare, VerifyShare string

	SampleToken string
	// JSON bodies, indented, in the page's language.
	TokenOK, Claims, ErrUnknown, ErrMissing, ErrInvalid, ErrExpired, ErrRateLimited, ErrOrigin string
	ErrExpiredKo                                                                               string
	// Header values of the 429 example: a free domain's client over its share.
	PolicyFree, RateFree, RetryFree string
	Statuses                        []docsStatus
	ErrorIDs                        []docsErrorID
	// Posts is a sample page of GET /v1/posts/my (the API's own type),
	// PostsNext its next cursor.
	Posts, PostsNext string
}

// samplePosts is the sample page /docs shows: made-up values in the API's
// own response type, in the form its answers take (a cursor of the real
// length, not a real one).
func samplePosts() (body, next string) {
	next = "AAAAAAAAACrZ2V0LXN0YXJ0ZWQtd2l0aA"[:32]
	at := jsTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	return indentJSON(postsResponse{Code: http.StatusOK, Next: &next, Payload: []postJSON{
		{ID: 42, Content: "#노드 #Go 공부 중", CreatedAt: at, UpdatedAt: at, UserID: 1, Hashtags: []string{"노드", "go"}},
	}}), next
}

// docsErrorID is one line of the table of error ids; its meaning is the
// catalogue's "docs.error.<id>".
type docsErrorID struct {
	ID     string
	Status int
}

// errorIDList is every error id the API can answer with, as /docs lists
// them (TestDocsListEveryErrorID checks it against the tables in api.go).
var errorIDList = []docsErrorID{
	{"bad_request", 400}, {"missing_secret", 400}, {"malformed_body", 400}, {"invalid_limit", 400}, {"invalid_cursor", 400},
	{"malformed_secret", 401}, {"unknown_secret", 401}, {"missing_token", 401}, {"invalid_token", 401}, {"domain_revoked", 401}, {"unauthorized", 401},
	{"origin_not_allowed", 403}, {"forbidden", 403},
	{"not_found", 404}, {"hashtag_not_found", 404}, {"method_not_allowed", 405}, {"gone", 410},
	{"body_too_large", 413}, {"unsupported_media_type", 415}, {"token_expired", 419}, {"rate_limited", 429},
	{"headers_too_large", 431}, {"internal_error", 500}, {"unavailable", 503},
}

// docsStatus is one line of the status code table.
type docsStatus struct {
	Code int
	When string // catalogue keys
	Do   string
}

// docs is the page for API users.
func (a *App) docs(c echo.Context) error {
	p := a.page(c)
	lang := p.Lang
	ttl := a.access.TokenTTL()
	ttlSecs := int(ttl.Seconds())
	issuer := a.config.JWTIssuer
	if issuer == "" {
		issuer = "nodebird"
	}

	// An example of the claims GET /v1/test answers with: the real type,
	// with made-up values (never a real, signed token).
	iat := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	claims := token.Claims{
		UserID: 1, Nick: "alice", DomainID: 7, SecretVersion: 2,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: issuer, Subject: "1", Audience: jwt.ClaimStrings{"localhost:4000"},
			ID: "3f1c9a0d5e7b2c4a6e8f0a1b", IssuedAt: jwt.NewNumericDate(iat),
			ExpiresAt: jwt.NewNumericDate(iat.Add(ttl)),
		},
	}
	claimsJSON := indentJSON(newClaimsResponse(i18n.T(lang, "api.token.valid"), &claims))
	compact, _ := json.Marshal(claims)
	// A shortened token: its real header, the start of its payload.
	sample := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + base64.RawURLEncoding.EncodeToString(compact)[:24] + "…"

	limits := a.access.Limits()
	free, premium := limits.TokenFree, limits.TokenPremium
	// shareOf is what one client address may take of p a minute (all of
	// it when no share applies).
	shareOf := func(p ratelimit.Policy) string {
		if s, ok := a.access.Share(p); ok {
			return thousands(s.Quota)
		}
		return thousands(p.Quota)
	}
	// The 429 example, written by the code that writes the API's fields: a
	// free domain's client over its share (or over the domain's quota when
	// there is no share), 42 seconds before its window ends.
	refused := ratelimit.Result{Limit: free.Quota, Remaining: 0, Reset: 42 * time.Second}
	example := []access.Limit{{Policy: free, Result: refused}}
	if freeShare, ok := a.access.Share(free); ok {
		refused.Limit = freeShare.Quota
		example = []access.Limit{
			{Policy: free, Result: ratelimit.Result{Allowed: true, Limit: free.Quota, Remaining: 3, Reset: 17 * time.Second}},
			{Policy: freeShare, Result: refused},
		}
	}
	// msg is the body err answers with, as the API writes it.
	msg := func(lang string, err error) string {
		status, key := statusOf(err)
		return indentJSON(newAPIErrorBody(lang, err, status, key))
	}
	refusal := func(r access.Reason) error { return &access.Error{Reason: r} }
	posts, next := samplePosts()
	p.Data = &docsData{
		Posts: posts, PostsNext: next,
		APIBase:    c.Scheme() + "://" + c.Request().Host,
		TTLSeconds: ttlSecs,
		TTL:        durationWords(lang, ttl),
		BodyLimit:  a.config.BodyLimit,
		Limits:     limits.On,
		FreeRPM:    thousands(free.Quota),
		PremiumRPM: thousands(premium.Quota),
		VerifyRPM:  thousands(limits.Verify.Quota),
		BadRPM:     thousands(limits.BadSecret.Quota),

		Shares:       limits.Shares > 1,
		ShareN:       limits.Shares,
		FreeShare:    shareOf(free),
		PremiumShare: shareOf(premium),
		VerifyShare:  shareOf(limits.Verify),

		SampleToken: sample,
		TokenOK: indentJSON(tokenResponse{Code: http.StatusOK, Message: i18n.T(lang, "api.token.issued"),
			Token: sample, ExpiresIn: ttlSecs}),
		Claims:         claimsJSON,
		ErrUnknown:     msg(lang, refusal(access.UnknownSecret)),
		ErrMissing:     msg(lang, apiError(http.StatusBadRequest, "api.secret.missing")),
		ErrInvalid:     msg(lang, refusal(access.InvalidToken)),
		ErrExpired:     msg(lang, refusal(access.Expired)),
		ErrExpiredKo:   msg("ko", refusal(access.Expired)),
		ErrRateLimited: msg(lang, refusal(access.RateLimited)),
		ErrOrigin:      msg(lang, refusal(access.WrongOrigin)),
		PolicyFree:     policyList(example),
		RateFree:       rateField(shownLimit(example)),
		RetryFree:      strconv.Itoa(access.Refusing(example).ResetSeconds()),
		Statuses: []docsStatus{
			{200, "docs.status.200.when", "docs.status.200.do"},
			{400, "docs.status.400.when", "docs.status.400.do"},
			{401, "docs.status.401.when", "docs.status.401.do"},
			{403, "docs.status.403.when", "docs.status.403.do"},
			{404, "docs.status.404.when", "docs.status.404.do"},
			{405, "docs.status.405.when", "docs.status.405.do"},
			{413, "docs.status.413.when", "docs.status.413.do"},
			{415, "docs.status.415.when", "docs.status.415.do"},
			{419, "docs.status.419.when", "docs.status.419.do"},
			{429, "docs.status.429.when", "docs.status.429.do"},
			{503, "docs.status.503.when", "docs.status.503.do"},
		},
		ErrorIDs: errorIDList,
	}
	return a.render(c, http.StatusOK, "docs", p)
}

func indentJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return ""
	}
	return string(b)
}

// durationWords says d in whole minutes or seconds, in lang.
func durationWords(lang string, d time.Duration) string {
	switch {
	case d >= time.Minute && d%time.Minute == 0:
		n := int(d / time.Minute)
		if n == 1 {
			return i18n.T(lang, "unit.minute")
		}
		return i18n.T(lang, "unit.minutes", n)
	default:
		n := int(d.Round(time.Second) / time.Second)
		if n == 1 {
			return i18n.T(lang, "unit.second")
		}
		return i18n.T(lang, "unit.seconds", n)
	}
}

// thousands writes n with a comma between groups of three digits (the
// separator English and Korean share).
func thousands(n int) string {
	if n < 0 {
		return "-" + thousands(-n)
	}
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
