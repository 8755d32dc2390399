package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/models"
)

// The regressions of the security review of the mailed links (the
// change-of-address link outliving a reset, a deletion; a link acting for
// whoever holds it).

const pw0 = "correct horse battery"

// changeLink asks for a change of c's address to email (pw: c's
// password) and returns the token of the link mailed there.
func changeLink(t *testing.T, s *testServer, box *inbox, c *client, pw, email string) string {
	t.Helper()
	if r := c.post("/account/email", url.Values{"email": {email}, "current_password": {pw}}); r.Status != http.StatusSeeOther {
		t.Fatalf("change of address to %s: %d", email, r.Status)
	}
	return linkToken(t, mailLink(t, box.next(t, email), s.URL, "/auth/verify"))
}

// noAccount fails if an account has email.
func noAccount(t *testing.T, s *testServer, email string) {
	t.Helper()
	if u, err := s.app.users.GetByEmail(context.Background(), email); !errors.Is(err, models.ErrNoRecord) {
		t.Fatalf("an account has %s: %+v %v", email, u, err)
	}
}

// Review 1: someone signs up with the owner's address, registers a domain
// and asks for a change of address to their own; the owner resets the
// password. The squatter's change link is dead, and so are the secret
// and tokens they hold; the owner is told to rotate. A password change
// ends pending links too.
func TestResetEndsTheSquattersLinksAndSecrets(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, box := mailServer(t, driver)
		squatter := s.user(t, "victim@example.com")
		box.next(t, "victim@example.com")
		sec := squatter.register("squat.example", "free")
		tok := s.issueToken(t, sec)
		change := changeLink(t, s, box, squatter, pw0, "attacker@evil.test")

		owner := s.client(t)
		owner.post("/auth/forgot", url.Values{"email": {"victim@example.com"}})
		reset := linkToken(t, mailLink(t, box.next(t, "victim@example.com"), s.URL, "/auth/reset"))
		if r := owner.post("/auth/reset", url.Values{"token": {reset}, "new_password": {"owners own password"}}); r.Status != http.StatusSeeOther {
			t.Fatalf("reset: %d", r.Status)
		}
		box.next(t, "victim@example.com") // the notice
		mustContain(t, "dashboard after the reset", owner.get("/").Body,
			"the client secrets of your domains", "Rotate secret")

		if st := s.tokenStatusOn(t, sec); st != http.StatusUnauthorized {
			t.Errorf("the squatter's secret after the reset: %d, want 401", st)
		}
		if st := s.verifyStatus(t, tok); st != http.StatusUnauthorized {
			t.Errorf("the squatter's token after the reset: %d, want 401", st)
		}
		// The squatter follows the old link, signed in as the account
		// (their session ended with the reset) or after logging in again
		// (the password is the owner's now): nothing works.
		if r := squatter.post("/auth/verify", url.Values{"token": {change}}); r.Status == http.StatusSeeOther && r.Header.Get("Location") == "/" {
			t.Errorf("the squatter's change link worked after the reset")
		}
		if r := owner.post("/auth/verify", url.Values{"token": {change}}); r.Status != http.StatusBadRequest {
			t.Errorf("the pending change link, brought by the account's session: %d, want 400", r.Status)
		}
		noAccount(t, s, "attacker@evil.test")
		if r := owner.get("/auth/verify?token=" + change); r.Status != http.StatusBadRequest {
			t.Errorf("the change link's page after the reset: %d", r.Status)
		}

		// The owner rotates and the new secret works; a later reset (the
		// address is verified now) leaves the secrets alone.
		owner.post("/domain/"+owner.domainIDs()[0]+"/rotate", url.Values{"overlap": {"0s"}})
		fresh := secretRe.FindStringSubmatch(owner.get("/").Body)
		if fresh == nil || s.tokenStatusOn(t, fresh[1]) != http.StatusOK {
			t.Fatal("the owner's rotated secret does not work")
		}

		// A password change on the account page ends a pending change link.
		change = changeLink(t, s, box, owner, "owners own password", "elsewhere@evil.test")
		if r := owner.post("/account/password", url.Values{"current_password": {"owners own password"}, "new_password": {"owners newer password"}}); r.Status != http.StatusSeeOther {
			t.Fatalf("password change: %d", r.Status)
		}
		box.next(t, "victim@example.com")
		if r := owner.post("/auth/verify", url.Values{"token": {change}}); r.Status != http.StatusBadRequest {
			t.Errorf("a change link after a password change: %d, want 400", r.Status)
		}
		noAccount(t, s, "elsewhere@evil.test")
		if s.tokenStatusOn(t, fresh[1]) != http.StatusOK {
			t.Error("a password change of a verified account retired its secret")
		}
	})
}

// Review 2: a deleted account's pending change link brings nothing back.
func TestDeletedAccountStaysDeleted(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, box := mailServer(t, driver)
		c := s.user(t, "gone@example.com")
		box.next(t, "gone@example.com")
		change := changeLink(t, s, box, c, pw0, "back@example.com")
		if r := c.post("/account/delete", url.Values{"current_password": {pw0}}); r.Status != http.StatusSeeOther {
			t.Fatalf("delete: %d", r.Status)
		}
		if r := s.client(t).post("/auth/verify", url.Values{"token": {change}}); r.Status != http.StatusBadRequest {
			t.Errorf("the deleted account's change link: %d, want 400", r.Status)
		}
		if r := s.client(t).get("/auth/verify?token=" + change); r.Status != http.StatusBadRequest {
			t.Errorf("the deleted account's change link page: %d, want 400", r.Status)
		}
		noAccount(t, s, "back@example.com")
	})
}

// Review 3: a verification or change-of-address link acts only for a
// session of its own account. Someone asks for their address to become
// an admin's (ADMIN_EMAILS), or signs up with it; the admin clicks the
// link: signed out, they are asked to log in to the account (which they
// cannot: it is not theirs); signed in as their own account, the link is
// refused. Nothing changes and nobody becomes admin.
func TestLinksActOnlyForTheirAccount(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, box := mailServer(t, driver, func(c *config.Config) { c.AdminEmails = []string{"boss@corp.test", "chief@corp.test"} })
		mallory := s.user(t, "mallory@evil.test")
		box.next(t, "mallory@evil.test")
		chief := s.user(t, "chief@corp.test") // the real admin, verified
		markVerified(t, s.app.db, "chief@corp.test")
		box.next(t, "chief@corp.test")

		// A change of address to an admin's address; a sign-up with another.
		change := changeLink(t, s, box, mallory, pw0, "boss@corp.test")
		s.user(t, "boss@corp.test")
		signup := linkToken(t, mailLink(t, box.next(t, "boss@corp.test"), s.URL, "/auth/verify"))

		for _, tok := range []string{change, signup} {
			// The page names the account; signed out it offers to log in.
			page := s.client(t).get("/auth/verify?token=" + tok)
			login := "/auth/login?next=" + url.QueryEscape("/auth/verify?token="+tok)
			mustContain(t, "signed-out link page", page.Body, `data-testid="verify-account"`, `href="`+strings.ReplaceAll(login, "&", "&amp;")+`"`)
			mustNotContain(t, "signed-out link page", page.Body, `data-testid="verify-submit"`)
			if r := s.client(t).post("/auth/verify", url.Values{"token": {tok}}); r.Status != http.StatusSeeOther || r.Header.Get("Location") != login {
				t.Errorf("signed-out confirm: %d to %q, want 303 to %q", r.Status, r.Header.Get("Location"), login)
			}
			// Signed in as another account: refused, nothing changed.
			page = chief.get("/auth/verify?token=" + tok)
			if page.Status != http.StatusForbidden {
				t.Errorf("another account's link page: %d, want 403", page.Status)
			}
			mustContain(t, "another account's link page", page.Body, `data-testid="verify-other"`, "Nothing was changed")
			before := dbSnapshot(t, s.app.db)
			r := chief.post("/auth/verify", url.Values{"token": {tok}})
			if r.Status != http.StatusForbidden || !strings.Contains(r.Body, `data-testid="verify-other"`) {
				t.Errorf("another account's confirm: %d", r.Status)
			}
			if !mapsEqual(before, dbSnapshot(t, s.app.db)) {
				t.Error("another account's confirm wrote to the database")
			}
		}
		if u, _ := s.app.users.GetByEmail(context.Background(), "boss@corp.test"); u == nil || u.Verified() {
			t.Fatalf("the squatted admin address is verified: %+v", u)
		}
		if u, _ := s.app.users.GetByEmail(context.Background(), "mallory@evil.test"); u == nil {
			t.Fatal("mallory's address changed")
		}
		if r := mallory.get("/admin/domains"); r.Status != http.StatusForbidden {
			t.Errorf("mallory at the admin console: %d", r.Status)
		}

		// The account's own session confirms, after logging in through the link.
		u := s.client(t)
		r := u.post("/auth/login", url.Values{"email": {"mallory@evil.test"}, "password": {pw0},
			"next": {"/auth/verify?token=" + change}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/auth/verify?token="+change {
			t.Fatalf("login back to the link: %d %q", r.Status, r.Header.Get("Location"))
		}
		mustContain(t, "own link page", u.get("/auth/verify?token="+change).Body, `data-testid="verify-submit"`, "mallory")
	})
}

// Review 5: a sign-up with an address that has an account gets the
// answer of a sign-up, word for word (303 to the login form saying a link
// is on its way), creates nothing and signs nobody in; the owner gets a
// notice in the account's language, at most joinNoticePerAddress.Quota an hour.
func TestSignUpWithATakenAddress(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, box := mailServer(t, driver, limited)
		owner := s.client(t)
		owner.post("/lang", url.Values{"lang": {"ko"}, "next": {"/"}})
		if r := owner.signup("owner@example.com", "owner", pw0); r.Status != http.StatusSeeOther {
			t.Fatalf("signup: %d", r.Status)
		}
		box.next(t, "owner@example.com")
		answer := func(email string) (string, string) {
			c := s.client(t)
			r := c.signup(email, "someone", "another password")
			page := c.thenGet(r)
			return http.StatusText(r.Status) + " " + r.Header.Get("Location") + " " + r.Body,
				regexp.MustCompile(`name="_csrf" value="[^"]*"`).ReplaceAllString(page.Body, "")
		}
		freshAnswer, freshPage := answer("fresh@example.com")
		box.next(t, "fresh@example.com")
		var before int64
		s.app.db.Model(&models.User{}).Count(&before)

		c := s.client(t)
		r := c.signup("OWNER@example.com", "someone", "another password")
		takenPage := c.thenGet(r)
		taken := http.StatusText(r.Status) + " " + r.Header.Get("Location") + " " + r.Body
		if taken != freshAnswer || regexp.MustCompile(`name="_csrf" value="[^"]*"`).ReplaceAllString(takenPage.Body, "") != freshPage {
			t.Fatalf("the answers differ:\n%s\n%s", freshAnswer, taken)
		}
		mustContain(t, "page after a sign-up", takenPage.Body, "we sent a link to verify your address")
		var after int64
		s.app.db.Model(&models.User{}).Count(&after)
		if after != before || signedIn(c) {
			t.Fatalf("a taken address: %d new users, signed in %v", after-before, signedIn(c))
		}
		if r := s.client(t).login("owner@example.com", "another password"); r.Status == http.StatusSeeOther {
			t.Fatal("the second sign-up's password signs in")
		}
		m := box.next(t, "owner@example.com")
		if m.Subject != "누군가 회원님의 주소로 가입하려 했습니다" || !strings.Contains(m.Text, "owner@example.com") ||
			!strings.Contains(m.Text, "로그인") || !strings.Contains(m.Text, s.URL+"/auth/forgot") {
			t.Errorf("the owner's notice: %q\n%s", m.Subject, m.Text)
		}
		// Limited per address: past the quota the answer is the same and no mail goes out.
		for range joinNoticePerAddress.Quota - 1 {
			s.client(t).signup("owner@example.com", "someone", "another password")
			box.next(t, "owner@example.com")
		}
		if a, _ := answer("owner@example.com"); a != freshAnswer {
			t.Errorf("past the limit the answer differs:\n%s", a)
		}
		box.none(t)
	})
}

// Review 4: posting and renaming are limited per account (429 with
// Retry-After past the quota; another account is not affected), and a
// deleted post takes the hashtags no other post uses with it.
func TestPostsAndNicksAreLimitedPerAccount(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver, limited)
		c, other := s.user(t, "poster@example.com"), s.user(t, "other@example.com")
		for i := range postsPerAccount.Quota {
			if r := c.post("/post", url.Values{"content": {"post " + strconv.Itoa(i) + " #n" + strconv.Itoa(i)}}); r.Status != http.StatusSeeOther {
				t.Fatalf("post %d: %d", i, r.Status)
			}
		}
		r := c.post("/post", url.Values{"content": {"one too many"}})
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Fatalf("post past the limit: %d, Retry-After %q", r.Status, r.Header.Get("Retry-After"))
		}
		if !strings.Contains(r.Body, "one too many") || !strings.Contains(r.Body, i18n.T("en", "err.429")) {
			t.Error("the refused post's form did not keep the text typed and say why")
		}
		if r := other.post("/post", url.Values{"content": {"mine #n0"}}); r.Status != http.StatusSeeOther {
			t.Fatalf("another account's post: %d", r.Status)
		}
		var n int64
		s.app.db.Model(&models.Post{}).Where("content = ?", "one too many").Count(&n)
		if n != 0 {
			t.Fatal("the refused post was stored")
		}

		for i := range nicksPerAccount.Quota {
			if r := c.post("/account/nick", url.Values{"nick": {"nick" + strconv.Itoa(i)}}); r.Status != http.StatusSeeOther {
				t.Fatalf("nick %d: %d", i, r.Status)
			}
		}
		r = c.post("/account/nick", url.Values{"nick": {"toomany"}})
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Fatalf("nick past the limit: %d, Retry-After %q", r.Status, r.Header.Get("Retry-After"))
		}
		if !strings.Contains(r.Body, `value="toomany"`) || !strings.Contains(r.Body, i18n.T("en", "err.429")) {
			t.Error("the refused nick's form did not keep the nick typed and say why")
		}
		if u, _ := s.app.users.GetByEmail(context.Background(), "poster@example.com"); u.Nick == "toomany" {
			t.Fatal("the refused nick was stored")
		}

		// Deleting a post deletes its hashtags no other post uses.
		tags := func() int64 {
			var n int64
			s.app.db.Model(&models.Hashtag{}).Where("title IN ?", []string{"n0", "n1"}).Count(&n)
			return n
		}
		var ps []models.Post
		s.app.db.Where("content LIKE ?", "post %").Where("content LIKE ? OR content LIKE ?", "%#n0", "%#n1").Find(&ps)
		for _, p := range ps {
			if r := c.post("/post/"+strconv.FormatUint(p.ID, 10)+"/delete", nil); r.Status != http.StatusSeeOther {
				t.Fatalf("delete: %d", r.Status)
			}
		}
		if len(ps) != 2 || tags() != 1 { // n0 is still the other account's
			t.Fatalf("deleted %d posts; %d of their tags remain, want 1", len(ps), tags())
		}
	})
}
