package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/models"
)

// together runs n requests at once (released by one signal) and returns
// their responses in order.
func together(n int, do func(i int) response) []response {
	out := make([]response, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = do(i)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// formRequest posts a form with a CSRF token fetched beforehand (c.post
// fetches one per call, which is not what concurrent requests want).
func formRequest(c *client, path, csrf string, v url.Values) response {
	v.Set("_csrf", csrf)
	return c.do("POST", path, strings.NewReader(v.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

// failure is what the log says about a failed request (its error).
func failure(t *testing.T, logs *logBuffer, r response) string {
	rid := r.Header.Get("X-Request-ID")
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"request_id":"`+rid+`"`) && strings.Contains(line, `"err"`) {
			return line
		}
	}
	return "(nothing logged)"
}

// roomyTimeout gives each query time to wait for a connection and a CPU.
// These tests look for lost rows, duplicates and 500s when requests race;
// 100 dashboards rendered at once on a shared 2-CPU runner (with -race,
// ten times slower) are CPU-bound, and the usual 1.5-2s query timeout then
// sheds load with 503s, by design (see TestDatabaseFaults): capacity is
// not what these tests measure.
func roomyTimeout(c *config.Config) { c.DBQueryTimeout = 20 * time.Second }

func TestConcurrentDomainRegistrations(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, logs := newOpsServer(t, driver, nil, roomyTimeout)
		c := s.user(t, "many@example.com")
		c.http.Timeout = 2 * time.Minute // the answers queue for the CPU
		csrf := c.csrf()
		start := time.Now()
		const n = 100
		rs := together(n, func(i int) response {
			return formRequest(c, "/domain", csrf, url.Values{"host": {fmt.Sprintf("site%03d.example.com", i)}, "type": {"free"}})
		})
		t.Logf("%d registrations at once answered in %v", n, time.Since(start).Round(time.Millisecond))
		shown := map[string]bool{}
		for i, r := range rs {
			if r.Status != http.StatusSeeOther {
				t.Errorf("registration %d: %d %s", i, r.Status, failure(t, logs, r))
				continue
			}
			if m := secretRe.FindStringSubmatch(c.followAlone(r).Body); m != nil {
				shown[m[1]] = true
			}
		}
		if len(shown) != n {
			t.Errorf("%d distinct secrets shown, want %d", len(shown), n)
		}

		u, err := s.app.users.GetByEmail(context.Background(), "many@example.com")
		if err != nil {
			t.Fatal(err)
		}
		ds, err := s.app.domains.ListForUser(context.Background(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		hosts, hashes := map[string]bool{}, map[string]bool{}
		for _, d := range ds {
			hosts[d.Host], hashes[d.SecretHash] = true, true
		}
		if len(ds) != n || len(hosts) != n || len(hashes) != n {
			t.Errorf("stored %d domains, %d hosts, %d distinct secrets; want %d of each", len(ds), len(hosts), len(hashes), n)
		}
	})
}

func TestConcurrentSignupsSameEmail(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, logs := newOpsServer(t, driver, nil, roomyTimeout)
		const n = 20
		clients, tokens := make([]*client, n), make([]string, n)
		for i := range n {
			clients[i] = s.client(t)
			tokens[i] = clients[i].csrf()
		}
		rs := together(n, func(i int) response {
			return formRequest(clients[i], "/auth/join", tokens[i], url.Values{
				"email": {"same@example.com"}, "nick": {fmt.Sprintf("n%d", i)}, "password": {"correct horse battery"}})
		})
		// Every one gets a sign-up's answer (a taken address is not told);
		// one account is stored.
		for i, r := range rs {
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
				t.Errorf("sign-up %d: %d %s", i, r.Status, failure(t, logs, r))
			}
		}
		var count int64
		if err := s.app.db.Model(&models.User{}).Where("email = ?", "same@example.com").Count(&count).Error; err != nil {
			t.Fatal(err)
		}
		if count != 1 {
			t.Errorf("%d users stored with the email, want 1", count)
		}
	})
}
