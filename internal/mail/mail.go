// Package mail sends the portal's mails: multipart messages (plain text
// and HTML) through an SMTP server named by a URL, or, without one, as
// .eml files in a directory (development).
//
// SMTP goes through net/smtp: smtp://user:pass@host:port upgrades to TLS
// with STARTTLS whenever the server offers it (and net/smtp's PLAIN auth
// refuses to send credentials unencrypted to anything but localhost);
// smtps://user:pass@host:port speaks TLS from the first byte. Every send
// is bounded by a timeout, so a slow or silent server cannot hold the
// caller.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Message is one mail: a subject and the same content as plain text and HTML.
type Message struct {
	To      string // a bare address
	Subject string
	Text    string
	HTML    string
}

// Options configure a Mailer.
type Options struct {
	// URL is smtp://[user[:pass]@]host[:port] (port 587 by default) or
	// smtps://... (port 465); empty writes .eml files into Dir instead.
	URL string
	// From is the sender, "Name <addr>" or a bare address.
	From string
	// Dir receives the .eml files when URL is empty.
	Dir string
	// Timeout bounds one whole send (dial, TLS, dialogue); 0 means 15s.
	Timeout time.Duration
	// TLS is the base TLS configuration (tests add their CA); ServerName
	// is always the URL's host.
	TLS *tls.Config
}

// Mailer sends Messages. Its methods are safe for concurrent use.
type Mailer struct {
	from    *mail.Address
	server  *url.URL // nil: files in dir
	dir     string
	timeout time.Duration
	tls     *tls.Config
	log     *slog.Logger
}

// ParseURL checks an SMTP_URL. Its errors never contain the password.
func ParseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("not a URL such as smtp://user:pass@mail.example.com:587")
	}
	switch {
	case u.Scheme != "smtp" && u.Scheme != "smtps":
		return nil, fmt.Errorf("scheme %q: use smtp:// (STARTTLS when offered) or smtps:// (TLS)", u.Scheme)
	case u.Hostname() == "":
		return nil, errors.New("no host: smtp://user:pass@mail.example.com:587")
	case u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "":
		return nil, errors.New("an SMTP URL has no path or query")
	}
	if p := u.Port(); p != "" {
		if n, err := net.LookupPort("tcp", p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port %q is not a TCP port", p)
		}
	}
	return u, nil
}

// New makes a Mailer; log says where files go and what failed.
func New(o Options, log *slog.Logger) (*Mailer, error) {
	from, err := mail.ParseAddress(o.From)
	if err != nil {
		return nil, fmt.Errorf("MAIL_FROM: %q is not an address such as NodeBird <no-reply@example.com>", o.From)
	}
	m := &Mailer{from: from, dir: o.Dir, timeout: o.Timeout, tls: o.TLS, log: log}
	if m.timeout <= 0 {
		m.timeout = 15 * time.Second
	}
	if m.tls == nil {
		m.tls = &tls.Config{}
	}
	if o.URL != "" {
		if m.server, err = ParseURL(o.URL); err != nil {
			return nil, fmt.Errorf("SMTP_URL: %w", err)
		}
	}
	return m, nil
}

// ToFiles reports whether mails are written as files rather than sent.
func (m *Mailer) ToFiles() bool { return m.server == nil }

// Send delivers msg within the Mailer's timeout (or ctx's end, if sooner).
func (m *Mailer) Send(ctx context.Context, msg Message) error {
	body, err := m.compose(msg, time.Now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	if m.server == nil {
		return m.writeFile(body)
	}
	return m.sendSMTP(ctx, msg.To, body)
}

// compose builds the RFC 5322 message: multipart/alternative, the plain
// text first and the HTML last (the preferred part), each quoted-printable
// UTF-8.
func (m *Mailer) compose(msg Message, now time.Time) ([]byte, error) {
	to, err := mail.ParseAddress(msg.To)
	if err != nil || to.Name != "" {
		return nil, fmt.Errorf("mail: recipient is not a bare address")
	}
	if strings.ContainsAny(msg.Subject, "\r\n") {
		return nil, errors.New("mail: a subject is one line")
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	h := []struct{ k, v string }{
		{"From", m.from.String()},
		{"To", to.String()},
		{"Subject", mime.QEncoding.Encode("utf-8", msg.Subject)},
		{"Date", now.Format(time.RFC1123Z)},
		{"Message-ID", "<" + randomID() + "@" + domainOf(m.from.Address) + ">"},
		{"MIME-Version", "1.0"},
		{"Content-Type", "multipart/alternative; boundary=" + mw.Boundary()},
	}
	var head bytes.Buffer
	for _, f := range h {
		head.WriteString(f.k + ": " + f.v + "\r\n")
	}
	head.WriteString("\r\n")
	for _, p := range []struct{ typ, body string }{{"text/plain", msg.Text}, {"text/html", msg.HTML}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(strings.ReplaceAll(p.body, "\n", "\r\n"))); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return append(head.Bytes(), b.Bytes()...), nil
}

// writeFile keeps the message as an .eml file in dir and logs where (the
// path only: the message may hold a one-time link).
func (m *Mailer) writeFile(body []byte) error {
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return fmt.Errorf("mail: creating %s: %w", m.dir, err)
	}
	path := filepath.Join(m.dir, time.Now().UTC().Format("20060102T150405.000")+"-"+randomID()[:8]+".eml")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	m.log.Info("mail written to a file (SMTP_URL is not set)", "path", path)
	return nil
}

// sendSMTP runs one SMTP dialogue within ctx: a connection's every read
// and write has ctx's deadline, and ctx's end closes it.
func (m *Mailer) sendSMTP(ctx context.Context, to string, body []byte) error {
	u := m.server
	host, port := u.Hostname(), u.Port()
	implicit := u.Scheme == "smtps"
	if port == "" {
		port = "587"
		if implicit {
			port = "465"
		}
	}
	tlsCfg := m.tls.Clone()
	tlsCfg.ServerName = host
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return fmt.Errorf("mail: connecting to %s:%s: %w", host, port, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if implicit {
		tc := tls.Client(conn, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("mail: TLS with %s: %w", host, err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("mail: greeting from %s: %w", host, err)
	}
	defer c.Close()
	if !implicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsCfg); err != nil {
				return fmt.Errorf("mail: STARTTLS with %s: %w", host, err)
			}
		}
	}
	if u.User != nil {
		pass, _ := u.User.Password()
		// PlainAuth refuses an unencrypted connection to anything but localhost.
		if err := c.Auth(smtp.PlainAuth("", u.User.Username(), pass, host)); err != nil {
			return fmt.Errorf("mail: authenticating with %s: %w", host, err)
		}
	}
	if err := c.Mail(m.from.Address); err != nil {
		return fmt.Errorf("mail: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("mail: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("mail: sending the message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail: message refused: %w", err)
	}
	return c.Quit()
}

func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return "localhost"
}
