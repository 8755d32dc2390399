package config

import (
	"strings"
	"testing"
)

// PREMIUM: open by default, approval when asked, anything else refused.
func TestPremium(t *testing.T) {
	c, err := load(t, map[string]string{})
	if err != nil || c.Premium != PremiumOpen {
		t.Fatalf("default: %v, %v; want open", c, err)
	}
	for v, want := range map[string]string{"approval": PremiumApproval, " Approval ": PremiumApproval, "OPEN": PremiumOpen} {
		if c, err := load(t, map[string]string{"PREMIUM": v}); err != nil || c.Premium != want {
			t.Errorf("PREMIUM=%q: %v, %v; want %s", v, c, err, want)
		}
	}
	if _, err := load(t, map[string]string{"PREMIUM": "closed"}); err == nil || !strings.Contains(err.Error(), `PREMIUM: "closed" is neither open nor approval`) {
		t.Errorf("PREMIUM=closed: %v", err)
	}
}
