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
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: a.Config.Production() || c.IsTLS(),
	})
	back := "/"
	if u, err := url.Parse(c.FormValue("next")); err == nil && u.Scheme == "" && u.Host == "" &&
		len(u.Path) > 0 && u.Path[0] == '/' && (len(u.Path) < 2 || u.Path[1] != '/' && u.Path[1] != '\\') {
		back = u.Path
		if u.RawQuery != "" {
			back += "?" + u.RawQuery
		}
	}
	return a.redirect(c, back)
}
