package models

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
)

// AuditEntry records one admin action: who (actor), what (action), on what
// (domain and its owner, or the user it was about) and when, with the value
// before and after for a change. Entries are also the record an admin's
// decisions are read from when a host is registered again (decisions.go):
// removing them would undo those decisions.
type AuditEntry struct {
	ID      uint64 `gorm:"primaryKey"`
	ActorID uint64 `gorm:"not null;index"`
	// The log filters by actor and by action: each index holds the
	// entries' ids in order (InnoDB appends the primary key), so a page of
	// one actor's or one action's entries, newest first, is a range of it.
	ActorEmail string `gorm:"size:254;not null;index"`
	Action     string `gorm:"size:40;not null;index"`
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

// AuditFilter narrows the log (zero values: no condition).
type AuditFilter struct {
	DomainID uint64
	UserID   uint64
	Actor    string // the acting admin's email, exactly
	Action   string // one of Actions
	// From and To bound the entries' time: From ≤ created_at < To.
	From, To time.Time
}

// Actions are the audited actions, as the log's filter offers them.
var Actions = []string{
	ActionRevoke, ActionRestore, ActionPlan, ActionPremiumApprove, ActionPremiumDecline,
	ActionDomainLimit, ActionSuspend, ActionUnsuspend, ActionRole,
}

// ids is the query of the ids of the entries f selects, or none when no
// entry can match. A time range becomes a range of ids too: entries are
// appended, so ids and times grow together, and the range runs from the
// first entry at or after From to the last before To, each one entry read
// from the created_at index. Every condition is then a range of the
// primary key or of an index that holds the ids in order. (The time
// condition stays, so no entry outside the range is shown; an entry
// written by an instance whose clock ran behind another's, by less than
// the skew, next to a bound, could be left out.)
func (f AuditFilter) ids(db *gorm.DB) (q *gorm.DB, none bool, err error) {
	if noSuchID(f.DomainID) || noSuchID(f.UserID) || strings.ContainsRune(f.Actor, 0) {
		return nil, true, nil
	}
	q = db.Table("audit_entries").Select("id")
	if f.DomainID != 0 {
		q = q.Where("domain_id = ?", f.DomainID)
	}
	if f.UserID != 0 {
		q = q.Where("user_id = ?", f.UserID)
	}
	if f.Actor != "" {
		q = q.Where("actor_email = ?", f.Actor)
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	bound := func(cond string, at time.Time, order string) (uint64, bool, error) {
		var ids []uint64
		err := db.Table("audit_entries").Where(cond, at).Order(order).Limit(1).Pluck("id", &ids).Error
		if err != nil || len(ids) == 0 {
			return 0, false, err
		}
		return ids[0], true, nil
	}
	if !f.From.IsZero() {
		lo, ok, err := bound("created_at >= ?", f.From, "created_at, id")
		if err != nil || !ok {
			return nil, !ok, err
		}
		q = q.Where("id >= ? AND created_at >= ?", lo, f.From)
	}
	if !f.To.IsZero() {
		hi, ok, err := bound("created_at < ?", f.To, "created_at DESC, id DESC")
		if err != nil || !ok {
			return nil, !ok, err
		}
		q = q.Where("id <= ? AND created_at < ?", hi, f.To)
	}
	return q, false, nil
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
	db, cancel := m.with(ctx)
	defer cancel()
	page, none, err := f.ids(db)
	if none || err != nil {
		return nil, false, translate(err)
	}
	rows, err := auditRows(db, page.Order("id DESC").Limit(limit+1).Offset(offset))
	if err != nil {
		return nil, false, err
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	return rows, more, nil
}

// auditRows reads the entries whose ids page selects, newest first,
// joined to their domain and owner.
func auditRows(db *gorm.DB, page *gorm.DB) ([]AuditRow, error) {
	var rows []AuditRow
	err := db.Table("(?) AS page", page).
		Select("audit_entries.*, COALESCE(domains.host, '') AS host, " +
			"COALESCE(users.email, '') AS user_email, COALESCE(users.nick, '') AS user_nick").
		Joins("JOIN audit_entries ON audit_entries.id = page.id").
		Joins("LEFT JOIN domains ON domains.id = audit_entries.domain_id").
		Joins("LEFT JOIN users ON users.id = audit_entries.user_id").
		Order("audit_entries.id DESC").Scan(&rows).Error
	return rows, translate(err)
}

// Export calls each with the entries f selects, newest first, a page of
// at most pageSize at a time: keyset pages (each starts below the last id
// of the one before), each query within its own time limit, so that a log
// of any size is read in bounded memory and time per page. It stops at
// the first error, each's included.
func (m *AuditModel) Export(ctx context.Context, f AuditFilter, pageSize int, each func([]AuditRow) error) error {
	var last uint64
	for {
		rows, err := m.exportPage(ctx, f, last, pageSize)
		if err != nil || len(rows) == 0 {
			return err
		}
		if err := each(rows); err != nil {
			return err
		}
		if len(rows) < pageSize {
			return nil
		}
		last = rows[len(rows)-1].ID
	}
}

func (m *AuditModel) exportPage(ctx context.Context, f AuditFilter, below uint64, limit int) ([]AuditRow, error) {
	db, cancel := m.with(ctx)
	defer cancel()
	page, none, err := f.ids(db)
	if none || err != nil {
		return nil, translate(err)
	}
	if below != 0 {
		page = page.Where("id < ?", below)
	}
	return auditRows(db, page.Order("id DESC").Limit(limit))
}
