package handlers

import (
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/nodebird/nodebird-api/models"
)

// Forms are bound field by field from the request (never into a model),
// normalised, then validated into a map of field -> message key.

type joinForm struct {
	Email    string
	Nick     string
	Password string
}

func (f *joinForm) validate() map[string]string {
	errs := map[string]string{}
	f.Email = normalizeEmail(f.Email)
	if k := validateEmail(f.Email); k != "" {
		errs["email"] = k
	}
	if nick, k := nickField.clean(f.Nick); k != "" {
		errs["nick"] = k
	} else {
		f.Nick = nick
	}
	if k := passwordProblem(f.Password); k != "" {
		errs["password"] = k
	}
	return errs
}

// passwordProblem is the message key of what is wrong with a new
// password (8 to 72 bytes: bcrypt reads no further), or "".
func passwordProblem(pw string) string {
	switch n := len(pw); {
	case n == 0:
		return "form.password.required"
	case n < 8:
		return "form.password.short"
	case n > 72:
		return "form.password.long"
	}
	return ""
}

type loginForm struct {
	Email    string
	Password string
	// Next is the local path to go to once signed in ("" for the
	// dashboard), already checked by localPath.
	Next string
}

func (f *loginForm) validate() map[string]string {
	errs := map[string]string{}
	// Sign-up's rules: an address sign-up refuses names no account, and
	// taking it to the database would let its idea of equality decide.
	f.Email = normalizeEmail(f.Email)
	if k := validateEmail(f.Email); k != "" {
		errs["email"] = k
	}
	if f.Password == "" {
		errs["password"] = "form.password.required"
	} else if len(f.Password) > 72 {
		errs["password"] = "form.password.long"
	}
	return errs
}

type domainForm struct {
	Host  string
	Plan  string // the form field "type"
	Label string // optional
	// Pasted is the web address the host was taken from, when one was
	// pasted ("https://shop.example.com/path"): the page says so.
	Pasted string
}

func (f *domainForm) validate() map[string]string {
	errs := map[string]string{}
	if label, k := cleanLabel(f.Label); k != "" {
		errs["label"] = k
	} else {
		f.Label = label
	}
	host, key := NormalizeHost(f.Host)
	if key != "" {
		errs["host"] = key
	} else {
		if strings.Contains(f.Host, "://") {
			f.Pasted = strings.TrimSpace(f.Host)
		}
		f.Host = host
	}
	f.Plan = strings.ToLower(strings.TrimSpace(f.Plan))
	if f.Plan != models.PlanFree && f.Plan != models.PlanPremium {
		errs["type"] = "form.type.invalid"
	}
	return errs
}

func normalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func validateEmail(s string) string {
	if s == "" {
		return "form.email.required"
	}
	if len(s) > 254 || !utf8.ValidString(s) {
		return "form.email.invalid"
	}
	// Plain ASCII only: MySQL's default collations compare accented letters
	// as equal ("víctim" = "victim"), which would let two spellings reach one
	// account while the login limiter counts them apart.
	if !isASCII(s) {
		return "form.email.ascii"
	}
	if _, p := cleanText(s, len(s)); p != "" { // others see it too (text.go)
		return "form.email.invalid"
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "form.email.invalid"
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || !strings.Contains(s[at+1:], ".") {
		return "form.email.invalid"
	}
	return ""
}

// MaxHostLen is the longest host accepted, port included.
const MaxHostLen = 80

// NormalizeHost turns what a user typed into the canonical host of a site:
// lower-case, no trailing dot, IDN in punycode, with an optional port for
// local development ("localhost:4000"). A pasted web address
// ("https://shop.example.com/path?q") is reduced to its host and port
// (an origin's default port dropped, as a browser's Origin does). It
// refuses other schemes, user names in an address, paths after a bare host,
// spaces and anything that is not a host name or IPv4 address, returning
// the message key that says why.
func NormalizeHost(in string) (string, string) {
	s := strings.TrimSpace(in)
	if s == "" {
		return "", "form.host.required"
	}
	if len(s) > 4*MaxHostLen {
		return "", "form.host.long"
	}
	if strings.Contains(s, "://") {
		if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
			return "", "form.host.space"
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
			return "", "form.host.scheme"
		}
		if u.User != nil { // "https://user:pass@host": not something to register
			return "", "form.host.invalid"
		}
		s = u.Host
	}
	if strings.ContainsAny(s, "/?#\\") {
		return "", "form.host.path"
	}
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return "", "form.host.space"
	}
	s = strings.ToLower(s)
	name, port := s, ""
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		name, port = s[:i], s[i+1:]
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '0' || port[0] == '+' {
			return "", "form.host.port"
		}
		if port == "80" || port == "443" {
			port = "" // a browser's Origin never shows a default port
		}
	}
	name = strings.TrimSuffix(name, ".")
	if name == "" {
		return "", "form.host.invalid"
	}
	// Unicode names become punycode; names already in punycode must decode
	// to a valid name ("xn--a.com" does not). The punycode is checked once
	// more as punycode, so that what is stored is accepted as typed.
	if !isASCII(name) || strings.HasPrefix(name, "xn--") || strings.Contains(name, ".xn--") {
		a, err := idna.Lookup.ToASCII(name)
		if err != nil {
			return "", "form.host.invalid"
		}
		if b, err := idna.Lookup.ToASCII(a); err != nil || b != a {
			return "", "form.host.invalid"
		}
		name = a
	}
	if !validHostname(name) {
		return "", "form.host.invalid"
	}
	out := name
	if port != "" {
		out = net.JoinHostPort(name, port)
	}
	if len(out) > MaxHostLen {
		return "", "form.host.long"
	}
	return out, ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// validHostname accepts RFC 1123 names (letters, digits, hyphens; labels of
// 1-63 not starting or ending with a hyphen) and dotted IPv4 addresses.
func validHostname(s string) bool {
	if ip := net.ParseIP(s); ip != nil {
		return ip.To4() != nil && strings.Count(s, ".") == 3
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return false
			}
		}
	}
	// A name of digits and dots only that is not a valid IPv4 address is not a host.
	return strings.Trim(s, "0123456789.") != ""
}
