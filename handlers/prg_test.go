package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/models"
)

// Post/Redirect/Get: every portal POST that succeeds answers 303, so that
// no page the browser shows is the answer to a POST (a reload would send
// it again). Every POST route of the portal needs a case here.
func TestEveryPortalPOSTAnswers303(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		owner := s.user(t, "prg@example.com")
		owner.register("prg.example.com", "free")
		owner.register("prg2.example.com", "free")
		id := func(host string) string { return strconv.FormatUint(domainIDOf(t, s, host), 10) }
		uid := strconv.FormatUint(userID(t, s, "prg@example.com"), 10)
		leaving := s.user(t, "leaving@example.com")
		ctx := context.Background()
		mailed := s.user(t, "mailed@example.com") // unverified
		link := func(email, purpose string) string {
			tok, err := s.app.users.NewToken(ctx, userID(t, s, email), purpose, email, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		if r := owner.post("/post", url.Values{"content": {"first"}}); r.Status != http.StatusSeeOther {
			t.Fatalf("post: %d", r.Status)
		}
		var post models.Post
		if err := s.app.db.Take(&post).Error; err != nil {
			t.Fatal(err)
		}

		// The team's actions (admin_team.go): another user, and two
		// domains with a premium request.
		team := s.user(t, "team@example.com")
		team.register("prg4.example.com", "free")
		team.register("prg5.example.com", "free")
		if err := s.app.db.Model(&models.Domain{}).Where("host IN ?", []string{"prg4.example.com", "prg5.example.com"}).
			UpdateColumn("premium_requested", true).Error; err != nil {
			t.Fatal(err)
		}
		teamID := strconv.FormatUint(userID(t, s, "team@example.com"), 10)

		cases := []struct {
			route string // as in the route table
			c     *client
			path  string
			form  url.Values
			to    string // Location
		}{
			{"/auth/join", s.client(t), "/auth/join", url.Values{"email": {"new@example.com"}, "nick": {"new"}, "password": {accountPassword0}}, "/"},
			{"/auth/login", s.client(t), "/auth/login", url.Values{"email": {"prg@example.com"}, "password": {accountPassword0}}, "/"},
			{"/lang", owner, "/lang", url.Values{"lang": {"ko"}, "next": {"/docs"}}, "/docs"},
			{"/domain", owner, "/domain", url.Values{"host": {"prg3.example.com"}, "type": {"free"}}, "/"},
			{"/domain/:id/rotate", owner, "/domain/" + id("prg.example.com") + "/rotate", nil, "/"},
			{"/domain/:id/overlap/end", owner, "/domain/" + id("prg.example.com") + "/overlap/end", nil, "/"},
			{"/domain/:id/label", owner, "/domain/" + id("prg.example.com") + "/label", url.Values{"label": {"Shop"}}, "/domain/" + id("prg.example.com")},
			{"/domain/:id/delete", owner, "/domain/" + id("prg2.example.com") + "/delete", nil, "/"},
			{"/admin/domains/:id/revoke", admin, "/admin/domains/" + id("prg.example.com") + "/revoke", revokeReason(), "/admin/domains"},
			{"/admin/domains/:id/restore", admin, "/admin/domains/" + id("prg.example.com") + "/restore", nil, "/admin/domains"},
			{"/admin/domains/:id/plan", admin, "/admin/domains/" + id("prg.example.com") + "/plan", url.Values{"type": {"premium"}}, "/admin/domains"},
			{"/admin/users/:id", admin, "/admin/users/" + uid, url.Values{"max_domains": {"7"}}, "/admin/users/" + uid},
			{"/admin/users/:id/suspend", admin, "/admin/users/" + teamID + "/suspend", nil, "/admin/users/" + teamID},
			{"/admin/users/:id/unsuspend", admin, "/admin/users/" + teamID + "/unsuspend", nil, "/admin/users/" + teamID},
			{"/admin/users/:id/role", admin, "/admin/users/" + teamID + "/role", url.Values{"role": {"admin"}}, "/admin/users/" + teamID},
			{"/admin/domains/:id/premium/approve", admin, "/admin/domains/" + id("prg4.example.com") + "/premium/approve", url.Values{"next": {"/admin/premium"}}, "/admin/premium"},
			{"/admin/domains/:id/premium/decline", admin, "/admin/domains/" + id("prg5.example.com") + "/premium/decline", url.Values{"next": {"/admin/premium"}}, "/admin/premium"},
			{"/account/nick", owner, "/account/nick", url.Values{"nick": {"renamed"}}, "/account"},
			{"/account/password", owner, "/account/password", url.Values{"current_password": {accountPassword0}, "new_password": {"another password"}}, "/account"},
			{"/account/delete", leaving, "/account/delete", url.Values{"current_password": {accountPassword0}}, "/"},
			{"/post", owner, "/post", url.Values{"content": {"second"}}, "/posts"},
			{"/post/:id/delete", owner, "/post/" + strconv.FormatUint(post.ID, 10) + "/delete", nil, "/posts"},
			{"/auth/forgot", s.client(t), "/auth/forgot", url.Values{"email": {"mailed@example.com"}}, "/"},
			{"/auth/verify/resend", mailed, "/auth/verify/resend", nil, "/"},
			{"/auth/verify", mailed, "/auth/verify", url.Values{"token": {link("mailed@example.com", models.PurposeVerify)}}, "/"},
			{"/account/email", mailed, "/account/email", url.Values{"email": {"moved@example.com"}, "current_password": {accountPassword0}}, "/account/email"},
			{"/auth/reset", s.client(t), "/auth/reset", url.Values{"token": {link("mailed@example.com", models.PurposeReset)}, "new_password": {"a reset password"}}, "/"},
			{"/auth/logout", owner, "/auth/logout", nil, "/"},
		}
		covered := map[string]bool{}
		for _, tc := range cases {
			covered[tc.route] = true
			r := tc.c.post(tc.path, tc.form)
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != tc.to {
				t.Errorf("POST %s: %d to %q, want 303 to %q\n%.300s", tc.path, r.Status, r.Header.Get("Location"), tc.to, r.Body)
			}
		}
		for _, r := range s.app.web.Routes() {
			if r.Method == http.MethodPost && !covered[r.Path] {
				t.Errorf("POST %s: no case in this test", r.Path)
			}
		}
	})
}
