package models

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// An owner's domains, a page at a time, and the limit on how many an
// account may have. Every query here is bounded by an index on
// (user_id, ...): its cost follows the page, not the account's size.

// ErrDomainLimit: the account has as many domains as it may have (deleted
// ones do not count), so registering another is refused.
var ErrDomainLimit = errors.New("models: the account has reached its domain limit")

// DomainLimit is how many domains (deleted ones left out) u may have: the
// limit an admin set for the account, else def. 0 means no limit.
func (u *User) DomainLimit(def int) int {
	if u.MaxDomains != nil {
		return *u.MaxDomains
	}
	return def
}

// checkDomainLimit refuses, with ErrDomainLimit, one more domain for
// userID when the account is at its limit (def unless an admin set one).
// It runs in the inserting transaction and locks the user's row first, so
// that two registrations at once are counted one after the other: on
// MySQL the second waits for the first to commit, and its count (its
// first plain read, so its snapshot starts after the lock) sees the
// first's domain; SQLite's transactions hold the database from BEGIN
// (_txlock=immediate), which serialises them anyway.
func checkDomainLimit(tx *gorm.DB, userID uint64, def int) error {
	var u User
	err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Select("id", "max_domains").
		Where("id = ?", userID).Take(&u).Error
	if err != nil {
		return err
	}
	limit := u.DomainLimit(def)
	if limit <= 0 {
		return nil
	}
	n, err := countLive(tx, userID)
	if err != nil {
		return err
	}
	if n >= int64(limit) {
		return ErrDomainLimit
	}
	return nil
}

// countLive counts the user's domains that are not deleted: host_key is
// NULL exactly for deleted ones, so this reads only the (user_id,
// host_key) index, one entry per domain of the account.
func countLive(db *gorm.DB, userID uint64) (int64, error) {
	var n int64
	err := db.Model(&Domain{}).Where("user_id = ? AND host_key IS NOT NULL", userID).Count(&n).Error
	return n, err
}

// CountForUser returns how many domains the user has, deleted ones left out.
func (m *DomainModel) CountForUser(ctx context.Context, userID uint64) (int64, error) {
	if noSuchID(userID) {
		return 0, nil
	}
	db, cancel := m.with(ctx)
	defer cancel()
	n, err := countLive(db, userID)
	return n, translate(err)
}

// DomainPageQuery selects one page of an owner's domains, newest first
// (created_at, then id). The page starts after a domain (After: the last
// of the page before it) or ends before one (Before: the first of the
// page after it), or is the first page when neither is set.
type DomainPageQuery struct {
	// Prefix keeps the hosts that start with it (lower-case, as hosts are
	// stored); "" keeps all.
	Prefix string
	After  uint64
	Before uint64
	Limit  int
}

// DomainPage is one page of an owner's domains, newest first, and whether
// more domains (matching the query) come before and after it.
type DomainPage struct {
	Domains []Domain
	Newer   bool
	Older   bool
}

// hostChars are the characters a stored host is made of (NormalizeHost);
// a prefix with any other cannot match, and is answered without a query.
const hostChars = "abcdefghijklmnopqrstuvwxyz0123456789.-:"

// PageForUser returns a page of the user's domains (deleted ones left
// out). Pages are keyset pages: each is read from the (user_id,
// created_at) index starting at its cursor, so a page deep in an account
// costs what the first does, and a domain registered or deleted meanwhile
// shifts no other row onto or off a page. A search by prefix reads the
// matching range of the (user_id, host_key) index. ErrNoRecord when the
// cursor is not one of the user's domains.
func (m *DomainModel) PageForUser(ctx context.Context, userID uint64, q DomainPageQuery) (*DomainPage, error) {
	if q.Limit < 1 || q.After != 0 && q.Before != 0 {
		return nil, errors.New("models: PageForUser: a limit, and at most one of After and Before")
	}
	cursorID := max(q.After, q.Before)
	if noSuchID(userID) || cursorID != 0 && noSuchID(cursorID) {
		return nil, ErrNoRecord
	}
	db, cancel := m.with(ctx)
	defer cancel()

	var cur struct {
		ID        uint64
		CreatedAt time.Time
	}
	if cursorID != 0 {
		// The cursor may be deleted since: it still marks its place.
		err := db.Model(&Domain{}).Select("id, created_at").Where("id = ? AND user_id = ?", cursorID, userID).Take(&cur).Error
		if err != nil {
			return nil, translate(err)
		}
	}
	if strings.Trim(q.Prefix, hostChars) != "" {
		return &DomainPage{}, nil
	}
	owned := func() *gorm.DB { return ownerDomains(db, userID, q.Prefix) }
	older := func(tx *gorm.DB, inclusive bool) *gorm.DB { // at or past the cursor, going back in time
		op := "<"
		if inclusive {
			op = "<="
		}
		return tx.Where("created_at <= ? AND (created_at < ? OR id "+op+" ?)", cur.CreatedAt, cur.CreatedAt, cur.ID)
	}
	newer := func(tx *gorm.DB, inclusive bool) *gorm.DB {
		op := ">"
		if inclusive {
			op = ">="
		}
		return tx.Where("created_at >= ? AND (created_at > ? OR id "+op+" ?)", cur.CreatedAt, cur.CreatedAt, cur.ID)
	}
	const cols = "id, user_id, host, type, status, secret_last4, last_token_at, last_failed_at, created_at, " +
		"label, revoke_reason, prev_secret_until, premium_requested"
	page := &DomainPage{}
	var err error
	switch {
	case q.Before != 0:
		err = newer(owned(), false).Select(cols).Order("created_at, id").Limit(q.Limit + 1).Find(&page.Domains).Error
		if err == nil {
			page.Older, err = exists(older(owned(), true))
		}
		if n := len(page.Domains); n > q.Limit {
			page.Newer, page.Domains = true, page.Domains[:q.Limit]
		}
		slices.Reverse(page.Domains)
	default:
		tx := owned()
		if q.After != 0 {
			tx = older(tx, false)
		}
		err = tx.Select(cols).Order("created_at DESC, id DESC").Limit(q.Limit + 1).Find(&page.Domains).Error
		if err == nil && q.After != 0 {
			page.Newer, err = exists(newer(owned(), true))
		}
		if n := len(page.Domains); n > q.Limit {
			page.Older, page.Domains = true, page.Domains[:q.Limit]
		}
	}
	if err != nil {
		return nil, translate(err)
	}
	return page, nil
}

// ownerDomains selects the user's domains that are not deleted and, with
// a prefix, whose host starts with it. The prefix is a range of the
// (user_id, host_key) index (host_key is the host, NULL once deleted): on
// MySQL a LIKE 'prefix%' (the collation compares case-insensitively, as
// LIKE does), on SQLite the byte range [prefix, successor), as SQLite's
// LIKE uses no index on a column of the default BINARY collation. prefix
// holds only hostChars, so it needs no escaping.
func ownerDomains(db *gorm.DB, userID uint64, prefix string) *gorm.DB {
	tx := db.Model(&Domain{}).Where("user_id = ?", userID)
	switch {
	case prefix == "":
		return tx.Where("status <> ?", StatusDeleted)
	case db.Dialector.Name() == "mysql":
		return tx.Where("host_key LIKE ?", prefix+"%")
	default:
		return tx.Where("host_key >= ? AND host_key < ?", prefix, prefix[:len(prefix)-1]+string(prefix[len(prefix)-1]+1))
	}
}

// exists reports whether tx selects any row.
func exists(tx *gorm.DB) (bool, error) {
	var ids []uint64
	err := tx.Select("id").Limit(1).Pluck("id", &ids).Error
	return len(ids) > 0, err
}
