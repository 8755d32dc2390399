package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// Audited actions on a user's account.
const (
	ActionSuspend   = "user.suspend"
	ActionUnsuspend = "user.unsuspend"
	ActionRole      = "user.role"
)

// Roles as the audit log writes a change of the admin role.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

var (
	// ErrLastAdmin: the change would leave no admin who can sign in.
	ErrLastAdmin = errors.New("models: the last admin cannot lose the role or be suspended")
	// ErrConfigAdmin: the user is an admin by ADMIN_EMAILS, which the
	// console cannot change.
	ErrConfigAdmin = errors.New("models: an admin by ADMIN_EMAILS")
	// ErrSelf: an admin cannot suspend their own account.
	ErrSelf = errors.New("models: an admin cannot suspend themselves")
)

// lockAdmins locks the rows of the admins who can sign in (the stored role,
// or a verified email in configured; not suspended) and returns their ids: two
// changes that each check another admin remains run one after the other,
// so that they cannot both pass and leave none.
func lockAdmins(tx *gorm.DB, configured []string) ([]uint64, error) {
	q := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Model(&User{}).Where("suspended_at IS NULL")
	if len(configured) > 0 {
		q = q.Where("is_admin = ? OR (email IN ? AND email_verified_at IS NOT NULL)", true, configured)
	} else {
		q = q.Where("is_admin = ?", true)
	}
	var ids []uint64
	return ids, q.Order("id").Pluck("id", &ids).Error
}

// lockUser locks and reads the user's row.
func lockUser(tx *gorm.DB, userID uint64) (*User, error) {
	var u User
	err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).
		Select("id", "email", "is_admin", "suspended_at").Where("id = ?", userID).Take(&u).Error
	return &u, err
}

// othersThan reports whether ids holds an id other than id.
func othersThan(ids []uint64, id uint64) bool {
	return slices.ContainsFunc(ids, func(x uint64) bool { return x != id })
}

// SetSuspended suspends (or, with suspend false, restores) the user's
// account, audited like every admin change. Suspending ends the user's
// sessions (session_version) and pending changes of address (their
// links stop working) and stops their domains at once: each gets a
// new secret version (the tokens issued so far stay retired after a
// restore; the secrets themselves work again) and loses a rotation's
// previous secret, and its updated_at moves, so that every instance's
// domain view reads the change at its next refresh. Restoring moves
// updated_at again. configured is ADMIN_EMAILS: an admin may not suspend
// themselves (ErrSelf) nor the last admin who can sign in (ErrLastAdmin).
// changed is false, and nothing is written, when the account is in that
// state already. domainIDs are the user's domains (deleted ones left
// out), whose view must change. ErrNoRecord when there is no such user.
func (m *AdminModel) SetSuspended(ctx context.Context, actor Actor, userID uint64, suspend bool, configured []string) (changed bool, domainIDs []uint64, err error) {
	if noSuchID(userID) {
		return false, nil, ErrNoRecord
	}
	if suspend && actor.ID == userID {
		return false, nil, ErrSelf
	}
	db, cancel := m.with(ctx)
	defer cancel()
	err = db.Transaction(func(tx *gorm.DB) error {
		admins, err := lockAdmins(tx, configured)
		if err != nil {
			return err
		}
		u, err := lockUser(tx, userID)
		if err != nil {
			return err
		}
		if u.Suspended() == suspend {
			return nil
		}
		if suspend && slices.Contains(admins, u.ID) && !othersThan(admins, u.ID) {
			return ErrLastAdmin
		}
		now := tx.NowFunc()
		user := map[string]any{"suspended_at": nil}
		domains := map[string]any{"updated_at": now}
		before, after := "suspended", "active"
		if suspend {
			user = map[string]any{"suspended_at": now, "session_version": gorm.Expr("session_version + 1")}
			domains = map[string]any{
				"updated_at": now, "secret_version": gorm.Expr("secret_version + 1"),
				"prev_secret_hash": nil, "prev_secret_until": nil,
			}
			before, after = after, before
		}
		if err := tx.Model(&User{}).Where("id = ?", u.ID).UpdateColumns(user).Error; err != nil {
			return err
		}
		if suspend { // a pending change of address must not outlive it
			if err := endLinks(tx, u.ID, PurposeEmail); err != nil {
				return err
			}
		}
		live := tx.Model(&Domain{}).Where("user_id = ? AND status <> ?", u.ID, StatusDeleted)
		if err := live.Pluck("id", &domainIDs).Error; err != nil {
			return err
		}
		if err := tx.Model(&Domain{}).Where("user_id = ? AND status <> ?", u.ID, StatusDeleted).
			UpdateColumns(domains).Error; err != nil {
			return err
		}
		changed = true
		action := ActionUnsuspend
		if suspend {
			action = ActionSuspend
		}
		return tx.Create(&AuditEntry{
			ActorID: actor.ID, ActorEmail: actor.Email, Action: action, UserID: u.ID, Before: before, After: after,
		}).Error
	})
	switch {
	case errors.Is(err, ErrLastAdmin):
		return false, nil, err
	case err != nil:
		return false, nil, translate(err)
	}
	return changed, domainIDs, nil
}

// SetRole grants (admin true) or revokes the stored admin role, audited
// (user → admin, or back). configured is ADMIN_EMAILS: their role is the
// configuration's, which the console cannot change (ErrConfigAdmin), and
// the last admin who can sign in cannot lose it (ErrLastAdmin), be it the
// actor or another. changed is false, and nothing is written, when the
// user has that role already. ErrNoRecord when there is no such user.
func (m *AdminModel) SetRole(ctx context.Context, actor Actor, userID uint64, admin bool, configured []string) (changed bool, err error) {
	if noSuchID(userID) {
		return false, ErrNoRecord
	}
	db, cancel := m.with(ctx)
	defer cancel()
	err = db.Transaction(func(tx *gorm.DB) error {
		admins, err := lockAdmins(tx, configured)
		if err != nil {
			return err
		}
		u, err := lockUser(tx, userID)
		if err != nil {
			return err
		}
		switch {
		case slices.Contains(configured, u.Email):
			return ErrConfigAdmin
		case u.IsAdmin == admin:
			return nil
		case !admin && slices.Contains(admins, u.ID) && !othersThan(admins, u.ID):
			return ErrLastAdmin
		}
		if err := tx.Model(&User{}).Where("id = ?", u.ID).UpdateColumn("is_admin", admin).Error; err != nil {
			return err
		}
		changed = true
		before, after := RoleUser, RoleAdmin
		if !admin {
			before, after = after, before
		}
		return tx.Create(&AuditEntry{
			ActorID: actor.ID, ActorEmail: actor.Email, Action: ActionRole, UserID: u.ID, Before: before, After: after,
		}).Error
	})
	switch {
	case errors.Is(err, ErrLastAdmin), errors.Is(err, ErrConfigAdmin):
		return false, err
	case err != nil:
		return false, translate(err)
	}
	return changed, nil
}
