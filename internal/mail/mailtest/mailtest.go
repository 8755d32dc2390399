// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp)
// in the test process, keeps what it receives and reads it back: tests of
// anything that sends mail talk to it as they would to a mail provider.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mode is how the server speaks TLS.
type Mode int

const (
	// Plain offers no TLS at all.
	Plain Mode = iota
	// StartTLS offers STARTTLS.
	StartTLS
	// Implicit speaks TLS from the first byte (smtps://).
	Implicit
)

// Received is one message the server accepted.
type Received struct {
	From string
	To   []string
	Data []byte
	// TLS says whether the message came over TLS; User is who authenticated ("" for no one).
	TLS  bool
	User string
}

// Server is a running SMTP server.
type Server struct {
	Addr string
	// CAs trusts the server's certificate (for the client's tls.Config).
	CAs *x509.CertPool

	mode       Mode
	user, pass string
	srv        *smtp.Server
	mu         sync.Mutex
	got        []Received
	arrived    chan struct{}
}

// Option configures Start.
type Option func(*Server)

// WithAuth makes the server require PLAIN authentication with user and pass.
func WithAuth(user, pass string) Option { return func(s *Server) { s.user, s.pass = user, pass } }

// Start runs a server on 127.0.0.1 until the test ends.
func Start(t testing.TB, mode Mode, opts ...Option) *Server {
	t.Helper()
	s := &Server{mode: mode, arrived: make(chan struct{}, 1000)}
	for _, o := range opts {
		o(s)
	}
	cert, pool := selfSigned(t)
	s.CAs = pool
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, c: c}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = mode == Plain // net/smtp sends PLAIN in clear only to localhost
	s.srv.ReadTimeout, s.srv.WriteTimeout = 10*time.Second, 10*time.Second
	s.srv.ErrorLog = quietLog{}
	var ln net.Listener
	var err error
	if mode != Plain {
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	if mode == Implicit {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", s.srv.TLSConfig)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// URL is the SMTP_URL that reaches this server (with its credentials).
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.Addr}
	if s.mode == Implicit {
		u.Scheme = "smtps"
	}
	if s.user != "" {
		u.User = url.UserPassword(s.user, s.pass)
	}
	return u.String()
}

// TLSConfig trusts the server's certificate.
func (s *Server) TLSConfig() *tls.Config { return &tls.Config{RootCAs: s.CAs} }

// Messages returns every message received so far.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.got...)
}

// Wait returns the n-th message (from 1) once it has arrived, failing the
// test after 10 s.
func (s *Server) Wait(t testing.TB, n int) Received {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if got := s.Messages(); len(got) >= n {
			return got[n-1]
		}
		select {
		case <-s.arrived:
		case <-deadline:
			t.Fatalf("mail %d did not arrive within 10s (%d received)", n, len(s.Messages()))
		}
	}
}

type session struct {
	s    *Server
	c    *smtp.Conn
	from string
	to   []string
	user string
}

func (x *session) AuthMechanisms() []string {
	if x.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (x *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != x.s.user || pass != x.s.pass {
			return errors.New("invalid credentials")
		}
		x.user = user
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.user != "" && x.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, tlsOn := x.c.TLSConnectionState()
	x.s.mu.Lock()
	x.s.got = append(x.s.got, Received{From: x.from, To: x.to, Data: b, TLS: tlsOn, User: x.user})
	x.s.mu.Unlock()
	x.s.arrived <- struct{}{}
	return nil
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

type quietLog struct{}

func (quietLog) Printf(string, ...any) {}
func (quietLog) Println(...any)        {}

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a pool trusting it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailtest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// Parsed is a received message taken apart.
type Parsed struct {
	From, To, Subject string
	// ContentType is the top-level media type (multipart/alternative).
	ContentType string
	// Text and HTML are the decoded bodies of the two parts.
	Text, HTML string
}

// Parse takes a multipart/alternative message apart, decoding its subject
// and parts.
func Parse(data []byte) (*Parsed, error) {
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return nil, err
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	p := &Parsed{From: m.Header.Get("From"), To: m.Header.Get("To"), Subject: subject, ContentType: mt}
	if !strings.HasPrefix(mt, "multipart/") {
		return nil, fmt.Errorf("not multipart: %s", mt)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		var r io.Reader = part // multipart decodes quoted-printable itself
		if part.Header.Get("Content-Transfer-Encoding") != "" {
			r = quotedprintable.NewReader(part)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			p.Text = strings.ReplaceAll(string(b), "\r\n", "\n")
		case "text/html":
			p.HTML = strings.ReplaceAll(string(b), "\r\n", "\n")
		}
	}
	return p, nil
}

var linkRe = regexp.MustCompile(`https?://[^\s"<>]+`)

// Link is the first link in the message's plain text with the given path
// (such as "/auth/reset"), "" if none.
func (p *Parsed) Link(path string) string {
	for _, l := range linkRe.FindAllString(p.Text, -1) {
		if u, err := url.Parse(l); err == nil && u.Path == path {
			return l
		}
	}
	return ""
}
