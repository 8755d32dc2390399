package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/models"
)

const accountPassword0 = "correct horse battery" // what testServer.user signs up with

// signedIn reports whether c's session is signed in (GET /account answers
// the page rather than sending it to log in).
func (c *client) signedIn() bool {
	c.t.Helper()
	r := c.get("/account")
	switch r.Status {
	case http.StatusOK:
		return true
	case http.StatusSeeOther:
		return false
	}
	c.t.Fatalf("GET /account: %d", r.Status)
	return false
}

func TestAccountPage(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver)
		s.user(t, "page@example.com")
		v := s.client(t)
		r := v.get("/account")
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/auth/login?next=%2Faccount" {
			t.Fatalf("signed out /account: %d to %q", r.Status, r.Header.Get("Location"))
		}
		r = v.post("/auth/login", url.Values{"email": {"page@example.com"}, "password": {accountPassword0}, "next": {"/account"}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/account" {
			t.Fatalf("login back to /account: %d to %q", r.Status, r.Header.Get("Location"))
		}
		r = v.get("/account")
		if r.Status != http.StatusOK {
			t.Fatalf("/account: %d", r.Status)
		}
		mustContain(t, "account page", r.Body, "page@example.com",
			`action="/account/password"`, `name="current_password"`, `name="new_password"`,
			`action="/account/nick"`, `name="nick"`, `value="page"`,
			`action="/account/delete"`, `action="/account/email"`, `href="/account" data-testid="account-link" aria-current="page"`)
		mustContain(t, "dashboard", v.get("/").Body, `href="/account" data-testid="account-link"`)
		mustNotContain(t, "visitor's page", s.client(t).get("/").Body, `data-testid="account-link"`)
	})
}

func TestAccountPasswordChange(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver)
		const email, newPassword = "pw@example.com", "a brand new password"
		here := s.user(t, email)
		other := s.client(t)
		if r := other.login(email, accountPassword0); r.Status != http.StatusSeeOther {
			t.Fatalf("second session: %d", r.Status)
		}
		base, _ := url.Parse(s.URL)
		old := here.http.Jar.Cookies(base) // this session's cookie before the change

		// Sign-up's rules for the new password; nothing changes.
		for _, tc := range []struct{ pw, key string }{
			{"", "form.password.required"}, {"short", "form.password.short"}, {string(make([]byte, 73)), "form.password.long"},
		} {
			r := here.post("/account/password", url.Values{"current_password": {accountPassword0}, "new_password": {tc.pw}})
			if r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("new password %q: %d, want 422", tc.pw, r.Status)
			}
			mustContain(t, "new password "+tc.key, r.Body, i18n.T("en", tc.key), `id="new-password-error"`)
		}
		// A wrong current password: 422, in the password section only.
		r := here.post("/account/password", url.Values{"current_password": {"not my password"}, "new_password": {newPassword}})
		if r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("wrong current password: %d, want 422", r.Status)
		}
		mustContain(t, "wrong current password", r.Body, i18n.T("en", "form.password.wrong"), `data-testid="password-error"`)
		mustNotContain(t, "wrong current password", r.Body, `data-testid="delete-error"`, `id="email-current-password-error"`, "not my password")
		if !other.signedIn() {
			t.Fatal("a refused change ended the other session")
		}

		r = here.post("/account/password", url.Values{"current_password": {accountPassword0}, "new_password": {newPassword}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/account" {
			t.Fatalf("change: %d to %q, want 303 to /account", r.Status, r.Header.Get("Location"))
		}
		page := here.get("/account")
		if page.Status != http.StatusOK {
			t.Fatalf("this session after the change: %d, want still signed in", page.Status)
		}
		mustContain(t, "after the change", page.Body, i18n.T("en", "account.flash.password"))
		mustNotContain(t, "after the change", page.Body, `class="field-error"`)
		if other.signedIn() {
			t.Error("the other session still works after the password change")
		}
		replay := s.client(t)
		replay.http.Jar.SetCookies(base, old)
		if replay.signedIn() {
			t.Error("this session's cookie from before the change still signs in")
		}
		if r := s.client(t).login(email, accountPassword0); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("login with the old password: %d, want 422", r.Status)
		}
		if r := s.client(t).login(email, newPassword); r.Status != http.StatusSeeOther {
			t.Errorf("login with the new password: %d, want 303", r.Status)
		}
	})
}

func TestAccountNickChange(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver)
		s2 := instanceOn(t, s.app.db) // another instance on the same database
		c := s.user(t, "nick@example.com")
		sec := c.register("nick.example.com", "free")
		// The domain was last changed an hour ago, and another since: a
		// refresh reads only the recent changes, so the nick reaches the
		// domain views only if changing it marks the domains changed.
		if err := s.app.db.Model(&models.Domain{}).Where("host = ?", "nick.example.com").
			UpdateColumn("updated_at", time.Now().Add(-time.Hour)).Error; err != nil {
			t.Fatal(err)
		}
		c.register("recent.example.com", "free")
		for _, in := range []*testServer{s, s2} {
			if err := in.app.cache.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if nick := jwtPayload(t, s2.issueToken(t, sec))["nick"]; nick != "nick" {
			t.Fatalf("token nick before: %v", nick)
		}

		for _, tc := range []struct{ nick, key string }{
			{"   ", "form.nick.required"}, {"abcdefghijklmnop", "form.nick.length"},
			{"a\u202eb", "form.nick.invisible"}, {"a\x07b", "form.nick.invalid"},
		} {
			r := c.post("/account/nick", url.Values{"nick": {tc.nick}})
			if r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("nick %q: %d, want 422", tc.nick, r.Status)
			}
			mustContain(t, "nick "+tc.key, r.Body, `id="nick-error"`)
			mustContain(t, "nick "+tc.key, text(r.Body), i18n.T("en", tc.key))
		}
		u, err := s.app.users.GetByEmail(context.Background(), "nick@example.com")
		if err != nil || u.Nick != "nick" {
			t.Fatalf("refused nicks changed it: %v %v", u, err)
		}

		r := c.post("/account/nick", url.Values{"nick": {"  새 \u00a0 nick "}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/account" {
			t.Fatalf("change: %d to %q", r.Status, r.Header.Get("Location"))
		}
		const want = "새 nick" // cleaned as at sign-up
		page := c.get("/account").Body
		mustContain(t, "after the change", page, i18n.T("en", "account.flash.nick"), `value="`+want+`"`)
		mustContain(t, "dashboard", c.get("/").Body, want)
		// Tokens carry it: at once on this instance, from its next refresh on another.
		if nick := jwtPayload(t, s.issueToken(t, sec))["nick"]; nick != want {
			t.Errorf("token nick on this instance: %v, want %q", nick, want)
		}
		if err := s2.app.cache.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if nick := jwtPayload(t, s2.issueToken(t, sec))["nick"]; nick != want {
			t.Errorf("token nick on another instance after its refresh: %v, want %q", nick, want)
		}
	})
}

func TestAccountDelete(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		s2 := instanceOn(t, s.app.db)
		const email = "gone@example.com"
		c := s.user(t, email)
		uid := userID(t, s, email)
		sec := c.register("gone.example.com", "free")
		sec2 := c.register("gone2.example.com:8080", "premium")
		if r := c.post("/post", url.Values{"content": {"bye #gone"}}); r.Status != http.StatusSeeOther {
			t.Fatalf("post: %d", r.Status)
		}
		tok := s.issueToken(t, sec)
		other := s.client(t)
		if r := other.login(email, accountPassword0); r.Status != http.StatusSeeOther {
			t.Fatalf("second session: %d", r.Status)
		}
		if st := s2.tokenStatusOn(t, sec2); st != http.StatusOK { // the other instance holds it
			t.Fatalf("other instance before: %d", st)
		}

		for _, pw := range []string{"", "not my password"} {
			r := c.post("/account/delete", url.Values{"current_password": {pw}})
			if r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("delete with %q: %d, want 422", pw, r.Status)
			}
			mustContain(t, "refused delete", r.Body, `data-testid="delete-error"`)
			mustNotContain(t, "refused delete", r.Body, `data-testid="password-error"`)
		}
		if st := tokenStatus(t, s, sec); st != http.StatusOK {
			t.Fatalf("a refused deletion stopped the secret: %d", st)
		}

		r := c.post("/account/delete", url.Values{"current_password": {accountPassword0}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
			t.Fatalf("delete: %d to %q, want 303 to /", r.Status, r.Header.Get("Location"))
		}
		home := c.get("/").Body
		mustContain(t, "after deleting", home, i18n.T("en", "account.flash.deleted"), `action="/auth/login"`)
		// The domains stop working at once on this instance, at its next refresh on another.
		for _, sk := range []string{sec, sec2} {
			if st := tokenStatus(t, s, sk); st != http.StatusUnauthorized {
				t.Errorf("a deleted account's secret: /v1/token %d, want 401 at once", st)
			}
		}
		if st := s.verifyStatus(t, tok); st != http.StatusUnauthorized {
			t.Errorf("a deleted account's token: /v1/test %d, want 401", st)
		}
		if err := s2.app.cache.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if st := s2.tokenStatusOn(t, sec2); st != http.StatusUnauthorized {
			t.Errorf("other instance after its refresh: %d, want 401", st)
		}
		if st := s2.verifyStatus(t, tok); st != http.StatusUnauthorized {
			t.Errorf("other instance, the token: %d, want 401", st)
		}
		// Every session ends, the login is refused, the address is free again.
		if other.signedIn() {
			t.Error("the other session survived the deletion")
		}
		if r := s.client(t).login(email, accountPassword0); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("login to the deleted account: %d, want 422", r.Status)
		}
		if _, err := s.app.users.GetByEmail(context.Background(), email); !errors.Is(err, models.ErrNoRecord) {
			t.Errorf("the deleted account still has its email: %v", err)
		}
		again := s.user(t, email)
		if ids := again.domainIDs(); len(ids) != 0 {
			t.Errorf("the new account of the address has %d domains", len(ids))
		}
		// The admin audit keeps a record.
		var e models.AuditEntry
		if err := s.app.db.Where("action = ? AND user_id = ?", models.ActionAccountDelete, uid).Take(&e).Error; err != nil {
			t.Fatalf("no audit entry of the deletion: %v", err)
		}
		if e.ActorID != uid || e.ActorEmail != email || e.Before != email {
			t.Errorf("audit entry: %+v", e)
		}
		audit := admin.get("/admin/audit?user=" + strconv.FormatUint(uid, 10)).Body
		mustContain(t, "admin audit", audit, `data-action="user.delete"`, i18n.T("en", "admin.audit.action.user.delete"), email)
		var live, posts, tags int64
		if err := s.app.db.Model(&models.Domain{}).Where("user_id = ? AND status <> ?", uid, models.StatusDeleted).Count(&live).Error; err != nil || live != 0 {
			t.Errorf("%d domains of the deleted account not deleted (%v)", live, err)
		}
		if err := s.app.db.Model(&models.Post{}).Where("user_id = ?", uid).Count(&posts).Error; err != nil || posts != 0 {
			t.Errorf("%d posts of the deleted account left (%v)", posts, err)
		}
		if err := s.app.db.Model(&models.PostHashtag{}).Count(&tags).Error; err != nil || tags != 0 {
			t.Errorf("%d hashtag links of its posts left (%v)", tags, err)
		}
	})
}

// A wrong current password on the account page is a failed login of the
// account: LOGIN_MAX_FAILS_ACCOUNT of them (5 in tests) refuse the next
// login from that network, and the account page's forms too.
func TestAccountWrongPasswordCountsAsLoginFailure(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver, limited)
		const email = "limit@example.com"
		c := s.user(t, email)
		max := s.app.config.LoginFailsAccount
		for i := range max {
			path := "/account/password"
			v := url.Values{"current_password": {"guess " + strconv.Itoa(i)}, "new_password": {"a brand new password"}}
			if i%2 == 1 {
				path, v = "/account/delete", url.Values{"current_password": {"guess " + strconv.Itoa(i)}}
			}
			if r := c.post(path, v); r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("guess %d on %s: %d, want 422", i, path, r.Status)
			}
		}
		r := s.client(t).login(email, accountPassword0)
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Fatalf("login after %d wrong current passwords: %d, want 429 with Retry-After", max, r.Status)
		}
		r = c.post("/account/password", url.Values{"current_password": {accountPassword0}, "new_password": {"a brand new password"}})
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("password change past the limit: %d, want 429", r.Status)
		}
		mustContain(t, "password change past the limit", r.Body, i18n.T("en", "form.login.throttled"))
		// The change of address checks its password the same way, and keeps
		// the address typed when it refuses.
		r = c.post("/account/email", url.Values{"email": {"kept@example.com"}, "current_password": {accountPassword0}})
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("address change past the limit: %d, want 429", r.Status)
		}
		mustContain(t, "address change past the limit", r.Body, i18n.T("en", "form.login.throttled"), `value="kept@example.com"`)
		if err := s.app.users.CheckPassword(mustUser(t, s, email), accountPassword0); err != nil {
			t.Error("the refused change changed the password")
		}
	})
}

func mustUser(t *testing.T, s *testServer, email string) *models.User {
	t.Helper()
	u, err := s.app.users.GetByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// The owner gets a notice when the password changes on the account page.
func TestAccountPasswordChangeNotice(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, box := mailServer(t, driver)
		const email = "notice@example.com"
		c := s.user(t, email)
		box.next(t, email) // the verification link of the sign-up
		if r := c.post("/account/password", url.Values{"current_password": {"wrong password!"}, "new_password": {"a brand new password"}}); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("wrong current password: %d", r.Status)
		}
		if r := c.post("/account/password", url.Values{"current_password": {accountPassword0}, "new_password": {"a brand new password"}}); r.Status != http.StatusSeeOther {
			t.Fatalf("change: %d", r.Status)
		}
		if n := box.next(t, email); n.Subject != "Your NodeBird API password changed" || n.Link("/auth/forgot") == "" {
			t.Errorf("notice: %q\n%s", n.Subject, n.Text)
		}
		box.none(t)
	})
}
