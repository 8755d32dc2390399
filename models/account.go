package models

import (
	"context"
	"strconv"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ActionAccountDelete is the audited deletion of an account by its owner:
// the entry's actor and user are the account, Before its email.
const ActionAccountDelete = "user.delete"

// ChangePassword sets the user's password, ends every session issued so
// far (session_version goes up) and every pending link of the account
// (reset, verification, change of address); it returns the user as now stored, so
// that the session that asked can be issued again with the new version.
func (m *UserModel) ChangePassword(ctx context.Context, id uint64, password string) (*User, error) {
	if noSuchID(id) {
		return nil, ErrNoRecord
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), m.Cost)
	if err != nil {
		return nil, err
	}
	var u User
	db, cancel := m.with(ctx)
	defer cancel()
	err = db.Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&User{}).Where("id = ?", id).Updates(map[string]any{
			"password_hash": hash, "session_version": gorm.Expr("session_version + 1"),
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return gorm.ErrRecordNotFound
		}
		if err := endLinks(tx, id, allPurposes...); err != nil {
			return err
		}
		return tx.Take(&u, id).Error
	})
	if err != nil {
		return nil, translate(err)
	}
	return &u, nil
}

// SetNick sets the user's nickname (already cleaned). The user's domains
// are marked changed too, so that every instance's domain view, and the
// "nick" of the tokens it issues, follow at its next refresh.
func (m *UserModel) SetNick(ctx context.Context, id uint64, nick string) error {
	if noSuchID(id) {
		return ErrNoRecord
	}
	db, cancel := m.with(ctx)
	defer cancel()
	err := db.Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&User{}).Where("id = ?", id).Update("nick", nick)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return gorm.ErrRecordNotFound
		}
		return tx.Model(&Domain{}).Where("user_id = ? AND status <> ?", id, StatusDeleted).
			UpdateColumn("updated_at", time.Now()).Error
	})
	return translate(err)
}

// DeletedEmail is what a deleted account keeps in place of its email: its
// address is free to sign up again, and this is no address (no "@"), so
// that no sign-up can take it and no login form reaches it.
func DeletedEmail(id uint64) string {
	return "deleted:" + strconv.FormatUint(id, 10)
}

// DeleteAccount deletes the user's account at its owner's request, in one
// transaction: its domains are deleted as the owner's deletion of a domain
// does (their secrets and tokens stop working, domains the caller must
// make the domain view forget: ids), its posts are deleted (and the
// hashtags no other post uses), an audit
// entry records it, and the
// account is emptied rather than removed: its email, nick and password
// are cleared, every session ends and every pending link (reset,
// verification, change of address) is deleted. The row stays, so that the rows
// pointing at it (domains, usage, audit) and the domain view's refresh,
// which reads deletions from the domains table, keep working.
func (m *UserModel) DeleteAccount(ctx context.Context, id uint64) (ids []uint64, err error) {
	if noSuchID(id) {
		return nil, ErrNoRecord
	}
	db, cancel := m.with(ctx)
	defer cancel()
	err = db.Transaction(func(tx *gorm.DB) error {
		var u User
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Select("id", "email").
			Where("id = ?", id).Take(&u).Error; err != nil {
			return err
		}
		if err := tx.Model(&Domain{}).Where("user_id = ? AND status <> ?", id, StatusDeleted).
			Pluck("id", &ids).Error; err != nil {
			return err
		}
		if len(ids) > 0 {
			if err := tx.Model(&Domain{}).Where("id IN ? AND status <> ?", ids, StatusDeleted).
				Updates(map[string]any{"status": StatusDeleted, "host_key": nil}).Error; err != nil {
				return err
			}
		}
		// Its posts go (others see them, with its nick, in the hashtag API).
		// So do the hashtags no other post uses.
		mine := tx.Model(&Post{}).Select("id").Where("user_id = ?", id)
		var tags []uint64
		if err := tx.Model(&PostHashtag{}).Distinct("hashtag_id").Where("post_id IN (?)", mine).
			Pluck("hashtag_id", &tags).Error; err != nil {
			return err
		}
		if err := tx.Where("post_id IN (?)", mine).Delete(&PostHashtag{}).Error; err != nil {
			return err
		}
		if err := tx.Where("user_id = ?", id).Delete(&Post{}).Error; err != nil {
			return err
		}
		if err := deleteUnusedTags(tx, tags); err != nil {
			return err
		}
		if err := tx.Where("user_id = ?", id).Delete(&AccountToken{}).Error; err != nil {
			return err
		}
		if err := tx.Create(&AuditEntry{
			ActorID: id, ActorEmail: u.Email, Action: ActionAccountDelete,
			UserID: id, Before: u.Email, After: "deleted",
		}).Error; err != nil {
			return err
		}
		return tx.Model(&User{}).Where("id = ?", id).Updates(map[string]any{
			"email": DeletedEmail(id), "nick": "deleted", "password_hash": []byte{},
			"is_admin": false, "session_version": gorm.Expr("session_version + 1"),
		}).Error
	})
	if err != nil {
		return nil, translate(err)
	}
	return ids, nil
}
