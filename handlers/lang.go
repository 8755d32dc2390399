package handlers

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/internal/i18n"
)

const langCookie = "lang"

// lang is the language chosen by the user (remembered in a cookie), else
// the one Accept-Language prefers.
func (a *App) lang(c echo.Context) string {
	if ck, err := c.Cookie(langCookie); err == nil && i18n.Supported(ck.Value) {
		return ck.Value
	}
	return i18n.Match(c.Request().Header.Get("Accept-Language"))
}

// setLang remembers the chosen language and goes back to the page it was chosen on.
func (a *App) setLang(c echo.Context) error {
	l := c.FormValue("lang")
	if !i18n.Supported(l) {
		return echo.NewHTTPError(http.StatusBadRequest, "err.400")
	}
	c.SetCookie(&http.Cookie{
		Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: a.config.Production() || c.IsTLS(),
	})
	if u := webSession(c).user; u != nil { // the language of the account's mails
		if err := a.users.SetLang(c.Request().Context(), u.ID, l); err != nil {
			return err
		}
	}
	back := localPath(c.FormValue("next"), "/")
	return a.redirect(c, back)
}

// localPath returns next when it is a path on this site, exactly as it
// will be sent in Location, else fallback. It refuses anything a browser
// could read as another host: schemes, "//" or "/\" starts, backslashes,
// and control characters or spaces (browsers strip tabs and newlines, so
// "/\t/evil.example" would become "//evil.example").
func localPath(next, fallback string) string {
	if len(next) == 0 || next[0] != '/' || len(next) > 2048 {
		return fallback
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return fallback
	}
	for i := 0; i < len(next); i++ {
		if b := next[i]; b <= ' ' || b == 0x7f || b == '\\' {
			return fallback
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return fallback
	}
	return next
}
