package config

import (
	"strings"
	"testing"
)

// MAX_DOMAINS_PER_USER: 100 by default, read when set, at least 1.
func TestMaxDomainsPerUser(t *testing.T) {
	c, err := load(t, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxDomainsPerUser != 100 {
		t.Errorf("default: %d, want 100", c.MaxDomainsPerUser)
	}
	if c, err = load(t, map[string]string{"MAX_DOMAINS_PER_USER": "2500"}); err != nil || c.MaxDomainsPerUser != 2500 {
		t.Errorf("MAX_DOMAINS_PER_USER=2500: %v, %v", c, err)
	}
	for v, want := range map[string]string{
		"0":    "MAX_DOMAINS_PER_USER: must be at least 1",
		"-1":   `MAX_DOMAINS_PER_USER: "-1" is not a non-negative whole number`,
		"many": `MAX_DOMAINS_PER_USER: "many" is not a non-negative whole number`,
	} {
		if _, err := load(t, map[string]string{"MAX_DOMAINS_PER_USER": v}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("MAX_DOMAINS_PER_USER=%s: %v, want %q", v, err, want)
		}
	}
}
