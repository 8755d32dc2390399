package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nodebird/nodebird-api/internal/secret"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Plans and statuses of a domain.
const (
	PlanFree    = "free"
	PlanPremium = "premium"

	StatusActive  = "active"
	StatusRevoked = "revoked"
	StatusDeleted = "deleted"
)

// Domain is a registered website and the hash of its client secret.
type Domain struct {
	ID     uint64 `gorm:"primaryKey"`
	UserID uint64 `gorm:"not null;uniqueIndex:idx_domains_owner_host,priority:1;index:idx_domains_owner_created,priority:1"`
	User   User   `gorm:"constraint:OnDelete:CASCADE"`
	// The admin console's host filter reads a range of (host, created_at),
	// or of (host, status, type, created_at) with a status or plan: the
	// hosts that start with the text and their creation times, from the
	// index alone, to be sorted (see ordered in admin.go).
	Host string `gorm:"size:80;not null;index:idx_domains_host_created,priority:1;index:idx_domains_host_status_type_created,priority:1"`
	// HostKey is Host while the domain exists and NULL once deleted, so a
	// deleted host can be registered again while the row stays for the record.
	HostKey       *string `gorm:"size:80;uniqueIndex:idx_domains_owner_host,priority:2"`
	Plan          string  `gorm:"column:type;size:10;not null;index:idx_domains_type_created,priority:1;index:idx_domains_status_type_created,priority:2;index:idx_domains_host_status_type_created,priority:3"`
	Status        string  `gorm:"size:10;not null;default:active;index:idx_domains_status_created,priority:1;index:idx_domains_status_type_created,priority:1;index:idx_domains_status_last_token,priority:1;index:idx_domains_host_status_type_created,priority:2"`
	SecretHash    string  `gorm:"size:64;not null;uniqueIndex"`
	SecretLast4   string  `gorm:"size:4;not null"`
	SecretVersion int     `gorm:"not null;default:1"`
	// PrevSecretHash is the secret a rotation replaced, while it still
	// gets tokens (until PrevSecretUntil; its tokens carry SecretVersion-1):
	// NULL when no overlap was asked for, or it was ended.
	PrevSecretHash  *string `gorm:"size:64;uniqueIndex"`
	PrevSecretUntil *time.Time
	// RevokeReason is what the admin who revoked the domain told its owner
	// ("" unless revoked).
	RevokeReason string `gorm:"size:200;not null;default:''"`
	// PremiumRequested: registered for premium under PREMIUM=approval, the
	// domain is on free until an admin approves or declines the request
	// (the queue reads them oldest first from (premium_requested, created_at)).
	PremiumRequested bool `gorm:"not null;default:false;index:idx_domains_premium_created,priority:1"`
	// Label is the owner's name for the domain (optional).
	Label        string     `gorm:"size:60;not null;default:''"`
	TokensIssued int64      `gorm:"not null;default:0"`
	LastTokenAt  *time.Time `gorm:"index;index:idx_domains_status_last_token,priority:2"`
	LastFailedAt *time.Time
	// The admin list reads newest first (or by last use), filtered by
	// status and plan; each (filter..., created_at) index serves one mix.
	CreatedAt time.Time `gorm:"index;index:idx_domains_owner_created,priority:2;index:idx_domains_status_created,priority:2;index:idx_domains_type_created,priority:2;index:idx_domains_status_type_created,priority:3;index:idx_domains_host_created,priority:2;index:idx_domains_host_status_type_created,priority:4;index:idx_domains_premium_created,priority:2"`
	UpdatedAt time.Time `gorm:"index"`
}

// retiredIndexes are indexes earlier versions created that a wider one
// now serves: Migrate drops them, so that writes stop paying for them.
var retiredIndexes = []struct {
	model any
	name  string
}{
	{&Domain{}, "idx_domains_host"}, // (host): idx_domains_host_created begins with it
}

// dropRetiredIndexes drops those of retiredIndexes the database has. An
// index another instance dropped meanwhile (both migrating at start-up)
// is no failure: it is gone, as asked.
func dropRetiredIndexes(db *gorm.DB) error {
	m := db.Migrator()
	for _, r := range retiredIndexes {
		if !m.HasIndex(r.model, r.name) {
			continue
		}
		if err := m.DropIndex(r.model, r.name); err != nil && m.HasIndex(r.model, r.name) {
			return fmt.Errorf("dropping the index %s: %w", r.name, err)
		}
	}
	return nil
}

// DomainModel queries domains. Every method that takes a userID only ever
// touches that user's domains.
type DomainModel struct {
	conn
	// MaxPerUser is how many domains an account may have unless an admin
	// set its own limit (User.MaxDomains); 0 means no limit.
	MaxPerUser int
	// PremiumApproval (PREMIUM=approval): a domain registered for premium
	// starts on free with a request an admin approves or declines.
	PremiumApproval bool
}

// NewDomainModel returns a DomainModel with the given per-query timeout.
func NewDomainModel(db *gorm.DB, timeout time.Duration) *DomainModel {
	return &DomainModel{conn: conn{db, timeout}}
}

// Insert registers host for userID and returns the domain with its new
// secret, which exists nowhere else in clear. An admin's decisions about
// the owner's host stick (decisions.go): ErrHostRevoked while a revocation
// holds, and the plan an admin set, whatever plan is asked (the domain
// returned says which it got). ErrDomainLimit when the account has as many
// domains as it may have (owner_domains.go). With PremiumApproval, premium
// asked for (and no plan decided by an admin) is free with PremiumRequested.
func (m *DomainModel) Insert(ctx context.Context, userID uint64, host, plan string) (*Domain, string, error) {
	return m.InsertLabeled(ctx, userID, host, plan, "")
}

// InsertLabeled is Insert with the owner's label for the domain.
func (m *DomainModel) InsertLabeled(ctx context.Context, userID uint64, host, plan, label string) (*Domain, string, error) {
	s := secret.New()
	key := host
	d := &Domain{
		UserID: userID, Host: host, HostKey: &key, Plan: plan, Status: StatusActive, Label: label,
		SecretHash: secret.Hash(s), SecretLast4: secret.Last4(s), SecretVersion: 1,
	}
	db, cancel := m.with(ctx)
	defer cancel()
	err := db.Transaction(func(tx *gorm.DB) error {
		if err := checkDomainLimit(tx, userID, m.MaxPerUser); err != nil {
			return err
		}
		decided, err := decisionsOn(tx, userID, host)
		switch {
		case err != nil:
			return err
		case decided.revoked:
			return ErrHostRevoked
		case decided.plan != "":
			d.Plan = decided.plan
		case plan == PlanPremium && m.PremiumApproval:
			d.Plan, d.PremiumRequested = PlanFree, true
		}
		return tx.Omit("User").Create(d).Error
	})
	switch {
	case errors.Is(err, ErrHostRevoked), errors.Is(err, ErrDomainLimit):
		return nil, "", err
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return nil, "", ErrDuplicateHost
	case err != nil:
		return nil, "", translate(err)
	}
	return d, s, nil
}

// ListForUser returns the user's domains, newest first, deleted ones left out.
func (m *DomainModel) ListForUser(ctx context.Context, userID uint64) ([]Domain, error) {
	var ds []Domain
	db, cancel := m.with(ctx)
	defer cancel()
	err := db.Where("user_id = ? AND status <> ?", userID, StatusDeleted).
		Order("created_at DESC, id DESC").Find(&ds).Error
	return ds, translate(err)
}

// GetForUser returns one of the user's domains; ErrNoRecord for anyone else's.
func (m *DomainModel) GetForUser(ctx context.Context, id, userID uint64) (*Domain, error) {
	if noSuchID(id) {
		return nil, ErrNoRecord
	}
	var d Domain
	db, cancel := m.with(ctx)
	defer cancel()
	err := db.Where("id = ? AND user_id = ? AND status <> ?", id, userID, StatusDeleted).Take(&d).Error
	if err != nil {
		return nil, translate(err)
	}
	return &d, nil
}

// ErrDomainRevoked: an admin revoked the domain; its owner cannot rotate it.
var ErrDomainRevoked = errors.New("models: the domain is revoked")

// Overlaps are the times a rotation may keep the previous secret working.
var Overlaps = []time.Duration{0, time.Hour, 24 * time.Hour, 168 * time.Hour}

// Rotate gives the user's domain a new secret; the old one stops working.
func (m *DomainModel) Rotate(ctx context.Context, id, userID uint64) (*Domain, string, error) {
	return m.RotateWithOverlap(ctx, id, userID, 0)
}

// RotateWithOverlap gives the user's active domain a new secret. The old
// one keeps getting tokens (carrying the old secret version) for overlap,
// as the domain's previous secret, replacing any previous secret an
// earlier rotation left; overlap 0 ends it at once. ErrDomainRevoked for a
// revoked domain, which is left as it was. The row is locked, read and
// updated in one transaction, so two rotations at once each return the
// secret they stored and the second keeps the first's as previous.
func (m *DomainModel) RotateWithOverlap(ctx context.Context, id, userID uint64, overlap time.Duration) (*Domain, string, error) {
	if noSuchID(id) {
		return nil, "", ErrNoRecord
	}
	var s string
	db, cancel := m.with(ctx)
	defer cancel()
	var d Domain
	err := db.Transaction(func(tx *gorm.DB) error {
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).
			Where("id = ? AND user_id = ? AND status <> ?", id, userID, StatusDeleted).Take(&d).Error
		if err != nil {
			return err
		}
		if d.Status == StatusRevoked {
			return ErrDomainRevoked
		}
		s, err = rotateLocked(tx, &d, overlap)
		return err
	})
	if errors.Is(err, ErrDomainRevoked) {
		return nil, "", err
	}
	if err != nil {
		return nil, "", translate(err)
	}
	return &d, s, nil
}

// rotateLocked gives domain d, read locked for update in tx, a new secret
// (returned), keeping the old one as previous for overlap (none for 0),
// and reads d again.
func rotateLocked(tx *gorm.DB, d *Domain, overlap time.Duration) (string, error) {
	s := secret.New()
	set := map[string]any{
		"secret_hash":    secret.Hash(s),
		"secret_last4":   secret.Last4(s),
		"secret_version": d.SecretVersion + 1,
		// No previous secret without an overlap.
		"prev_secret_hash": nil, "prev_secret_until": nil,
	}
	if overlap > 0 {
		set["prev_secret_hash"] = d.SecretHash
		set["prev_secret_until"] = tx.NowFunc().Add(overlap)
	}
	res := tx.Model(&Domain{}).Where("id = ? AND secret_version = ?", d.ID, d.SecretVersion).Updates(set)
	if res.Error != nil {
		return "", res.Error
	}
	if res.RowsAffected != 1 {
		return "", fmt.Errorf("models: rotating domain %d: it changed under its lock", d.ID)
	}
	return s, tx.Where("id = ?", d.ID).Take(d).Error
}

// EndOverlap stops the previous secret of the user's domain (and the
// tokens issued under it) at once. ErrNoRecord when the domain is not the
// user's or has no previous secret.
func (m *DomainModel) EndOverlap(ctx context.Context, id, userID uint64) error {
	if noSuchID(id) {
		return ErrNoRecord
	}
	db, cancel := m.with(ctx)
	defer cancel()
	res := db.Model(&Domain{}).
		Where("id = ? AND user_id = ? AND status <> ? AND prev_secret_hash IS NOT NULL", id, userID, StatusDeleted).
		Updates(map[string]any{"prev_secret_hash": nil, "prev_secret_until": nil})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNoRecord
	}
	return nil
}

// SetLabel sets the owner's label of the user's domain ("" for none).
func (m *DomainModel) SetLabel(ctx context.Context, id, userID uint64, label string) error {
	if noSuchID(id) {
		return ErrNoRecord
	}
	db, cancel := m.with(ctx)
	defer cancel()
	// UpdateColumn: a label is not a change the API's view must read
	// (updated_at is what its refresh follows).
	res := db.Model(&Domain{}).Where("id = ? AND user_id = ? AND status <> ?", id, userID, StatusDeleted).
		UpdateColumn("label", label)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		// MySQL counts only the rows changed: the same label again is no
		// error when the domain is the user's.
		if _, err := m.GetForUser(ctx, id, userID); err != nil {
			return err
		}
	}
	return nil
}

// InOverlap reports whether the domain's previous secret still works at now.
func (d *Domain) InOverlap(now time.Time) bool {
	return d.PrevSecretHash != nil && d.PrevSecretUntil != nil && now.Before(*d.PrevSecretUntil)
}

// Delete marks the user's domain deleted: its secret and tokens stop working
// and its host can be registered again.
func (m *DomainModel) Delete(ctx context.Context, id, userID uint64) error {
	if noSuchID(id) {
		return ErrNoRecord
	}
	db, cancel := m.with(ctx)
	defer cancel()
	res := db.Model(&Domain{}).Where("id = ? AND user_id = ? AND status <> ?", id, userID, StatusDeleted).
		Updates(map[string]any{"status": StatusDeleted, "host_key": nil, "prev_secret_hash": nil, "prev_secret_until": nil,
			"premium_requested": false})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNoRecord
	}
	return nil
}
