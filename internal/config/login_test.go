package config

import (
	"strings"
	"testing"
	"time"
)

// The login limits: per account and network, per network, and the
// account-wide ceiling with its slow interval.
func TestLoginSettings(t *testing.T) {
	c, err := load(t, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if c.LoginFailsAccount != 5 || c.LoginFailsIP != 20 || c.LoginWindow != 15*time.Minute ||
		c.LoginAccountCeiling != 50 || c.LoginSlowInterval != 30*time.Second {
		t.Fatalf("defaults: %d %d %v %d %v", c.LoginFailsAccount, c.LoginFailsIP, c.LoginWindow, c.LoginAccountCeiling, c.LoginSlowInterval)
	}
	c, err = load(t, map[string]string{
		"LOGIN_MAX_FAILS_ACCOUNT": "3", "LOGIN_MAX_FAILS_IP": "9", "LOGIN_WINDOW": "1h",
		"LOGIN_ACCOUNT_CEILING": "200", "LOGIN_SLOW_INTERVAL": "1m",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.LoginFailsAccount != 3 || c.LoginFailsIP != 9 || c.LoginWindow != time.Hour ||
		c.LoginAccountCeiling != 200 || c.LoginSlowInterval != time.Minute {
		t.Fatalf("read: %d %d %v %d %v", c.LoginFailsAccount, c.LoginFailsIP, c.LoginWindow, c.LoginAccountCeiling, c.LoginSlowInterval)
	}
	for key, want := range map[string]string{
		"LOGIN_ACCOUNT_CEILING": "LOGIN_ACCOUNT_CEILING: must be at least 1",
		"LOGIN_SLOW_INTERVAL":   "LOGIN_SLOW_INTERVAL: must be at least 1s",
	} {
		if _, err := load(t, map[string]string{key: "0"}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s=0: %v, want %q", key, err, want)
		}
	}
}
