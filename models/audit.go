package models

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// AuditEntry records one admin action: who (actor), what (action), on what
// (domain and its owner, or the user it was about) and when, with the value
// before and after for a change. Entries are also the record an admin's
// decisions are read from when a host is registered again (decisions.go):
// removing them would undo those decisions.
type AuditEntry struct {
	ID         uint64 `gorm:"primaryKey"`
	ActorID    uint64 `gorm:"not null;index"`
	ActorEmail string `gorm:"size:254;not null"`
	Action     string `gorm:"size:40;not null"`
	// DomainID is 0 for an action on a user rather than a domain.
	DomainID uint64 `gorm:"not null;index"`
	// UserID is the domain's owner, or the user an action was about.
	UserID uint64 `gorm:"not null;default:0;index"`
	Before string `gorm:"size:255;not null"`
	After  string `gorm:"size:255;not null"`
	// Note is what the admin said with the change (a revocation's reason).
	Note      string    `gorm:"size:255;not null;default:''"`
	CreatedAt time.Time `gorm:"index"`
}

// AuditRow is an entry with the host and owner it concerns.
type AuditRow struct {
	AuditEntry
	Host      string // "" when the entry is about a user, or the domain is gone
	UserEmail string
	UserNick  string
}

// AuditFilter narrows the log to one domain or one user (0: all).
type AuditFilter struct {
	DomainID uint64
	UserID   uint64
}

// AuditModel reads and writes the audit log.
type AuditModel struct{ conn }

// NewAuditModel returns an AuditModel.
func NewAuditModel(db *gorm.DB, timeout time.Duration) *AuditModel {
	return &AuditModel{conn{db, timeout}}
}

// List returns the newest entries first, up to limit after offset, and
// whether more follow. The page's ids are read first, alone (from the
// primary key, or the domain or user index that holds them), and only
// they are joined to their domain and owner: the entries an OFFSET skips
// cost an index entry each, not two lookups.
func (m *AuditModel) List(ctx context.Context, f AuditFilter, limit, offset int) ([]AuditRow, bool, error) {
	if noSuchID(f.DomainID) || noSuchID(f.UserID) {
		return nil, false, nil
	}
	db, cancel := m.with(ctx)
	defer cancel()
	page := db.Table("audit_entries").Select("id")
	if f.DomainID != 0 {
		page = page.Where("domain_id = ?", f.DomainID)
	}
	if f.UserID != 0 {
		page = page.Where("user_id = ?", f.UserID)
	}
	page = page.Order("id DESC").Limit(limit + 1).Offset(offset)
	var rows []AuditRow
	err := db.Table("(?) AS page", page).
		Select("audit_entries.*, COALESCE(domains.host, '') AS host, " +
			"COALESCE(users.email, '') AS user_email, COALESCE(users.nick, '') AS user_nick").
		Joins("JOIN audit_entries ON audit_entries.id = page.id").
		Joins("LEFT JOIN domains ON domains.id = audit_entries.domain_id").
		Joins("LEFT JOIN users ON users.id = audit_entries.user_id").
		Order("audit_entries.id DESC").Scan(&rows).Error
	if err != nil {
		return nil, false, translate(err)
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	return rows, more, nil
}
