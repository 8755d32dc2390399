package config

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strconv"
	"strings"

	imail "github.com/nodebird/nodebird-api/internal/mail"
)

// loadMail reads SMTP_URL, MAIL_FROM and BASE_URL. In production mails
// must go out (SMTP_URL) and their links must lead to the public site
// (BASE_URL); in development, without SMTP_URL, they are written as .eml
// files under DATA_DIR/mail and BASE_URL is http://localhost:PORT.
// No error shows SMTP_URL's password.
func (c *Config) loadMail(get func(k, def string) string) []error {
	var errs []error
	c.SMTPURL = get("SMTP_URL", "")
	if c.SMTPURL != "" {
		if _, err := imail.ParseURL(c.SMTPURL); err != nil {
			errs = append(errs, fmt.Errorf("SMTP_URL: %w", err))
		}
	} else if c.Production() {
		errs = append(errs, errors.New("SMTP_URL: required in production (smtp://user:pass@mail.example.com:587, or smtps:// for TLS from the start)"))
	}

	c.BaseURL = strings.TrimSuffix(get("BASE_URL", ""), "/")
	switch u, err := url.Parse(c.BaseURL); {
	case c.BaseURL == "" && c.Production():
		errs = append(errs, errors.New("BASE_URL: required in production: the site's public address, used in the links of mails (https://api.example.com)"))
	case c.BaseURL == "":
		c.BaseURL = "http://localhost:" + strconv.Itoa(c.Port)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		errs = append(errs, fmt.Errorf("BASE_URL: %q is not an address such as https://api.example.com", c.BaseURL))
	case c.Production() && u.Scheme != "https":
		errs = append(errs, fmt.Errorf("BASE_URL: %q must be https in production (its links carry one-time tokens)", c.BaseURL))
	}

	c.MailFrom = get("MAIL_FROM", "")
	if c.MailFrom == "" {
		host := "localhost"
		if u, err := url.Parse(c.BaseURL); err == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
		c.MailFrom = "NodeBird API <no-reply@" + host + ">"
	}
	if a, err := mail.ParseAddress(c.MailFrom); err != nil || strings.ContainsAny(a.Address, "\r\n") {
		errs = append(errs, fmt.Errorf("MAIL_FROM: %q is not an address such as NodeBird API <no-reply@example.com>", c.MailFrom))
	}
	return errs
}
