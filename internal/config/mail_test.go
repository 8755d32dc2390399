package config

import (
	"strings"
	"testing"
)

// What a production configuration needs for mails (tests that load one).
const (
	prodSMTP = "smtp://mailer:s3cret-pass@mail.example.com:587"
	prodBase = "https://api.example.com"
)

func TestMailSettings(t *testing.T) {
	prod := func(extra map[string]string) map[string]string {
		env := map[string]string{"APP_ENV": "production", "JWT_SECRET": goodJWT, "SESSION_SECRET": goodSession}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr string // "" loads
		check   func(t *testing.T, c *Config)
	}{
		{"development defaults: files, localhost links", map[string]string{"PORT": "8123"}, "", func(t *testing.T, c *Config) {
			if c.SMTPURL != "" || c.BaseURL != "http://localhost:8123" || c.MailFrom != "NodeBird API <no-reply@localhost>" {
				t.Errorf("%q %q %q", c.SMTPURL, c.BaseURL, c.MailFrom)
			}
		}},
		{"read", map[string]string{"SMTP_URL": "smtps://u:p@mail.example.com", "BASE_URL": "https://nb.example/",
			"MAIL_FROM": "NodeBird <hello@nb.example>"}, "", func(t *testing.T, c *Config) {
			if c.SMTPURL != "smtps://u:p@mail.example.com" || c.BaseURL != "https://nb.example" || c.MailFrom != "NodeBird <hello@nb.example>" {
				t.Errorf("%q %q %q", c.SMTPURL, c.BaseURL, c.MailFrom)
			}
		}},
		{"MAIL_FROM defaults to BASE_URL's host", map[string]string{"BASE_URL": "https://nb.example"}, "", func(t *testing.T, c *Config) {
			if c.MailFrom != "NodeBird API <no-reply@nb.example>" {
				t.Errorf("%q", c.MailFrom)
			}
		}},
		{"production needs SMTP_URL", prod(map[string]string{"BASE_URL": prodBase}), "SMTP_URL: required in production", nil},
		{"production needs BASE_URL", prod(map[string]string{"SMTP_URL": prodSMTP}), "BASE_URL: required in production", nil},
		{"production needs https links", prod(map[string]string{"SMTP_URL": prodSMTP, "BASE_URL": "http://api.example.com"}), "must be https", nil},
		{"production with both", prod(map[string]string{"SMTP_URL": prodSMTP, "BASE_URL": prodBase}), "", nil},
		{"bad scheme", map[string]string{"SMTP_URL": "http://u:s3cret-pass@mail.example.com"}, "SMTP_URL: scheme", nil},
		{"no host", map[string]string{"SMTP_URL": "smtp://u:s3cret-pass@:25"}, "SMTP_URL: no host", nil},
		{"bad BASE_URL", map[string]string{"BASE_URL": "api.example.com"}, "BASE_URL:", nil},
		{"bad MAIL_FROM", map[string]string{"MAIL_FROM": "nobody"}, "MAIL_FROM:", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.env)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), "s3cret-pass"):
				t.Errorf("the error shows SMTP_URL's password: %v", err)
			case tc.check != nil:
				tc.check(t, c)
			}
		})
	}
}
