package handlers

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/nodebird/nodebird-api/internal/testdb"
)

// TestKoreanNickOnALatin1Database: on a MariaDB/MySQL database created
// with DEFAULT CHARACTER SET latin1, sign-up with a Korean nickname
// succeeds (it was a 500), and the nickname reads back equal: stored, on
// the dashboard and in the token's claims.
func TestKoreanNickOnALatin1Database(t *testing.T) {
	db := testdb.FreshCollated(t, "mysql", "latin1_swedish_ci") // latin1, as MySQL 5.7 and many MariaDB installations default to
	s := startApp(t, db, testConfig(), false)
	const nick = "가나다라마바사아자차카타파하가" // 15 characters
	c := s.client(t)
	if r := c.signup("kim@example.com", nick, "correct horse battery"); r.Status != http.StatusSeeOther {
		t.Fatalf("sign-up with a Korean nick: %d\n%.500s", r.Status, r.Body)
	}
	if r := c.login("kim@example.com", "correct horse battery"); r.Status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.Status)
	}
	u, err := s.app.users.GetByEmail(t.Context(), "kim@example.com")
	if err != nil || u.Nick != nick {
		t.Fatalf("stored nick %q (%v), want %q", u.Nick, err, nick)
	}
	if body := c.get("/").Body; !strings.Contains(body, nick) {
		t.Errorf("the dashboard does not show %q", nick)
	}
	tok := s.issueToken(t, c.register("kim.example.com", "free"))
	r := s.client(t).do("GET", "/v1/test", nil, map[string]string{"Authorization": tok})
	var claims struct {
		Nick string `json:"nick"`
	}
	if err := json.Unmarshal([]byte(r.Body), &claims); err != nil || claims.Nick != nick {
		t.Errorf("/v1/test: nick %q (%v), want %q\n%s", claims.Nick, err, nick, r.Body)
	}
}
