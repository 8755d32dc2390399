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

// ErrBadToken: the link is unknown, used, expired, its address is no
// longer the account's, or its account was deleted (never said which).
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
	if err := usable(db, purpose, token, 0, &t, &u, false); err != nil {
		return nil, "", err
	}
	return &u, t.Email, nil
}

// usable reads token's row for purpose (locked for update with lock) and
// its account into t and u; ErrBadToken unless it is unused, unexpired,
// its account's (userID's, unless 0) and not deleted, and, but for a
// change of address, still sent to the account's address.
func usable(tx *gorm.DB, purpose, token string, userID uint64, t *AccountToken, u *User, lock bool) error {
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
	if t.UsedAt != nil || !time.Now().Before(t.ExpiresAt) || (userID != 0 && t.UserID != userID) {
		return ErrBadToken
	}
	if err := tx.Take(u, t.UserID).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrBadToken
		}
		return translate(err)
	}
	if u.Deleted() {
		return ErrBadToken // DeleteAccount ends the links too: this holds whatever made one since
	}
	if purpose != PurposeEmail && u.Email != t.Email {
		return ErrBadToken // the account's address changed since the link was sent
	}
	return nil
}

// useToken runs act on the token's account (userID's, unless 0) in one
// transaction, after marking the token used; the token works once even
// when two requests bring it at the same moment (the row is locked, and
// the update counts).
func (m *UserModel) useToken(ctx context.Context, purpose, token string, userID uint64, act func(tx *gorm.DB, t *AccountToken, u *User) error) (*User, error) {
	db, cancel := m.with(ctx)
	defer cancel()
	var u User
	err := db.Transaction(func(tx *gorm.DB) error {
		var t AccountToken
		if err := usable(tx, purpose, token, userID, &t, &u, true); err != nil {
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
// the account ends (its session version goes up), every other link of the
// account (reset, verification, change of address) stops working, and the
// address counts as verified (the link reached it). It returns the
// account as it now is.
//
// When the reset is what first verifies the address, whoever signed up
// with it may not be its owner, who takes the account over here: the
// secrets of the account's domains are retired (rotated with no overlap,
// the new ones shown to nobody: the owner rotates again to get one), and
// retired lists those domains, for the caller to make the domain view
// forget them.
func (m *UserModel) ResetPassword(ctx context.Context, token, password string) (u *User, retired []uint64, err error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), m.Cost)
	if err != nil {
		return nil, nil, err
	}
	u, err = m.useToken(ctx, PurposeReset, token, 0, func(tx *gorm.DB, t *AccountToken, u *User) error {
		retired = nil // the transaction may run again
		if err := endLinks(tx, u.ID, allPurposes...); err != nil {
			return err
		}
		changes := map[string]any{"password_hash": hash, "session_version": gorm.Expr("session_version + 1")}
		if u.EmailVerifiedAt == nil {
			changes["email_verified_at"] = time.Now().UTC()
			var err error
			if retired, err = retireSecrets(tx, u.ID); err != nil {
				return err
			}
		}
		return tx.Model(&User{}).Where("id = ?", u.ID).UpdateColumns(changes).Error
	})
	if err != nil {
		return nil, nil, err
	}
	return u, retired, nil
}

// retireSecrets gives every domain of the user (revoked ones too) a new
// secret no one is told, with no overlap, and returns their ids.
func retireSecrets(tx *gorm.DB, userID uint64) ([]uint64, error) {
	var ds []Domain
	if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).
		Where("user_id = ? AND status <> ?", userID, StatusDeleted).Order("id").Find(&ds).Error; err != nil {
		return nil, err
	}
	ids := make([]uint64, 0, len(ds))
	for i := range ds {
		if _, err := rotateLocked(tx, &ds[i], 0); err != nil {
			return nil, err
		}
		ids = append(ids, ds[i].ID)
	}
	return ids, nil
}

// VerifyEmail marks the address of account userID verified with a
// verification link of that account (ErrBadToken for another's).
func (m *UserModel) VerifyEmail(ctx context.Context, userID uint64, token string) (*User, error) {
	if noSuchID(userID) {
		return nil, ErrBadToken
	}
	return m.useToken(ctx, PurposeVerify, token, userID, func(tx *gorm.DB, t *AccountToken, u *User) error {
		if err := endLinks(tx, u.ID, PurposeVerify); err != nil {
			return err
		}
		return tx.Model(&User{}).Where("id = ? AND email_verified_at IS NULL", u.ID).
			UpdateColumn("email_verified_at", time.Now().UTC()).Error
	})
}

// ChangeEmail gives account userID the new address a change link of that
// account was sent to (ErrBadToken for another's), verified;
// ErrDuplicateEmail if another account has it since. Links sent to the old
// address stop working, and so does every session (the session version
// goes up: the caller issues its own again). It returns the account and
// its old address.
func (m *UserModel) ChangeEmail(ctx context.Context, userID uint64, token string) (*User, string, error) {
	if noSuchID(userID) {
		return nil, "", ErrBadToken
	}
	var old string
	u, err := m.useToken(ctx, PurposeEmail, token, userID, func(tx *gorm.DB, t *AccountToken, u *User) error {
		old = u.Email
		if err := endLinks(tx, u.ID, allPurposes...); err != nil {
			return err
		}
		err := tx.Model(&User{}).Where("id = ?", u.ID).UpdateColumns(map[string]any{
			"email": t.Email, "email_verified_at": time.Now().UTC(), "session_version": gorm.Expr("session_version + 1"),
		}).Error
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return ErrDuplicateEmail
		}
		return err
	})
	return u, old, err
}

// allPurposes are every purpose of a link.
var allPurposes = []string{PurposeReset, PurposeVerify, PurposeEmail}

// endLinks marks every unused link of the account for purposes used.
func endLinks(tx *gorm.DB, userID uint64, purposes ...string) error {
	return tx.Model(&AccountToken{}).Where("user_id = ? AND purpose IN ? AND used_at IS NULL", userID, purposes).
		Update("used_at", time.Now().UTC()).Error
}
