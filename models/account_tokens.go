package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The links mailed to an account's owner (password reset, address
// verification, change of address) carry a one-time token: 32 random
// bytes, of which only the SHA-256 is stored, so that a copy of the
// database opens no account. A token is bound to one purpose and to the
// address it was mailed to, lives until ExpiresAt and works once.

// Token purposes.
const (
	PurposeReset  = "reset"  // choose a new password
	PurposeVerify = "verify" // prove the account's address
	PurposeEmail  = "email"  // prove a new address, which then replaces the account's
)

// Token lifetimes.
const (
	ResetTTL  = 30 * time.Minute
	VerifyTTL = 24 * time.Hour
)

// ErrBadToken: the link is unknown, used, expired, or its address is no
// longer the account's (never said which).
var ErrBadToken = errors.New("models: invalid or expired link")

// AccountToken is one mailed link.
type AccountToken struct {
	ID     uint64 `gorm:"primaryKey"`
	UserID uint64 `gorm:"not null;index"`
	User   User   `gorm:"constraint:OnDelete:CASCADE"`
	// Purpose is one of the Purpose constants.
	Purpose string `gorm:"size:16;not null"`
	// Hash is the hex SHA-256 of the token; the token itself is never stored.
	Hash string `gorm:"size:64;not null;uniqueIndex"`
	// Email is the address the link was sent to (for PurposeEmail, the new one).
	Email     string    `gorm:"size:254;not null"`
	ExpiresAt time.Time `gorm:"not null"`
	UsedAt    *time.Time
	CreatedAt time.Time
}

// TokenHash is the stored form of a token.
func TokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// NewToken makes a link token for purpose, sent to email, living ttl, and
// stores its hash. It returns the token, to be mailed and forgotten.
func (m *UserModel) NewToken(ctx context.Context, userID uint64, purpose, email string, ttl time.Duration) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	t := &AccountToken{UserID: userID, Purpose: purpose, Hash: TokenHash(token), Email: email,
		ExpiresAt: time.Now().UTC().Add(ttl)}
	db, cancel := m.with(ctx)
	defer cancel()
	if err := db.Omit("User").Create(t).Error; err != nil {
		return "", translate(err)
	}
	return token, nil
}

// CheckToken tells whether token is a usable link for purpose, without
// using it (a GET shows the form; only the POST acts). It returns the
// account and the address the link was sent to.
func (m *UserModel) CheckToken(ctx context.Context, purpose, token string) (*User, string, error) {
	db, cancel := m.with(ctx)
	defer cancel()
	var t AccountToken
	var u User
	if err := usable(db, purpose, token, &t, &u, false); err != nil {
		return nil, "", err
	}
	return &u, t.Email, nil
}

// usable reads token's row for purpose (locked for update with lock) and
// its account into t and u; ErrBadToken unless it is unused, unexpired,
// and, but for a change of address, still sent to the account's address.
func usable(tx *gorm.DB, purpose, token string, t *AccountToken, u *User, lock bool) error {
	if token == "" || len(token) > 100 {
		return ErrBadToken
	}
	q := tx.Where("hash = ? AND purpose = ?", TokenHash(token), purpose)
	if lock {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	if err := q.Take(t).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrBadToken
		}
		return translate(err)
	}
	if t.UsedAt != nil || !time.Now().Before(t.ExpiresAt) {
		return ErrBadToken
	}
	if err := tx.Take(u, t.UserID).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrBadToken
		}
		return translate(err)
	}
	if purpose != PurposeEmail && u.Email != t.Email {
		return ErrBadToken // the account's address changed since the link was sent
	}
	return nil
}

// useToken runs act on the token's account in one transaction, after
// marking the token used; the token works once even when two requests
// bring it at the same moment (the row is locked, and the update counts).
func (m *UserModel) useToken(ctx context.Context, purpose, token string, act func(tx *gorm.DB, t *AccountToken, u *User) error) (*User, error) {
	db, cancel := m.with(ctx)
	defer cancel()
	var u User
	err := db.Transaction(func(tx *gorm.DB) error {
		var t AccountToken
		if err := usable(tx, purpose, token, &t, &u, true); err != nil {
			return err
		}
		now := time.Now().UTC()
		res := tx.Model(&AccountToken{}).Where("id = ? AND used_at IS NULL", t.ID).Update("used_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrBadToken
		}
		if err := act(tx, &t, &u); err != nil {
			return err
		}
		return tx.Take(&u, u.ID).Error
	})
	if err != nil {
		if errors.Is(err, ErrBadToken) || errors.Is(err, ErrDuplicateEmail) {
			return nil, err
		}
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return nil, ErrDuplicateEmail
		}
		return nil, translate(err)
	}
	return &u, nil
}

// ResetPassword sets a new password with a reset link: every session of
// the account ends (its session version goes up), every other reset link
// of the account stops working, and the address counts as verified (the
// link reached it). It returns the account as it now is.
func (m *UserModel) ResetPassword(ctx context.Context, token, password string) (*User, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), m.Cost)
	if err != nil {
		return nil, err
	}
	return m.useToken(ctx, PurposeReset, token, func(tx *gorm.DB, t *AccountToken, u *User) error {
		if err := endLinks(tx, u.ID, PurposeReset); err != nil {
			return err
		}
		changes := map[string]any{"password_hash": hash, "session_version": gorm.Expr("session_version + 1")}
		if u.EmailVerifiedAt == nil {
			changes["email_verified_at"] = time.Now().UTC()
		}
		return tx.Model(&User{}).Where("id = ?", u.ID).UpdateColumns(changes).Error
	})
}

// VerifyEmail marks the account's address verified with a verification link.
func (m *UserModel) VerifyEmail(ctx context.Context, token string) (*User, error) {
	return m.useToken(ctx, PurposeVerify, token, func(tx *gorm.DB, t *AccountToken, u *User) error {
		if err := endLinks(tx, u.ID, PurposeVerify); err != nil {
			return err
		}
		return tx.Model(&User{}).Where("id = ? AND email_verified_at IS NULL", u.ID).
			UpdateColumn("email_verified_at", time.Now().UTC()).Error
	})
}

// ChangeEmail gives the account the new address a change link was sent to,
// verified; ErrDuplicateEmail if another account has it since. Links sent
// to the old address stop working. It returns the account and its old address.
func (m *UserModel) ChangeEmail(ctx context.Context, token string) (*User, string, error) {
	var old string
	u, err := m.useToken(ctx, PurposeEmail, token, func(tx *gorm.DB, t *AccountToken, u *User) error {
		old = u.Email
		if err := endLinks(tx, u.ID, PurposeEmail, PurposeReset, PurposeVerify); err != nil {
			return err
		}
		err := tx.Model(&User{}).Where("id = ?", u.ID).
			UpdateColumns(map[string]any{"email": t.Email, "email_verified_at": time.Now().UTC()}).Error
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return ErrDuplicateEmail
		}
		return err
	})
	return u, old, err
}

// endLinks marks every unused link of the account for purposes used.
func endLinks(tx *gorm.DB, userID uint64, purposes ...string) error {
	return tx.Model(&AccountToken{}).Where("user_id = ? AND purpose IN ? AND used_at IS NULL", userID, purposes).
		Update("used_at", time.Now().UTC()).Error
}
