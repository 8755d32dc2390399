package models

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
)

// User is a portal account.
type User struct {
	ID           uint64 `gorm:"primaryKey"`
	Email        string `gorm:"size:254;not null;uniqueIndex"`
	Nick         string `gorm:"size:15;not null;index"`
	PasswordHash []byte `gorm:"size:60;not null"`
	// IsAdmin is set by `nodebird admin grant`; ADMIN_EMAILS adds admins on top.
	IsAdmin bool `gorm:"not null;default:false"`
	// SessionVersion is part of every session cookie; logout increments it,
	// so a replayed cookie no longer signs anyone in.
	SessionVersion int `gorm:"not null;default:1"`
	// MaxDomains is an admin's limit on the domains of this account; NULL
	// means the default (MAX_DOMAINS_PER_USER). See DomainLimit.
	MaxDomains *int
	// EmailVerifiedAt is when the owner last proved the address is theirs
	// (a link mailed to it); NULL until then. See account_tokens.go.
	EmailVerifiedAt *time.Time
	// Lang is the language of the account's mails (en, ko): the portal's
	// at sign-up, then at each change of language while signed in.
	Lang string `gorm:"size:8;not null;default:en"`
	// SuspendedAt is when an admin suspended the account (NULL: it is not):
	// a suspended user cannot sign in and their domains get no tokens
	// (admin_users.go).
	SuspendedAt *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Verified reports whether the account's address has been verified.
func (u *User) Verified() bool { return u.EmailVerifiedAt != nil }

// Deleted reports whether the account was deleted (DeleteAccount: its
// email is then DeletedEmail).
func (u *User) Deleted() bool { return u.Email == DeletedEmail(u.ID) }

// Suspended reports whether an admin suspended the account.
func (u *User) Suspended() bool { return u.SuspendedAt != nil }

// UserModel queries users.
type UserModel struct {
	conn
	Cost int // bcrypt cost

	dummyOnce sync.Once
	dummy     []byte
}

// NewUserModel returns a UserModel with the given per-query timeout and bcrypt cost.
func NewUserModel(db *gorm.DB, timeout time.Duration, cost int) *UserModel {
	return &UserModel{conn: conn{db, timeout}, Cost: cost}
}

// Insert creates a user whose mails are in English. email must already be normalised.
func (m *UserModel) Insert(ctx context.Context, email, nick, password string) (*User, error) {
	return m.InsertLang(ctx, email, nick, password, "en")
}

// InsertLang creates a user whose mails are in lang.
func (m *UserModel) InsertLang(ctx context.Context, email, nick, password, lang string) (*User, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), m.Cost)
	if err != nil {
		return nil, err
	}
	u := &User{Email: email, Nick: nick, PasswordHash: hash, SessionVersion: 1, Lang: lang}
	db, cancel := m.with(ctx)
	defer cancel()
	if err := db.Create(u).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return nil, ErrDuplicateEmail
		}
		return nil, translate(err)
	}
	return u, nil
}

// Authenticate returns the user whose email and password match: GetByEmail,
// then CheckPassword.
func (m *UserModel) Authenticate(ctx context.Context, email, password string) (*User, error) {
	u, err := m.GetByEmail(ctx, email)
	if err != nil && !errors.Is(err, ErrNoRecord) {
		return nil, err
	}
	if err := m.CheckPassword(u, password); err != nil {
		return nil, err
	}
	return u, nil
}

// CheckPassword returns ErrInvalidCredentials unless password is u's; u may
// be nil (no such account), which costs one bcrypt comparison too, so that
// timing does not tell an unknown email from a wrong password.
func (m *UserModel) CheckPassword(u *User, password string) error {
	if u == nil {
		m.dummyOnce.Do(func() { m.dummy, _ = bcrypt.GenerateFromPassword([]byte("not a password"), m.Cost) })
		_ = bcrypt.CompareHashAndPassword(m.dummy, []byte(password))
		return ErrInvalidCredentials
	}
	if bcrypt.CompareHashAndPassword(u.PasswordHash, []byte(password)) != nil {
		return ErrInvalidCredentials
	}
	return nil
}

// Get returns a user by id.
func (m *UserModel) Get(ctx context.Context, id uint64) (*User, error) {
	if noSuchID(id) {
		return nil, ErrNoRecord
	}
	var u User
	db, cancel := m.with(ctx)
	defer cancel()
	if err := db.Take(&u, id).Error; err != nil {
		return nil, translate(err)
	}
	return &u, nil
}

// GetByEmail returns the user whose stored email is exactly email (which
// must be normalised). The column compares exactly (EmailCollation); the
// stored email is compared again here, so that no database setting can
// make another spelling reach the account.
func (m *UserModel) GetByEmail(ctx context.Context, email string) (*User, error) {
	var u User
	db, cancel := m.with(ctx)
	defer cancel()
	if err := db.Where("email = ?", email).Take(&u).Error; err != nil {
		return nil, translate(err)
	}
	if u.Email != email {
		return nil, ErrNoRecord
	}
	return &u, nil
}

// EndSessions invalidates every session cookie issued to the user so far.
func (m *UserModel) EndSessions(ctx context.Context, id uint64) error {
	if noSuchID(id) {
		return nil // no such user: no sessions
	}
	db, cancel := m.with(ctx)
	defer cancel()
	return translate(db.Model(&User{}).Where("id = ?", id).
		UpdateColumn("session_version", gorm.Expr("session_version + 1")).Error)
}

// SetAdmin grants or revokes the stored admin role; ErrNoRecord if no such email.
func (m *UserModel) SetAdmin(ctx context.Context, email string, admin bool) error {
	db, cancel := m.with(ctx)
	defer cancel()
	res := db.Model(&User{}).Where("email = ?", email).Update("is_admin", admin)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		if _, err := m.GetByEmail(ctx, email); err != nil {
			return err
		}
	}
	return nil
}

// SetLang records the language of the user's mails.
func (m *UserModel) SetLang(ctx context.Context, id uint64, lang string) error {
	db, cancel := m.with(ctx)
	defer cancel()
	return translate(db.Model(&User{}).Where("id = ? AND lang <> ?", id, lang).UpdateColumn("lang", lang).Error)
}
