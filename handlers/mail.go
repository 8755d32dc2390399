package handlers

import (
	"bytes"
	"context"
	htmltemplate "html/template"
	"io/fs"
	"net/url"
	"path/filepath"
	"sync"
	texttemplate "text/template"
	"time"

	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/internal/mail"
	"github.com/nodebird/nodebird-api/models"
)

// Mails to account owners: one layout (templates/mail/mail.{txt,html}),
// filled with catalogue messages in the recipient's language. Sending is
// in the background, each send bounded by the mailer's timeout, so that no
// request waits on the mail server (and a reset request takes the same
// time whether or not a mail goes out); Run waits for the sends in flight
// before it returns.

// mailSendTimeout bounds one send: dial, TLS, the whole SMTP dialogue.
const mailSendTimeout = 15 * time.Second

// mailer is the App's part that sends mail.
type mailer struct {
	m      *mail.Mailer
	html   *htmltemplate.Template
	text   *texttemplate.Template
	flight sync.WaitGroup
}

func newMailer(a *App, files fs.FS) (*mailer, error) {
	from := a.config.MailFrom
	if from == "" {
		from = "NodeBird API <no-reply@localhost>"
	}
	sender, err := mail.New(mail.Options{URL: a.config.SMTPURL, From: from, Dir: filepath.Join(a.config.DataDir, "mail"),
		Timeout: mailSendTimeout}, a.log)
	if err != nil {
		return nil, err
	}
	ml := &mailer{m: sender}
	if ml.html, err = htmltemplate.ParseFS(files, "templates/mail/mail.html"); err != nil {
		return nil, err
	}
	if ml.text, err = texttemplate.ParseFS(files, "templates/mail/mail.txt"); err != nil {
		return nil, err
	}
	return ml, nil
}

// mailContent is one mail in one language, as catalogue keys and arguments.
type mailContent struct {
	Kind      string // for the log: "reset", "verify", ...
	Subject   msg
	Lines     []msg
	Link      string // absolute; "" for none
	LinkLabel msg
	After     []msg
}

// msg is a catalogue key and its arguments.
type msg struct {
	Key  string
	Args []any
}

// say is the message key with args.
func say(key string, args ...any) msg { return msg{key, args} }

// mailView is what the layout templates see.
type mailView struct {
	Lang, Subject, Greeting, Link, LinkLabel, LinkHint, Footer string
	Lines, After                                               []string
}

// link is an absolute URL of this site (BASE_URL) with a token query.
func (a *App) link(path, token string) string {
	u := a.config.BaseURL + path
	if token != "" {
		u += "?token=" + url.QueryEscape(token)
	}
	return u
}

// sendMail sends c to the account u in u's language (or lang, when
// given), to u's address (or to, when given), in the background. A
// failure is logged with the kind of mail, never its link.
func (a *App) sendMail(u *models.User, to, lang string, c mailContent) {
	if to == "" {
		to = u.Email
	}
	if lang == "" {
		lang = u.Lang
	}
	if !i18n.Supported(lang) {
		lang = i18n.Languages[0]
	}
	var t func(x msg) string
	t = func(x msg) string { // an argument that is a msg is translated too
		args := make([]any, len(x.Args))
		for i, v := range x.Args {
			if n, ok := v.(msg); ok {
				v = t(n)
			}
			args[i] = v
		}
		return i18n.T(lang, x.Key, args...)
	}
	v := mailView{Lang: lang, Subject: t(c.Subject), Greeting: i18n.T(lang, "mail.greeting", u.Nick),
		Link: c.Link, LinkHint: i18n.T(lang, "mail.link.hint"), Footer: i18n.T(lang, "mail.footer", a.config.BaseURL)}
	if c.Link != "" {
		v.LinkLabel = t(c.LinkLabel)
	}
	for _, l := range c.Lines {
		v.Lines = append(v.Lines, t(l))
	}
	for _, l := range c.After {
		v.After = append(v.After, t(l))
	}
	var text, html bytes.Buffer
	if err := a.mail.text.Execute(&text, v); err != nil {
		a.log.Error("composing a mail", "kind", c.Kind, "err", err)
		return
	}
	if err := a.mail.html.Execute(&html, v); err != nil {
		a.log.Error("composing a mail", "kind", c.Kind, "err", err)
		return
	}
	message := mail.Message{To: to, Subject: v.Subject, Text: text.String(), HTML: html.String()}
	a.mail.flight.Go(func() {
		if err := a.mail.m.Send(context.Background(), message); err != nil {
			a.log.Error("sending a mail failed", "kind", c.Kind, "user_id", u.ID, "err", err)
			return
		}
		a.log.Info("mail sent", "kind", c.Kind, "user_id", u.ID)
	})
}

// waitMails waits for the mails being sent (each is bounded by its timeout).
func (a *App) waitMails() { a.mail.flight.Wait() }

// The mails.

func (a *App) mailReset(u *models.User, lang, token string) {
	a.sendMail(u, "", lang, mailContent{
		Kind: "reset", Subject: say("mail.reset.subject"),
		Lines: []msg{say("mail.reset.body", u.Email), say("mail.reset.expiry")},
		Link:  a.link("/auth/reset", token), LinkLabel: say("mail.reset.button"),
		After: []msg{say("mail.reset.ignore")},
	})
}

func (a *App) mailVerify(u *models.User, token string) {
	a.sendMail(u, "", "", mailContent{
		Kind: "verify", Subject: say("mail.verify.subject"),
		Lines: []msg{say("mail.verify.body", u.Email), say("mail.verify.expiry")},
		Link:  a.link("/auth/verify", token), LinkLabel: say("mail.verify.button"),
		After: []msg{say("mail.verify.ignore")},
	})
}

// mailJoinTaken tells the owner that someone tried to sign up with the
// account's address.
func (a *App) mailJoinTaken(u *models.User) {
	a.sendMail(u, "", "", mailContent{
		Kind: "join_taken", Subject: say("mail.jointaken.subject"),
		Lines: []msg{say("mail.jointaken.body", u.Email), say("mail.jointaken.you")},
		Link:  a.link("/auth/forgot", ""), LinkLabel: say("mail.password.button"),
		After: []msg{say("mail.jointaken.ignore")},
	})
}

// mailEmailChange asks the new address to confirm the change.
func (a *App) mailEmailChange(u *models.User, newEmail, token string) {
	a.sendMail(u, newEmail, "", mailContent{
		Kind: "email_change", Subject: say("mail.email.subject"),
		Lines: []msg{say("mail.email.body", newEmail, u.Email), say("mail.verify.expiry")},
		Link:  a.link("/auth/verify", token), LinkLabel: say("mail.verify.button"),
		After: []msg{say("mail.email.ignore")},
	})
}

// mailEmailChanged tells the old address that the account left it.
func (a *App) mailEmailChanged(u *models.User, oldEmail string) {
	a.sendMail(u, oldEmail, "", mailContent{
		Kind: "email_changed", Subject: say("mail.emailchanged.subject"),
		Lines: []msg{say("mail.emailchanged.body", u.Email, oldEmail), say("mail.notme")},
	})
}

// mailPasswordChanged tells the owner that the account's password
// changed (a reset, or a change on the account page).
func (a *App) mailPasswordChanged(u *models.User) {
	a.sendMail(u, "", "", mailContent{
		Kind: "password_changed", Subject: say("mail.password.subject"),
		Lines: []msg{say("mail.password.body", u.Email, time.Now().UTC().Format("2006-01-02 15:04 UTC")), say("mail.notme")},
		Link:  a.link("/auth/forgot", ""), LinkLabel: say("mail.password.button"),
	})
}

// mailDomainOwner tells the owner of domain id about an admin's decision
// (content gets the domain's host). The decision stands whatever happens
// to the mail: a failure to find the owner is logged.
func (a *App) mailDomainOwner(ctx context.Context, id uint64, content func(host string) mailContent) {
	d, err := a.domains.CredentialByID(ctx, id)
	if err != nil {
		a.log.Error("finding the owner to notify of an admin's decision", "domain_id", id, "err", err)
		return
	}
	u, err := a.users.Get(ctx, d.UserID)
	if err != nil {
		a.log.Error("finding the owner to notify of an admin's decision", "domain_id", id, "err", err)
		return
	}
	a.sendMail(u, "", "", content(d.Host))
}
