package config

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"strings"
	"testing"
)

// weakSecrets are secrets of 32 bytes or more that production refuses.
var weakSecrets = []string{
	strings.Repeat("a", 32),
	strings.Repeat("j", 40),
	strings.Repeat("0123456789abcdef", 2),
	strings.Repeat("0123456789abcdef", 4),
	strings.Repeat("0123456789ABCDEF", 4),
	strings.Repeat("password", 4),
	strings.Repeat("password", 8),
	strings.Repeat("Password1!", 4),
	strings.Repeat("correcthorse", 4),
	strings.Repeat("changeme-", 4),
	strings.Repeat("ab", 16),
	strings.Repeat("secret", 6),
	"abcdefghijklmnopqrstuvwxyz012345",
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
	"zyxwvutsrqponmlkjihgfedcba9876543210",
	"qwertyuiopasdfghjklzxcvbnm123456",
	"thisismysupersecretjwtkeyforprod",
	"my-super-secret-session-key-2024!",
	"my-super-secret-key-for-production",
	"your-256-bit-secret-your-256-bit-secret",
	"test-jwt-secret-0123456789abcdef0123456789",
	"test-session-secret-0123456789abcdef012345",
	"Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3",
	"d41d8cd98f00b204e9800998ecf8427e", // 32 hex digits: 128 bits at most, not more
}

func TestSecretBitsRefusesWeakSecrets(t *testing.T) {
	for _, s := range weakSecrets {
		if len(s) < MinSecretLen {
			t.Fatalf("%q is shorter than %d bytes: the length rule refuses it already", s, MinSecretLen)
		}
		if b := secretBits(s); b > MinSecretBits {
			t.Errorf("secretBits(%q) = %.1f, want at most %d", s, b, MinSecretBits)
		}
	}
}

// TestSecretBitsAcceptsGeneratedSecrets: what the README's command and
// other usual generators make passes, every time.
func TestSecretBitsAcceptsGeneratedSecrets(t *testing.T) {
	random := func(n int) []byte {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for name, gen := range map[string]func() string{
		"openssl rand -hex 32":    func() string { return hex.EncodeToString(random(32)) },
		"openssl rand -base64 32": func() string { return base64.StdEncoding.EncodeToString(random(32)) },
		"openssl rand -base64 24": func() string { return base64.StdEncoding.EncodeToString(random(24)) },
		"base64url, 32 bytes":     func() string { return base64.RawURLEncoding.EncodeToString(random(32)) },
		"upper-case hex, 32":      func() string { return strings.ToUpper(hex.EncodeToString(random(32))) },
		"pwgen -s 32": func() string {
			b := random(32)
			for i := range b {
				b[i] = alnum[int(b[i])%len(alnum)]
			}
			return string(b)
		},
	} {
		for range 3000 {
			if s := gen(); secretBits(s) <= MinSecretBits {
				t.Fatalf("%s: %q estimated at %.1f bits", name, s, secretBits(s))
			}
		}
	}
}

func TestSecretBitsIsQuickOnLongSecrets(t *testing.T) {
	for _, s := range []string{strings.Repeat("a", 100000), strings.Repeat("ab", 50000), hex.EncodeToString(make([]byte, 50000))} {
		if b := secretBits(s); b > MinSecretBits {
			t.Errorf("%.20q...: %.1f bits", s, b)
		}
	}
}

func TestProductionRefusesWeakSecrets(t *testing.T) {
	for _, weak := range []string{strings.Repeat("a", 32), strings.Repeat("0123456789abcdef", 4), strings.Repeat("password", 4)} {
		for _, setting := range []string{"JWT_SECRET", "SESSION_SECRET"} {
			env := map[string]string{"APP_ENV": "production", "JWT_SECRET": goodJWT, "SESSION_SECRET": goodSession}
			env[setting] = weak
			_, err := load(t, env)
			if err == nil {
				t.Fatalf("%s=%q: loaded", setting, weak)
			}
			for _, want := range []string{setting + ": too easy to guess (estimated", "must exceed 128 bits", "openssl rand -hex 32"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s=%q: error %q lacks %q", setting, weak, err, want)
				}
			}
			if strings.Contains(err.Error(), weak) {
				t.Errorf("the error shows the secret: %q", err)
			}
		}
	}
}

func TestDevelopmentWarnsOfWeakSecrets(t *testing.T) {
	var logs bytes.Buffer
	env := map[string]string{"DATA_DIR": t.TempDir(), "JWT_SECRET": strings.Repeat("a", 32), "SESSION_SECRET": goodSession}
	c, err := Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("development refused a weak secret: %v", err)
	}
	if string(c.JWTSecret) != strings.Repeat("a", 32) {
		t.Error("the configured secret was not used")
	}
	out := logs.String()
	for _, want := range []string{"level=WARN", "setting=JWT_SECRET", "too easy to guess"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SESSION_SECRET") || strings.Contains(out, strings.Repeat("a", 32)) {
		t.Errorf("log warns of a strong secret or shows one:\n%s", out)
	}
}

func TestMetricsToken(t *testing.T) {
	for _, tc := range []struct {
		name, token string
		wantErr     string // "" loads
	}{
		{"unset", "", ""},
		{"generated", "2c7d0e5b8f1a4c9e3b6d0f2a5c8e1b4d7f0a3c6e9b2d5f8a1c4e7b0d3f6a9c2e", ""},
		{"too short", "2c7d0e5b8f1a4c9e", "METRICS_TOKEN: at least 32 bytes in production"},
		{"easy to guess", strings.Repeat("metrics!", 5), "METRICS_TOKEN: too easy to guess"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, map[string]string{"APP_ENV": "production", "JWT_SECRET": goodJWT, "SESSION_SECRET": goodSession, "METRICS_TOKEN": tc.token,
				"SMTP_URL": prodSMTP, "BASE_URL": prodBase})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr == "" && string(c.MetricsToken) != tc.token:
				t.Errorf("MetricsToken %q, want %q", c.MetricsToken, tc.token)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
	if _, err := load(t, map[string]string{"METRICS_TOKEN": "short"}); err != nil {
		t.Errorf("development refused a short METRICS_TOKEN: %v", err)
	}
}

// The previous keys of a rotation are held to the rules of the current ones.
func TestPreviousSecrets(t *testing.T) {
	const generated = "2c7d0e5b8f1a4c9e3b6d0f2a5c8e1b4d7f0a3c6e9b2d5f8a1c4e7b0d3f6a9c2e"
	for _, name := range []string{"JWT_SECRET_PREVIOUS", "SESSION_SECRET_PREVIOUS"} {
		for _, tc := range []struct {
			name, value string
			wantErr     string // "" loads
		}{
			{"unset", "", ""},
			{"generated", generated, ""},
			{"too short", "2c7d0e5b8f1a4c9e", name + ": at least 32 bytes in production"},
			{"easy to guess", "my-super-secret-key-for-production", name + ": too easy to guess"},
		} {
			t.Run(name+" "+tc.name, func(t *testing.T) {
				c, err := load(t, map[string]string{"APP_ENV": "production", "JWT_SECRET": goodJWT, "SESSION_SECRET": goodSession, name: tc.value,
					"SMTP_URL": prodSMTP, "BASE_URL": prodBase})
				switch {
				case tc.wantErr == "" && err != nil:
					t.Fatal(err)
				case tc.wantErr == "":
					got := map[string][]byte{"JWT_SECRET_PREVIOUS": c.JWTSecretPrevious, "SESSION_SECRET_PREVIOUS": c.SessionSecretPrevious}[name]
					if string(got) != tc.value {
						t.Errorf("%s read as %q", name, got)
					}
				case err == nil || !strings.Contains(err.Error(), tc.wantErr):
					t.Errorf("error %v, want %q", err, tc.wantErr)
				case strings.Contains(err.Error(), tc.value):
					t.Errorf("the error shows the secret: %v", err)
				}
			})
		}
	}
}
