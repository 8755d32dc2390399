package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/mail/mailtest"
	"github.com/nodebird/nodebird-api/models"
)

// inbox is a real SMTP server in the test process, read message by message.
type inbox struct {
	*mailtest.Server
	seen int
}

// mailServer starts the app with SMTP_URL naming a fresh in-process SMTP server.
func mailServer(t *testing.T, driver string, tweak ...func(*config.Config)) (*testServer, *inbox) {
	t.Helper()
	box := &inbox{Server: mailtest.Start(t, mailtest.Plain)}
	s := newTestServer(t, driver, append(tweak, func(c *config.Config) { c.SMTPURL = box.URL() })...)
	return s, box
}

// next waits for the next mail, checks it went to to, and takes it apart.
func (b *inbox) next(t *testing.T, to string) *mailtest.Parsed {
	t.Helper()
	b.seen++
	r := b.Wait(t, b.seen)
	if !slices.Equal(r.To, []string{to}) {
		t.Fatalf("mail %d went to %q, want %q", b.seen, r.To, to)
	}
	p, err := mailtest.Parse(r.Data)
	if err != nil {
		t.Fatal(err)
	}
	if p.ContentType != "multipart/alternative" || p.Text == "" || p.HTML == "" {
		t.Fatalf("mail %d is not plain text + HTML: %+v", b.seen, p)
	}
	return p
}

// none checks that no mail arrives beyond those seen (sends are in the
// background: it waits a little).
func (b *inbox) none(t *testing.T) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	if n := len(b.Messages()); n != b.seen {
		p, _ := mailtest.Parse(b.Messages()[n-1].Data)
		t.Fatalf("%d unexpected mails, the last %q", n-b.seen, p.Subject)
	}
}

// link is the message's link to path, checked to be the same in both parts.
func mailLink(t *testing.T, p *mailtest.Parsed, base, path string) string {
	t.Helper()
	l := p.Link(path)
	if !strings.HasPrefix(l, base+path+"?token=") {
		t.Fatalf("no %s link in %q:\n%s", path, p.Subject, p.Text)
	}
	if !strings.Contains(p.HTML, `href="`+strings.ReplaceAll(l, "&", "&amp;")+`"`) {
		t.Errorf("the HTML part lacks the link %s", l)
	}
	return strings.TrimPrefix(l, base)
}

func linkToken(t *testing.T, path string) string {
	t.Helper()
	u, err := url.Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

func signedIn(c *client) bool { return strings.Contains(c.get("/").Body, `data-testid="nav-user"`) }

// The reset journey: "Forgot password?" on the login page, a mail with a
// link that works once, a new password; every other session ends, this
// browser is signed in, the owner is told, the token is stored only as
// its hash and never logged.
func TestPasswordResetJourney(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, box := mailServer(t, driver)
		const email = "ria@example.com"
		owner := s.user(t, email)
		box.next(t, email) // the verification of the sign-up
		other := s.client(t)
		if r := other.login(email, "correct horse battery"); r.Status != http.StatusSeeOther {
			t.Fatalf("login: %d", r.Status)
		}

		v := s.client(t)
		mustContain(t, "login page", v.get("/").Body, `href="/auth/forgot"`, "Forgot password?")
		if r := v.get("/auth/forgot"); r.Status != http.StatusOK || !strings.Contains(r.Body, `name="email"`) {
			t.Fatalf("GET /auth/forgot: %d", r.Status)
		}
		r := v.post("/auth/forgot", url.Values{"email": {" RIA@example.com "}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
			t.Fatalf("POST /auth/forgot: %d %s", r.Status, r.Header.Get("Location"))
		}
		mustContain(t, "after the request", v.get("/").Body, "a link to reset its password is on its way")

		m := box.next(t, email)
		if m.Subject != "Reset your NodeBird API password" || !strings.Contains(m.HTML, `lang="en"`) ||
			!strings.Contains(m.Text, "30 minutes") || !strings.Contains(m.Text, "Hello ria,") {
			t.Errorf("reset mail: %q\n%s", m.Subject, m.Text)
		}
		path := mailLink(t, m, s.URL, "/auth/reset")
		token := linkToken(t, path)

		// Only the hash is stored, and nothing logs the token.
		all := strings.Join(slices.Concat(mapValues(dbSnapshot(t, s.app.db))...), "\n")
		if strings.Contains(all, token) || !strings.Contains(all, models.TokenHash(token)) {
			t.Fatal("the database holds the token, or not its hash")
		}

		// The link's page changes nothing; it shows the form.
		before := dbSnapshot(t, s.app.db)
		page := v.get(path)
		if page.Status != http.StatusOK || !strings.Contains(page.Body, `name="new_password"`) || !strings.Contains(page.Body, `value="`+token+`"`) {
			t.Fatalf("GET %s: %d", path, page.Status)
		}
		if after := dbSnapshot(t, s.app.db); !mapsEqual(before, after) {
			t.Fatal("GET of the reset link wrote to the database")
		}

		if r := v.post("/auth/reset", url.Values{"token": {token}, "new_password": {"short"}}); r.Status != http.StatusUnprocessableEntity ||
			!strings.Contains(r.Body, `value="`+token+`"`) {
			t.Fatalf("short password: %d", r.Status)
		}
		r = v.post("/auth/reset", url.Values{"token": {token}, "new_password": {"a brand new password"}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
			t.Fatalf("reset: %d\n%s", r.Status, r.Body)
		}
		mustContain(t, "after the reset", v.get("/").Body, `data-testid="nav-user"`, "every other session of your account has ended")
		for name, c := range map[string]*client{"the owner's first browser": owner, "another browser": other} {
			if signedIn(c) {
				t.Errorf("%s is still signed in after the reset", name)
			}
		}
		if r := s.client(t).login(email, "correct horse battery"); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("the old password: %d", r.Status)
		}
		if r := s.client(t).login(email, "a brand new password"); r.Status != http.StatusSeeOther {
			t.Errorf("the new password: %d", r.Status)
		}

		// Once only.
		if r := s.client(t).get(path); r.Status != http.StatusBadRequest || !strings.Contains(r.Body, `data-testid="link-bad"`) {
			t.Errorf("GET of a used link: %d", r.Status)
		}
		if r := s.client(t).post("/auth/reset", url.Values{"token": {token}, "new_password": {"a third password!"}}); r.Status != http.StatusBadRequest {
			t.Errorf("POST of a used link: %d", r.Status)
		}

		n := box.next(t, email)
		if n.Subject != "Your NodeBird API password changed" || n.Link("/auth/forgot") == "" {
			t.Errorf("notice: %q\n%s", n.Subject, n.Text)
		}
		box.none(t)
		if strings.Contains(s.log.String(), token) {
			t.Error("the log holds the token")
		}
	})
}

func mapValues(m map[string][]string) [][]string {
	var out [][]string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func mapsEqual(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// A reset link past its 30 minutes is refused and changes nothing.
func TestExpiredResetLinkIsRefused(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, box := mailServer(t, driver)
		s.user(t, "old@example.com")
		box.next(t, "old@example.com")
		v := s.client(t)
		v.post("/auth/forgot", url.Values{"email": {"old@example.com"}})
		m := box.next(t, "old@example.com")
		token := linkToken(t, mailLink(t, m, s.URL, "/auth/reset"))
		var tok models.AccountToken
		if err := s.app.db.Where("hash = ?", models.TokenHash(token)).Take(&tok).Error; err != nil {
			t.Fatal(err)
		}
		if d := time.Until(tok.ExpiresAt); d < 29*time.Minute || d > 31*time.Minute {
			t.Errorf("the link lives %v, want 30 minutes", d)
		}
		s.app.db.Model(&tok).Update("expires_at", time.Now().UTC().Add(-time.Second))
		if r := v.get("/auth/reset?token=" + url.QueryEscape(token)); r.Status != http.StatusBadRequest {
			t.Errorf("GET of an expired link: %d", r.Status)
		}
		if r := v.post("/auth/reset", url.Values{"token": {token}, "new_password": {"a brand new password"}}); r.Status != http.StatusBadRequest {
			t.Errorf("POST of an expired link: %d", r.Status)
		}
		if r := s.client(t).login("old@example.com", "correct horse battery"); r.Status != http.StatusSeeOther {
			t.Errorf("the password changed: %d", r.Status)
		}
	})
}

// The answer to a reset request does not tell whether the address has an
// account; requests are limited per address (silently: no more mails) and
// per client network (429).
func TestForgotSameAnswerAndLimits(t *testing.T) {
	s, box := mailServer(t, "sqlite", limited)
	s.user(t, "known@example.com")
	box.next(t, "known@example.com")
	answer := func(email string) string {
		c := s.client(t)
		r := c.post("/auth/forgot", url.Values{"email": {email}})
		flash := regexp.MustCompile(`(?s)data-testid="flash">.*?<p>(.*?)</p>`).FindStringSubmatch(c.get("/").Body)
		if flash == nil {
			t.Fatalf("no flash after asking for %s", email)
		}
		return r.Header.Get("Location") + " " + http.StatusText(r.Status) + " " + flash[1]
	}
	unknown := answer("nobody@example.com")
	box.none(t)
	known := answer("known@example.com")
	if unknown != known {
		t.Fatalf("the answers differ:\nunknown %s\nknown   %s", unknown, known)
	}
	box.next(t, "known@example.com")
	for range forgotPerAddress.Quota - 1 {
		answer("known@example.com")
		box.next(t, "known@example.com")
	}
	if got := answer("known@example.com"); got != known {
		t.Fatalf("past the address's limit the answer changes: %s", got)
	}
	box.none(t)
	// The client network's limit: it has made 5 requests; 10 an hour.
	c := s.client(t)
	for i := range forgotPerNetwork.Quota - 5 {
		if r := c.post("/auth/forgot", url.Values{"email": {"x" + string(rune('a'+i)) + "@example.com"}}); r.Status != http.StatusSeeOther {
			t.Fatalf("request %d: %d", i, r.Status)
		}
	}
	if r := c.post("/auth/forgot", url.Values{"email": {"y@example.com"}}); r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("past the network's limit: %d", r.Status)
	}
	if r := c.post("/auth/forgot", url.Values{"email": {"not an address"}}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid address: %d", r.Status)
	}
}

// Issue 15.2: a successful reset always gets the owner in, whether the
// account is locked on this network by failures or slowed account-wide.
func TestResetGetsTheOwnerPastLoginLimits(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tweak func(*config.Config)
		fails int
	}{
		{"locked on this network", limited, 5},
		{"slowed account-wide", func(c *config.Config) { c.RateLimits, c.LoginFailsAccount, c.LoginAccountCeiling = true, 100, 3 }, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, box := mailServer(t, "sqlite", tc.tweak)
			const email = "locked@example.com"
			s.user(t, email)
			box.next(t, email)
			attacker := s.client(t)
			for range tc.fails {
				attacker.login(email, "wrong password")
			}
			if r := s.client(t).login(email, "correct horse battery"); r.Status != http.StatusTooManyRequests {
				t.Fatalf("the account is not limited: %d", r.Status)
			}
			owner := s.client(t)
			owner.post("/auth/forgot", url.Values{"email": {email}})
			token := linkToken(t, mailLink(t, box.next(t, email), s.URL, "/auth/reset"))
			if r := owner.post("/auth/reset", url.Values{"token": {token}, "new_password": {"my new password"}}); r.Status != http.StatusSeeOther {
				t.Fatalf("reset: %d", r.Status)
			}
			if r := s.client(t).login(email, "my new password"); r.Status != http.StatusSeeOther {
				t.Fatalf("login at once after the reset: %d", r.Status)
			}
		})
	}
}

// Sign-up mails a verification link in the page's language; until it is
// followed the dashboard says so and offers to send it again (limited).
func TestSignUpVerification(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, box := mailServer(t, driver, limited)
		c := s.client(t)
		c.post("/lang", url.Values{"lang": {"ko"}, "next": {"/"}})
		if r := c.signup("ko@example.com", "코코", "correct horse battery"); r.Status != http.StatusSeeOther {
			t.Fatalf("signup: %d", r.Status)
		}
		m := box.next(t, "ko@example.com")
		if m.Subject != "NodeBird API 이메일 주소 확인" || !strings.Contains(m.HTML, `lang="ko"`) || !strings.Contains(m.Text, "코코님, 안녕하세요.") {
			t.Errorf("Korean verification mail: %q\n%s", m.Subject, m.Text)
		}
		path := mailLink(t, m, s.URL, "/auth/verify")
		if r := c.login("ko@example.com", "correct horse battery"); r.Status != http.StatusSeeOther {
			t.Fatalf("login: %d", r.Status)
		}
		mustContain(t, "unverified dashboard", c.get("/").Body, `data-testid="verify-banner"`, `action="/auth/verify/resend"`)

		before := dbSnapshot(t, s.app.db)
		if r := s.client(t).get(path); r.Status != http.StatusOK || !strings.Contains(r.Body, "ko@example.com") {
			t.Fatalf("GET %s: %d", path, r.Status)
		}
		if !mapsEqual(before, dbSnapshot(t, s.app.db)) {
			t.Fatal("GET of the verification link wrote to the database")
		}
		if r := c.post("/auth/verify", url.Values{"token": {linkToken(t, path)}}); r.Status != http.StatusSeeOther {
			t.Fatalf("verify: %d", r.Status)
		}
		if body := c.get("/").Body; strings.Contains(body, `data-testid="verify-banner"`) || !strings.Contains(body, "이메일 주소가 확인되었습니다.") {
			t.Error("after verification the banner stays, or no flash")
		}
		if r := c.post("/auth/verify", url.Values{"token": {linkToken(t, path)}}); r.Status != http.StatusBadRequest {
			t.Errorf("a verification link used twice: %d", r.Status)
		}
		var tok models.AccountToken
		s.app.db.Where("hash = ?", models.TokenHash(linkToken(t, path))).Take(&tok)
		if d := tok.ExpiresAt.Sub(tok.CreatedAt); d < 24*time.Hour-time.Second || d > 24*time.Hour+time.Second {
			t.Errorf("the verification link lives %v", d)
		}

		// Resend, limited per account; an expired link is refused.
		u := s.user(t, "late@example.com")
		first := linkToken(t, mailLink(t, box.next(t, "late@example.com"), s.URL, "/auth/verify"))
		s.app.db.Model(&models.AccountToken{}).Where("hash = ?", models.TokenHash(first)).Update("expires_at", time.Now().UTC().Add(-time.Second))
		if r := u.post("/auth/verify", url.Values{"token": {first}}); r.Status != http.StatusBadRequest {
			t.Errorf("an expired verification link: %d", r.Status)
		}
		for i := range linksPerAccount.Quota {
			if r := u.post("/auth/verify/resend", nil); r.Status != http.StatusSeeOther {
				t.Fatalf("resend %d: %d", i, r.Status)
			}
			box.next(t, "late@example.com")
		}
		if r := u.post("/auth/verify/resend", nil); r.Status != http.StatusTooManyRequests {
			t.Fatalf("resend past the limit: %d", r.Status)
		}
		box.none(t)
	})
}

// Issue 15.4: an address in ADMIN_EMAILS signs up like any other (the same
// answer, counted against the sign-up limit) and is admin only once its
// address is verified.
func TestListedAdminEmailSignsUpAndIsAdminOnceVerified(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, box := mailServer(t, driver, func(c *config.Config) {
			c.AdminEmails = []string{"boss@example.com"}
			c.RateLimits, c.JoinPerHourIP = true, 2
		})
		answer := func(c *client, email string) string {
			r := c.signup(email, "same", "correct horse battery")
			return http.StatusText(r.Status) + " " + r.Header.Get("Location") + " " + r.Body
		}
		plain, boss := s.client(t), s.client(t)
		a := answer(plain, "plain@example.com")
		box.next(t, "plain@example.com")
		if b := answer(boss, "boss@example.com"); a != b {
			t.Fatalf("the answers differ:\n%s\n%s", a, b)
		}
		m := box.next(t, "boss@example.com")
		plain.login("plain@example.com", "correct horse battery")
		boss.login("boss@example.com", "correct horse battery")
		csrf := regexp.MustCompile(`name="_csrf" value="[^"]*"`)
		if a, b := csrf.ReplaceAllString(plain.get("/").Body, ""), csrf.ReplaceAllString(boss.get("/").Body, ""); strings.ReplaceAll(a, "plain@example.com", "X") != strings.ReplaceAll(b, "boss@example.com", "X") {
			t.Error("the dashboards after sign-up differ")
		}
		if r := s.client(t).signup("third@example.com", "third", "correct horse battery"); r.Status != http.StatusTooManyRequests {
			t.Fatalf("the listed address's sign-up was not counted: %d", r.Status)
		}

		if r := boss.get("/admin/domains"); r.Status != http.StatusForbidden {
			t.Fatalf("an unverified listed account is admin: %d", r.Status)
		}
		mustNotContain(t, "unverified listed account's dashboard", boss.get("/").Body, `data-testid="admin-link"`)
		if r := boss.post("/auth/verify", url.Values{"token": {linkToken(t, mailLink(t, m, s.URL, "/auth/verify"))}}); r.Status != http.StatusSeeOther {
			t.Fatalf("verify: %d", r.Status)
		}
		if r := boss.get("/admin/domains"); r.Status != http.StatusOK {
			t.Fatalf("a verified listed account is not admin: %d", r.Status)
		}
		mustContain(t, "verified listed account's dashboard", boss.get("/").Body, `data-testid="admin-link"`)
		// The console tells the roles apart.
		s.app.config.AdminEmails = append(s.app.config.AdminEmails, "plain@example.com")
		page := boss.get("/admin/users/" + strconv.FormatUint(userID(t, s, "plain@example.com"), 10)).Body
		mustContain(t, "unverified listed user's page", page, "admin once the address is verified")
		if r := plain.get("/admin/domains"); r.Status != http.StatusForbidden {
			t.Fatalf("an unverified listed account is admin: %d", r.Status)
		}
	})
}

// A change of address needs the current password and takes effect when
// the link mailed to the new address is followed; the old address is told.
func TestChangeEmail(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, box := mailServer(t, driver)
		c := s.user(t, "moving@example.com")
		box.next(t, "moving@example.com")
		if r := c.get("/account/email"); r.Status != http.StatusOK || !strings.Contains(r.Body, `name="current_password"`) {
			t.Fatalf("GET /account/email: %d", r.Status)
		}
		if r := s.client(t).get("/account/email"); r.Status != http.StatusSeeOther {
			t.Errorf("signed out: %d", r.Status)
		}
		for _, tc := range []struct {
			email, pw, want string
		}{
			{"new@example.com", "wrong password", "That is not your current password."},
			{"new@example.com", "", "Enter"},
			{"moving@example.com", "correct horse battery", "That is already your address."},
			{"not-an-address", "correct horse battery", "valid email"},
		} {
			r := c.post("/account/email", url.Values{"email": {tc.email}, "current_password": {tc.pw}})
			if r.Status != http.StatusUnprocessableEntity {
				t.Errorf("%q/%q: %d", tc.email, tc.pw, r.Status)
			}
			mustNotContain(t, "form", r.Body, "wrong password", "correct horse battery")
		}
		box.none(t)
		if r := c.post("/account/email", url.Values{"email": {"New@Example.com"}, "current_password": {"correct horse battery"}}); r.Status != http.StatusSeeOther ||
			r.Header.Get("Location") != "/account/email" {
			t.Fatalf("change: %d %s", r.Status, r.Header.Get("Location"))
		}
		m := box.next(t, "new@example.com")
		if m.Subject != "Confirm your new email address for NodeBird API" || !strings.Contains(m.Text, "moving@example.com") {
			t.Errorf("confirmation mail: %q\n%s", m.Subject, m.Text)
		}
		path := mailLink(t, m, s.URL, "/auth/verify")
		if r := s.client(t).login("moving@example.com", "correct horse battery"); r.Status != http.StatusSeeOther {
			t.Fatal("the address changed before the link was followed")
		}
		if r := c.get(path); r.Status != http.StatusOK || !strings.Contains(r.Body, "new@example.com") || !strings.Contains(r.Body, "moving@example.com") {
			t.Fatalf("GET %s: %d", path, r.Status)
		}
		other := s.client(t) // another session of the account
		if r := other.login("moving@example.com", "correct horse battery"); r.Status != http.StatusSeeOther {
			t.Fatalf("login: %d", r.Status)
		}
		if r := c.post("/auth/verify", url.Values{"token": {linkToken(t, path)}}); r.Status != http.StatusSeeOther {
			t.Fatalf("confirm: %d", r.Status)
		}
		// The confirming session is issued again; every other one ends.
		if !signedIn(c) || signedIn(other) {
			t.Errorf("after the change: this session signed in %v, the other %v", signedIn(c), signedIn(other))
		}
		if r := s.client(t).login("new@example.com", "correct horse battery"); r.Status != http.StatusSeeOther {
			t.Error("the new address does not sign in")
		}
		if r := s.client(t).login("moving@example.com", "correct horse battery"); r.Status != http.StatusUnprocessableEntity {
			t.Error("the old address still signs in")
		}
		n := box.next(t, "moving@example.com")
		if n.Subject != "The email address of your NodeBird API account changed" || !strings.Contains(n.Text, "new@example.com") {
			t.Errorf("notice to the old address: %q\n%s", n.Subject, n.Text)
		}
		u, _ := s.app.users.GetByEmail(context.Background(), "new@example.com")
		if u == nil || !u.Verified() {
			t.Error("the new address is not verified")
		}

		// An address another account took meanwhile is refused at the link.
		c.post("/account/email", url.Values{"email": {"taken@example.com"}, "current_password": {"correct horse battery"}})
		path = mailLink(t, box.next(t, "taken@example.com"), s.URL, "/auth/verify")
		s.user(t, "taken@example.com")
		box.next(t, "taken@example.com")
		if r := c.post("/auth/verify", url.Values{"token": {linkToken(t, path)}}); r.Status != http.StatusConflict {
			t.Fatalf("a taken address: %d", r.Status)
		}
	})
}

// The owner hears of an admin's revocation, restoration and change of
// plan, in the language of the account.
func TestAdminDecisionsAreMailedToTheOwner(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		box := &inbox{Server: mailtest.Start(t, mailtest.Plain)}
		s := newTestServer(t, driver, func(c *config.Config) { c.SMTPURL = box.URL() })
		admin := s.user(t, rootEmail)
		s.app.config.AdminEmails = []string{rootEmail}
		markVerified(t, s.app.db, rootEmail)
		box.next(t, rootEmail)
		owner := s.user(t, "own@example.com")
		box.next(t, "own@example.com")
		owner.post("/lang", url.Values{"lang": {"ko"}, "next": {"/"}})
		owner.register("own.example.com", "free")
		id := strconv.FormatUint(domainIDOf(t, s, "own.example.com"), 10)

		for _, step := range []struct {
			path    string
			form    url.Values
			subject string
			body    string
		}{
			{"/admin/domains/" + id + "/revoke", url.Values{"reason": {"피싱 페이지"}}, "도메인 own.example.com의 사용이 중지되었습니다", "사유: 피싱 페이지"},
			{"/admin/domains/" + id + "/restore", nil, "도메인 own.example.com이 복구되었습니다", "사용 중지 전에 발급된 토큰은 계속 거부"},
			{"/admin/domains/" + id + "/plan", url.Values{"type": {"premium"}}, "own.example.com의 요금제가 바뀌었습니다", "프리미엄으로 바꿨습니다"},
		} {
			if r := admin.post(step.path, step.form); r.Status != http.StatusSeeOther {
				t.Fatalf("%s: %d", step.path, r.Status)
			}
			m := box.next(t, "own@example.com")
			if m.Subject != step.subject || !strings.Contains(m.Text, step.body) || !strings.Contains(m.HTML, `lang="ko"`) {
				t.Errorf("%s: %q\n%s", step.path, m.Subject, m.Text)
			}
		}
		box.none(t)
	})
}

// PREMIUM=approval: the owner hears of the answer to a premium request,
// in the language of the account.
func TestPremiumAnswersAreMailedToTheOwner(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		box := &inbox{Server: mailtest.Start(t, mailtest.Plain)}
		s := newTestServer(t, driver, func(c *config.Config) { c.SMTPURL = box.URL(); c.Premium = config.PremiumApproval })
		admin := s.user(t, rootEmail)
		s.app.config.AdminEmails = []string{rootEmail}
		markVerified(t, s.app.db, rootEmail)
		box.next(t, rootEmail)
		owner := s.user(t, "pro@example.com")
		box.next(t, "pro@example.com")
		for _, step := range []struct {
			lang, host, answer, subject, body string
		}{
			{"en", "yes.example.com", "approve", "Premium approved for yes.example.com", "higher token limit applies now"},
			{"ko", "no.example.com", "decline", "no.example.com의 프리미엄 신청이 거절되었습니다", "무료 요금제로 계속 동작"},
		} {
			owner.post("/lang", url.Values{"lang": {step.lang}, "next": {"/"}})
			owner.register(step.host, "premium")
			path := fmt.Sprintf("/admin/domains/%d/premium/%s", domainIDOf(t, s, step.host), step.answer)
			if r := admin.post(path, nil); r.Status != http.StatusSeeOther {
				t.Fatalf("%s: %d", path, r.Status)
			}
			m := box.next(t, "pro@example.com")
			if m.Subject != step.subject || !strings.Contains(m.Text, step.body) || !strings.Contains(m.HTML, `lang="`+step.lang+`"`) {
				t.Errorf("%s: %q\n%s", path, m.Subject, m.Text)
			}
		}
		box.none(t)
	})
}

// A mail server that refuses the connection costs the request nothing: the
// sign-up answers at once and the failure is logged without its link.
func TestFailedSendIsLoggedNotFatal(t *testing.T) {
	s := newTestServer(t, "sqlite", func(c *config.Config) { c.SMTPURL = "smtp://127.0.0.1:1" })
	start := time.Now()
	s.user(t, "down@example.com")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("sign-up took %v with the mail server down", d)
	}
	s.app.waitMails()
	logs := s.log.String()
	if !strings.Contains(logs, "sending a mail failed") || !strings.Contains(logs, "kind=verify") {
		t.Fatalf("no failure logged:\n%s", logs)
	}
	if strings.Contains(logs, "token=") || strings.Contains(logs, "/auth/verify") {
		t.Errorf("the log holds the link:\n%s", logs)
	}
}

// Without SMTP_URL mails are .eml files under DATA_DIR/mail, and the log
// says where (not the link).
func TestMailsWithoutServerAreFiles(t *testing.T) {
	dir := t.TempDir()
	s := newTestServer(t, "sqlite", func(c *config.Config) { c.DataDir = dir })
	s.user(t, "files@example.com")
	s.app.waitMails()
	logs := s.log.String()
	if !strings.Contains(logs, "mail written to a file") || !strings.Contains(logs, dir+"/mail/") || strings.Contains(logs, "token=") {
		t.Fatalf("log:\n%s", logs)
	}
}
