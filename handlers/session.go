package handlers

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/gob"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/models"
)

const (
	sessionCookie = "nodebird_session"
	ctxSession    = "web.session"
	csrfField     = "_csrf"

	keyUser    = "uid"
	keyVersion = "sv"
	keyCSRF    = "csrf"
	keyStarted = "started"
	// keyMadeWith names the session key a cookie was made with
	// (sessionKeyID), so that one made with SESSION_SECRET_PREVIOUS is
	// made again with the current key.
	keyMadeWith = "key"

	// keyReveal holds a secret to show once, on the page a POST redirects
	// to; keyRevealed, once shown, its host, so that the next dashboard
	// says it will not be shown again.
	keyReveal   = "reveal"
	keyRevealed = "revealed"
)

func init() {
	// A stable name: the session cookie must not depend on the Go type's path.
	gob.RegisterName("nodebird.reveal", shownSecret{})
}

// sessionKeyID names a session secret in the cookies made with it: a
// digest, never the secret.
func sessionKeyID(secret []byte) string {
	return base64.RawURLEncoding.EncodeToString(derive(secret, "session-key-id")[:9])
}

// sessionState is the request's view of the portal session.
type sessionState struct {
	s     *sessions.Session
	user  *models.User
	admin bool
	dirty bool
}

func webSession(c echo.Context) *sessionState {
	ws, _ := c.Get(ctxSession).(*sessionState)
	return ws
}

func (ws *sessionState) csrf() string {
	v, _ := ws.s.Values[keyCSRF].(string)
	return v
}

func (ws *sessionState) flashes() []string {
	var out []string
	for _, f := range ws.s.Flashes() {
		if s, ok := f.(string); ok {
			out = append(out, s)
		}
	}
	if len(out) > 0 {
		ws.dirty = true
	}
	return out
}

// flash queues a message key for the next page.
func (ws *sessionState) flash(key string) {
	ws.s.AddFlash(key)
	ws.dirty = true
}

// reveal holds s for the next page: the one the POST that made it
// redirects to. The session cookie is encrypted (App.sessions), and the
// secret stays in it only until that page is shown.
func (ws *sessionState) reveal(s shownSecret) {
	delete(ws.s.Values, keyRevealed)
	ws.s.Values[keyReveal] = s
	ws.dirty = true
}

// takeReveal returns the secret waiting to be shown, once, and leaves in
// its place a note that it was shown (nil when none waits). When no
// secret waits, gone is the host of the one shown before, once too: a
// reload of that page says the secret will not be shown again.
func (ws *sessionState) takeReveal() (shown *shownSecret, gone *shownSecret) {
	if s, ok := ws.s.Values[keyReveal].(shownSecret); ok {
		delete(ws.s.Values, keyReveal)
		ws.s.Values[keyRevealed] = shownSecret{Host: s.Host, Rotated: s.Rotated}
		ws.dirty = true
		return &s, nil
	}
	if s, ok := ws.s.Values[keyRevealed].(shownSecret); ok {
		delete(ws.s.Values, keyRevealed)
		ws.dirty = true
		return nil, &s
	}
	return nil, nil
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// withSession loads the portal session, signs the user in when the cookie
// is current, and refuses unsafe requests without the session's CSRF token.
// The cookie is written just before the response, when something changed.
func (a *App) withSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ws, err := a.loadSession(c)
		if err != nil {
			return err
		}
		req := c.Request()
		switch req.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if err := parseForm(req); err != nil {
				return err
			}
			if req.MultipartForm != nil {
				defer req.MultipartForm.RemoveAll()
			}
			// The token is read from the body only: a token in the URL
			// leaks through logs, history and Referer.
			sent := req.PostForm.Get(csrfField)
			if sent == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(ws.csrf())) != 1 {
				return echo.NewHTTPError(http.StatusForbidden, "err.csrf")
			}
		}
		return next(c)
	}
}

// parseForm reads the form in the body of an unsafe request (urlencoded or
// multipart) into req.PostForm and req.Form, once, for the CSRF check and
// then the handler's FormValue. A body over BODY_LIMIT is 413 however it
// came: BodyLimit refuses a Content-Length over the limit before reading,
// but a chunked body has none, and its read fails here. Whatever the
// parsing left unread (the bytes after multipart's closing boundary, a body
// of another type) is read too, which BodyLimit bounds, so that the limit
// holds for the whole body. Any other fault in the body leaves the form as
// parsed so far, as FormValue would: a body without a readable token is 403.
func parseForm(req *http.Request) error {
	var err error
	if mt, _, _ := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType)); mt == echo.MIMEMultipartForm {
		err = req.ParseMultipartForm(maxFormMemory)
	} else {
		err = req.ParseForm()
	}
	if !bodyTooLarge(err) {
		_, err = io.Copy(io.Discard, req.Body)
	}
	if bodyTooLarge(err) {
		return echo.ErrStatusRequestEntityTooLarge
	}
	return nil
}

// bodyTooLarge reports whether err comes from reading past BODY_LIMIT
// (Echo's BodyLimit reader, or http.MaxBytesReader), or is multipart's own
// refusal of a form with too many parts or too large values.
func bodyTooLarge(err error) bool {
	var tooBig *http.MaxBytesError
	return err != nil && (errors.Is(err, echo.ErrStatusRequestEntityTooLarge) || errors.As(err, &tooBig) ||
		errors.Is(err, multipart.ErrMessageTooLarge))
}

// loadSession reads the session cookie into the request's context (once).
func (a *App) loadSession(c echo.Context) (*sessionState, error) {
	if ws := webSession(c); ws != nil {
		return ws, nil
	}
	req := c.Request()
	s, err := a.sessions.Get(req, sessionCookie)
	if err != nil { // tampered, expired or from an old key: start afresh
		s, _ = a.sessions.New(req, sessionCookie)
		s.IsNew = true
	}
	ws := &sessionState{s: s}
	c.Set(ctxSession, ws)
	if ws.csrf() == "" {
		s.Values[keyCSRF] = randomToken()
		ws.dirty = true
	}
	if !s.IsNew && len(a.config.SessionSecretPrevious) > 0 && s.Values[keyMadeWith] != a.sessionKey {
		ws.dirty = true // made with the previous key (or before cookies named theirs): made again
	}
	c.Response().Before(func() {
		if ws.dirty {
			s.Values[keyMadeWith] = a.sessionKey
			s.Options.Secure = a.config.Production() || c.IsTLS()
			if err := s.Save(req, c.Response().Writer); err != nil {
				a.log.Error("saving session", "err", err)
			}
		}
	})

	uid, ok := s.Values[keyUser].(uint64)
	if !ok {
		return ws, nil
	}
	started, _ := s.Values[keyStarted].(int64)
	if time.Since(time.Unix(started, 0)) > a.config.SessionTTL {
		ws.signOut()
		return ws, nil
	}
	u, err := a.users.Get(req.Context(), uid)
	switch {
	case errors.Is(err, models.ErrNoRecord):
		ws.signOut()
	case err != nil:
		return ws, err
	case s.Values[keyVersion] != u.SessionVersion:
		ws.signOut() // logged out since: the cookie is a replay
	case u.Suspended():
		ws.signOut() // suspending ends the sessions (session_version); this holds whatever changed it
	default:
		ws.user = u
		ws.admin = a.isAdmin(u)
	}
	return ws, nil
}

// signIn starts a fresh session for u (new CSRF token, no old values: no fixation).
func (ws *sessionState) signIn(u *models.User, admin bool) {
	for k := range ws.s.Values {
		delete(ws.s.Values, k)
	}
	ws.s.Values[keyUser] = u.ID
	ws.s.Values[keyVersion] = u.SessionVersion
	ws.s.Values[keyStarted] = time.Now().Unix()
	ws.s.Values[keyCSRF] = randomToken()
	ws.user, ws.admin, ws.dirty = u, admin, true
}

func (ws *sessionState) signOut() {
	for k := range ws.s.Values {
		delete(ws.s.Values, k)
	}
	ws.s.Values[keyCSRF] = randomToken()
	ws.user, ws.admin, ws.dirty = nil, false, true
}

// isAdmin: the stored role, or ADMIN_EMAILS (read at every request) for
// an account whose address is verified: anyone may sign up with a listed
// address, and only its owner can follow the link mailed to it.
func (a *App) isAdmin(u *models.User) bool {
	return u.IsAdmin || a.adminByEmail(u)
}

// adminByEmail: u's address is listed in ADMIN_EMAILS and verified.
func (a *App) adminByEmail(u *models.User) bool {
	return u.Verified() && slices.Contains(a.config.AdminEmails, u.Email)
}

// signedIn sends signed-out visitors to the login page (loginURL).
func (a *App) signedIn(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if webSession(c).user == nil {
			return a.redirect(c, loginURL(c))
		}
		return next(c)
	}
}

// adminOnly refuses everyone but admins (signed-out visitors go to log in).
func (a *App) adminOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ws := webSession(c)
		if ws.user == nil {
			return a.redirect(c, loginURL(c))
		}
		if !ws.admin {
			return echo.NewHTTPError(http.StatusForbidden, "err.forbidden")
		}
		return next(c)
	}
}
