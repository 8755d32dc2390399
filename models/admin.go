package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ErrWrongState: the domain's status or plan does not allow the change
// asked for (revoking a deleted domain, restoring an active one, ...).
// The error returned wraps it in a *StateError that says which.
var ErrWrongState = errors.New("models: the domain's state does not allow this change")

// StateError tells why a change was refused: the domain's status and plan.
type StateError struct {
	Status string
	Plan   string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("%v (status %s, plan %s)", ErrWrongState, e.Status, e.Plan)
}

// Unwrap makes errors.Is(err, ErrWrongState) true.
func (e *StateError) Unwrap() error { return ErrWrongState }

// Audited actions.
const (
	ActionRevoke   = "domain.revoke"
	ActionRestore  = "domain.restore"
	ActionPlan     = "domain.plan"
	ActionViewUser = "user.view"
)

// Sort orders of the admin domain list.
const (
	SortCreated  = "created"
	SortLastUsed = "last_used"
)

// maxOwnerIDs bounds the ids an owner filter passes as a list; beyond it
// the filter becomes a subquery.
const maxOwnerIDs = 1000

// Actor is the admin who acts, as written in the audit log.
type Actor struct {
	ID    uint64
	Email string
}

// DomainFilter selects and orders the domains of the admin list. Zero
// values select everything, newest first.
type DomainFilter struct {
	Owner   string // text in the owner's email or nick
	OwnerID uint64 // one owner only
	Host    string // text in the host
	Plan    string // PlanFree, PlanPremium or ""
	Status  string // StatusActive, StatusRevoked, StatusDeleted or ""
	Sort    string // SortCreated (default) or SortLastUsed
	Asc     bool   // oldest (or least recently used) first
}

// AdminDomain is one line of the admin list: never the secret's hash.
type AdminDomain struct {
	ID           uint64
	UserID       uint64
	OwnerNick    string
	OwnerEmail   string
	Host         string
	Type         string
	Status       string
	SecretLast4  string
	TokensIssued int64
	LastTokenAt  *time.Time
	LastFailedAt *time.Time
	CreatedAt    time.Time
}

// AdminModel holds the queries of the admin console. Every change it makes
// is written to the audit log in the same transaction.
type AdminModel struct{ conn }

// NewAdminModel returns an AdminModel with the given per-query timeout.
func NewAdminModel(db *gorm.DB, timeout time.Duration) *AdminModel {
	return &AdminModel{conn{db, timeout}}
}

// likePattern makes s a LIKE pattern matching any text that contains it,
// with % and _ taken literally (the escape character is !, which means the
// same to MySQL and SQLite, unlike the backslash).
func likePattern(s string) string {
	r := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")
	return "%" + r.Replace(s) + "%"
}

// ListDomains returns up to limit domains after offset, with whether more
// follow. An owner filter looks up the matching users first, so that the
// domains are found through their (user_id, created_at) index rather than
// by joining every domain to its owner.
func (m *AdminModel) ListDomains(ctx context.Context, f DomainFilter, limit, offset int) ([]AdminDomain, bool, error) {
	db, cancel := m.with(ctx)
	defer cancel()

	q := db.Table("domains").
		Select("domains.id, domains.user_id, users.nick AS owner_nick, users.email AS owner_email, " +
			"domains.host, domains.type, domains.status, domains.secret_last4, domains.tokens_issued, " +
			"domains.last_token_at, domains.last_failed_at, domains.created_at").
		Joins("JOIN users ON users.id = domains.user_id")

	if f.OwnerID != 0 {
		q = q.Where("domains.user_id = ?", f.OwnerID)
	}
	if f.Owner != "" {
		pat := likePattern(f.Owner)
		owners := db.Model(&User{}).Select("id").
			Where("email LIKE ? ESCAPE '!' OR nick LIKE ? ESCAPE '!'", pat, pat)
		var ids []uint64
		if err := owners.Limit(maxOwnerIDs+1).Pluck("id", &ids).Error; err != nil {
			return nil, false, translate(err)
		}
		switch {
		case len(ids) == 0:
			return nil, false, nil
		case len(ids) <= maxOwnerIDs:
			q = q.Where("domains.user_id IN ?", ids)
		default:
			q = q.Where("domains.user_id IN (?)", db.Model(&User{}).Select("id").
				Where("email LIKE ? ESCAPE '!' OR nick LIKE ? ESCAPE '!'", pat, pat))
		}
	}
	if f.Host != "" {
		q = q.Where("domains.host LIKE ? ESCAPE '!'", likePattern(f.Host))
	}
	if f.Plan != "" {
		q = q.Where("domains.type = ?", f.Plan)
	}
	if f.Status != "" {
		q = q.Where("domains.status = ?", f.Status)
	}
	dir := "DESC"
	if f.Asc {
		dir = "ASC"
	}
	col := "domains.created_at"
	if f.Sort == SortLastUsed {
		col = "domains.last_token_at"
	}
	q = q.Order(col + " " + dir + ", domains.id " + dir)

	var rows []AdminDomain
	if err := q.Limit(limit + 1).Offset(offset).Scan(&rows).Error; err != nil {
		return nil, false, translate(err)
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	return rows, more, nil
}

// Revoke stops the domain's secret from getting tokens. Only an active
// domain can be revoked.
func (m *AdminModel) Revoke(ctx context.Context, actor Actor, id uint64) (*AdminDomain, error) {
	return m.change(ctx, actor, id, ActionRevoke, func(d *Domain) (string, string, map[string]any, bool) {
		return d.Status, StatusRevoked, map[string]any{"status": StatusRevoked}, d.Status == StatusActive
	})
}

// Restore makes a revoked domain active again.
func (m *AdminModel) Restore(ctx context.Context, actor Actor, id uint64) (*AdminDomain, error) {
	return m.change(ctx, actor, id, ActionRestore, func(d *Domain) (string, string, map[string]any, bool) {
		return d.Status, StatusActive, map[string]any{"status": StatusActive}, d.Status == StatusRevoked
	})
}

// SetPlan moves a domain that is not deleted to another plan.
func (m *AdminModel) SetPlan(ctx context.Context, actor Actor, id uint64, plan string) (*AdminDomain, error) {
	if plan != PlanFree && plan != PlanPremium {
		return nil, fmt.Errorf("models: unknown plan %q", plan)
	}
	return m.change(ctx, actor, id, ActionPlan, func(d *Domain) (string, string, map[string]any, bool) {
		return d.Type, plan, map[string]any{"type": plan}, d.Status != StatusDeleted && d.Type != plan
	})
}

// change locks the domain's row, asks decide whether the change applies
// (and what it sets), makes it and writes the audit entry, all in one
// transaction: there is no change without its entry, nor the reverse.
func (m *AdminModel) change(ctx context.Context, actor Actor, id uint64, action string,
	decide func(d *Domain) (before, after string, set map[string]any, ok bool)) (*AdminDomain, error) {
	db, cancel := m.with(ctx)
	defer cancel()
	var out AdminDomain
	err := db.Transaction(func(tx *gorm.DB) error {
		var d Domain
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).
			Select("id", "user_id", "host", "type", "status").Where("id = ?", id).Take(&d).Error
		if err != nil {
			return err
		}
		before, after, set, ok := decide(&d)
		if !ok {
			return &StateError{Status: d.Status, Plan: d.Type}
		}
		// The row is locked (MySQL) or the database is (SQLite): the
		// condition is a second guard, not the first.
		res := tx.Model(&Domain{}).Where("id = ? AND status = ? AND type = ?", d.ID, d.Status, d.Type).Updates(set)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return &StateError{Status: d.Status, Plan: d.Type}
		}
		if err := tx.Create(&AuditEntry{
			ActorID: actor.ID, ActorEmail: actor.Email, Action: action,
			DomainID: d.ID, UserID: d.UserID, Before: before, After: after,
		}).Error; err != nil {
			return err
		}
		return tx.Table("domains").
			Select("domains.id, domains.user_id, users.nick AS owner_nick, users.email AS owner_email, "+
				"domains.host, domains.type, domains.status, domains.secret_last4, domains.tokens_issued, "+
				"domains.last_token_at, domains.last_failed_at, domains.created_at").
			Joins("JOIN users ON users.id = domains.user_id").Where("domains.id = ?", d.ID).Take(&out).Error
	})
	if err != nil {
		var se *StateError
		if errors.As(err, &se) {
			return nil, se
		}
		return nil, translate(err)
	}
	return &out, nil
}

// ViewUser returns the user and writes to the audit log that actor looked
// at their account and domains.
func (m *AdminModel) ViewUser(ctx context.Context, actor Actor, userID uint64) (*User, error) {
	db, cancel := m.with(ctx)
	defer cancel()
	var u User
	err := db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Take(&u, userID).Error; err != nil {
			return err
		}
		return tx.Create(&AuditEntry{
			ActorID: actor.ID, ActorEmail: actor.Email, Action: ActionViewUser, UserID: u.ID,
		}).Error
	})
	if err != nil {
		return nil, translate(err)
	}
	return &u, nil
}
