package mail_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/mail"
	"github.com/nodebird/nodebird-api/internal/mail/mailtest"
)

var msg = mail.Message{
	To:      "owner@example.com",
	Subject: "비밀번호 재설정 · Reset",
	Text:    "Hello 앨리스,\nfollow https://nodebird.example/auth/reset?token=abc\n" + strings.Repeat("long line ", 20),
	HTML:    `<p>Hello 앨리스, <a href="https://nodebird.example/auth/reset?token=abc">reset</a></p>`,
}

func newMailer(t *testing.T, o mail.Options) (*mail.Mailer, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	if o.From == "" {
		o.From = "NodeBird API <no-reply@nodebird.example>"
	}
	m, err := mail.New(o, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return m, &logs
}

// checkReceived: the message arrived whole, multipart plain text + HTML,
// its UTF-8 subject and bodies intact.
func checkReceived(t *testing.T, r mailtest.Received) {
	t.Helper()
	if r.From != "no-reply@nodebird.example" || len(r.To) != 1 || r.To[0] != "owner@example.com" {
		t.Errorf("envelope: from %q to %q", r.From, r.To)
	}
	p, err := mailtest.Parse(r.Data)
	if err != nil {
		t.Fatal(err)
	}
	if p.ContentType != "multipart/alternative" || p.Subject != msg.Subject || p.Text != msg.Text || p.HTML != msg.HTML {
		t.Errorf("message: %+v", p)
	}
	if p.To != "<owner@example.com>" || p.From != `"NodeBird API" <no-reply@nodebird.example>` {
		t.Errorf("headers: From %q To %q", p.From, p.To)
	}
	if p.Link("/auth/reset") != "https://nodebird.example/auth/reset?token=abc" {
		t.Errorf("link: %q", p.Link("/auth/reset"))
	}
}

// Each way of reaching a server: plain SMTP on localhost, STARTTLS when
// offered (with credentials sent only after it), implicit TLS (smtps://).
func TestSendThroughEachKindOfServer(t *testing.T) {
	for _, c := range []struct {
		name    string
		mode    mailtest.Mode
		auth    bool
		wantTLS bool
	}{
		{"plain", mailtest.Plain, false, false},
		{"plain with auth on localhost", mailtest.Plain, true, false},
		{"starttls", mailtest.StartTLS, true, true},
		{"smtps", mailtest.Implicit, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var opts []mailtest.Option
			if c.auth {
				opts = append(opts, mailtest.WithAuth("mailer", "p@ss:w/rd"))
			}
			srv := mailtest.Start(t, c.mode, opts...)
			m, _ := newMailer(t, mail.Options{URL: srv.URL(), TLS: srv.TLSConfig()})
			if m.ToFiles() {
				t.Fatal("a mailer with SMTP_URL writes files")
			}
			if err := m.Send(context.Background(), msg); err != nil {
				t.Fatal(err)
			}
			r := srv.Wait(t, 1)
			checkReceived(t, r)
			if r.TLS != c.wantTLS {
				t.Errorf("over TLS: %v, want %v", r.TLS, c.wantTLS)
			}
			if want := map[bool]string{true: "mailer"}[c.auth]; r.User != want {
				t.Errorf("authenticated as %q, want %q", r.User, want)
			}
		})
	}
}

// A server whose certificate the client does not trust gets nothing, the
// password least of all; a wrong password is an error.
func TestSendRefusesUntrustedServerAndBadPassword(t *testing.T) {
	srv := mailtest.Start(t, mailtest.StartTLS, mailtest.WithAuth("mailer", "secret-pass"))
	m, _ := newMailer(t, mail.Options{URL: srv.URL()}) // system roots: the test CA is unknown
	err := m.Send(context.Background(), msg)
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("untrusted certificate: %v", err)
	}
	if strings.Contains(err.Error(), "secret-pass") {
		t.Error("the error shows the password")
	}
	bad := strings.Replace(srv.URL(), "secret-pass", "wrong", 1)
	m, _ = newMailer(t, mail.Options{URL: bad, TLS: srv.TLSConfig()})
	if err := m.Send(context.Background(), msg); err == nil || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("wrong password: %v", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages delivered", n)
	}
}

// A server that accepts the connection and never answers holds a send no
// longer than the timeout.
func TestSendGivesUpOnASilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // never greets
		}
	}()
	m, _ := newMailer(t, mail.Options{URL: "smtp://" + ln.Addr().String(), Timeout: 300 * time.Millisecond})
	start := time.Now()
	err = m.Send(context.Background(), msg)
	if err == nil {
		t.Fatal("a silent server took the mail")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("send took %v with a 300ms timeout", d)
	}
}

// Without SMTP_URL a mail is an .eml file in the directory, readable as
// the same message, and the log says where but never what (its link).
func TestWithoutServerMailsAreFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mail")
	m, logs := newMailer(t, mail.Options{Dir: dir})
	if !m.ToFiles() {
		t.Fatal("no SMTP_URL, yet not files")
	}
	if err := m.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) != 1 {
		t.Fatalf("files: %v", files)
	}
	st, _ := os.Stat(files[0])
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v", st.Mode().Perm())
	}
	b, _ := os.ReadFile(files[0])
	checkReceived(t, mailtest.Received{From: "no-reply@nodebird.example", To: []string{"owner@example.com"}, Data: b})
	if !strings.Contains(logs.String(), files[0]) || strings.Contains(logs.String(), "token=") {
		t.Errorf("log: %s", logs)
	}
}

// Header injection and bad settings are refused; a URL's password never
// appears in an error.
func TestRefusals(t *testing.T) {
	m, _ := newMailer(t, mail.Options{Dir: t.TempDir()})
	for _, bad := range []mail.Message{
		{To: "owner@example.com\r\nBcc: x@evil.example", Subject: "s"},
		{To: "Name <owner@example.com>", Subject: "s"},
		{To: "owner@example.com", Subject: "s\r\nBcc: x@evil.example"},
	} {
		if err := m.Send(context.Background(), bad); err == nil {
			t.Errorf("sent %+v", bad)
		}
	}
	for _, u := range []string{"http://u:hunter2@mail.example", "smtp://u:hunter2@", "smtp://u:hunter2@mail.example/path",
		"smtp://u:hunter2@mail.example:99999", "smtp://u:hunter2@mail example"} {
		_, err := mail.ParseURL(u)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseURL(%q): %v", u, err)
		}
	}
	if _, err := mail.New(mail.Options{From: "not an address"}, slog.Default()); err == nil {
		t.Error("a bad MAIL_FROM was accepted")
	}
}
