package models

import (
	"context"
	"fmt"
	"strconv"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ActionDomainLimit is the audited action of setting how many domains a
// user may have (User.MaxDomains).
const ActionDomainLimit = "user.max_domains"

// MaxDomainLimit is the highest limit an admin may give one account.
const MaxDomainLimit = 1000000

// limitText is a limit as the audit log writes it: the number, or
// "default" when the account follows MAX_DOMAINS_PER_USER.
func limitText(limit *int) string {
	if limit == nil {
		return "default"
	}
	return strconv.Itoa(*limit)
}

// SetDomainLimit sets how many domains the user may have: limit, from 1
// to MaxDomainLimit, or nil for the default (MAX_DOMAINS_PER_USER). Like
// the changes to domains (admin.go), it locks the user's row, changes it
// and writes the audit entry (before → after) in one transaction.
// changed is false, and nothing is written, when the limit is that
// already. ErrNoRecord when there is no such user. Domains the account
// has beyond a lowered limit stay; registering more is refused.
func (m *AdminModel) SetDomainLimit(ctx context.Context, actor Actor, userID uint64, limit *int) (changed bool, err error) {
	if limit != nil && (*limit < 1 || *limit > MaxDomainLimit) {
		return false, fmt.Errorf("models: a domain limit is from 1 to %d, not %d", MaxDomainLimit, *limit)
	}
	if noSuchID(userID) {
		return false, ErrNoRecord
	}
	db, cancel := m.with(ctx)
	defer cancel()
	err = db.Transaction(func(tx *gorm.DB) error {
		var u User
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Select("id", "max_domains").
			Where("id = ?", userID).Take(&u).Error
		if err != nil {
			return err
		}
		before, after := limitText(u.MaxDomains), limitText(limit)
		if before == after {
			return nil
		}
		// Only max_domains: updated_at is the account's, not the admin's.
		if err := tx.Model(&User{}).Where("id = ?", userID).UpdateColumn("max_domains", limit).Error; err != nil {
			return err
		}
		changed = true
		return tx.Create(&AuditEntry{
			ActorID: actor.ID, ActorEmail: actor.Email, Action: ActionDomainLimit,
			UserID: userID, Before: before, After: after,
		}).Error
	})
	if err != nil {
		return false, translate(err)
	}
	return changed, nil
}
