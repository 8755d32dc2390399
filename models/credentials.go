package models

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gorm.io/gorm"
)

// Credential is what the API needs to know about a domain's secret.
type Credential struct {
	ID     uint64
	UserID uint64
	Nick   string
	Host   string
	Plan   string `gorm:"column:type"`
	Status string
	// OwnerSuspended: an admin suspended the domain's owner, so the
	// domain gets no tokens whatever its status (admin_users.go).
	OwnerSuspended bool
	SecretHash     string
	SecretVersion  int
	// PrevSecretHash is the secret a rotation replaced, which gets tokens
	// of version SecretVersion-1 until PrevSecretUntil; "" for none.
	PrevSecretHash  string
	PrevSecretUntil time.Time
	UpdatedAt       time.Time
}

// CredentialByHash returns the domain (active or revoked) whose secret, or
// previous secret (whether its overlap has ended or not), hashes to hash.
// Each is read from its own unique index: the previous secrets' only when
// the current ones have no such hash.
func (m *DomainModel) CredentialByHash(ctx context.Context, hash string) (*Credential, error) {
	db, cancel := m.with(ctx)
	defer cancel()
	var err error
	for _, col := range []string{"domains.secret_hash", "domains.prev_secret_hash"} {
		var c Credential
		err = credentialQuery(db).Where(col+" = ? AND domains.status <> ?", hash, StatusDeleted).Take(&c).Error
		if err == nil {
			return &c, nil
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			break
		}
	}
	return nil, translate(err)
}

// CredentialByID returns domain id in any status, deleted included
// (ErrNoRecord if there is no such row).
func (m *DomainModel) CredentialByID(ctx context.Context, id uint64) (*Credential, error) {
	if noSuchID(id) {
		return nil, ErrNoRecord
	}
	var c Credential
	db, cancel := m.with(ctx)
	defer cancel()
	if err := credentialQuery(db).Where("domains.id = ?", id).Take(&c).Error; err != nil {
		return nil, translate(err)
	}
	return &c, nil
}

// CredentialsChangedSince returns every domain updated at or after t
// (all of them for the zero time), oldest change first.
func (m *DomainModel) CredentialsChangedSince(ctx context.Context, t time.Time) ([]Credential, error) {
	var cs []Credential
	db, cancel := m.with(ctx)
	defer cancel()
	q := credentialQuery(db)
	if !t.IsZero() {
		q = q.Where("domains.updated_at >= ?", t)
	}
	err := q.Order("domains.updated_at, domains.id").Find(&cs).Error
	return cs, translate(err)
}

// CredentialsAfter returns at most limit domains (every status) whose id is
// above afterID, by id: one page of a keyset walk over the table (fewer
// than limit only at the end of the table). Only ctx
// bounds it, not the per-query timeout: the caller reading the whole table
// gives each page its own limit.
//
// It is two queries, each on a primary key whatever the table statistics
// say: the page of domains, then the nicks of their owners. (As one join,
// MariaDB may scan users first and sort the whole join for each page.)
// The rows are scanned by hand: GORM's reflection costs more than the
// queries when a million rows are read at start-up.
func (m *DomainModel) CredentialsAfter(ctx context.Context, afterID uint64, limit int) ([]Credential, error) {
	db := m.db.WithContext(ctx)
	rows, err := db.Table("domains").
		Select("id, user_id, host, type, status, secret_hash, secret_version, prev_secret_hash, prev_secret_until, updated_at").
		Where("id > ?", afterID).Order("id").Limit(limit).Rows()
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	cs := make([]Credential, 0, limit)
	owners := map[uint64]string{}
	for rows.Next() {
		var c Credential
		var updated, prevUntil sql.NullTime
		var prev sql.NullString
		if err := rows.Scan(&c.ID, &c.UserID, &c.Host, &c.Plan, &c.Status, &c.SecretHash, &c.SecretVersion,
			&prev, &prevUntil, &updated); err != nil {
			return nil, translate(err)
		}
		c.UpdatedAt, c.PrevSecretHash, c.PrevSecretUntil = updated.Time, prev.String, prevUntil.Time
		owners[c.UserID] = ""
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err)
	}
	rows.Close()
	if len(cs) == 0 {
		return cs, nil
	}
	ids := make([]uint64, 0, len(owners))
	for id := range owners {
		ids = append(ids, id)
	}
	urows, err := db.Table("users").Select("id, nick, suspended_at IS NOT NULL").Where("id IN ?", ids).Rows()
	if err != nil {
		return nil, translate(err)
	}
	defer urows.Close()
	found := make(map[uint64]bool, len(ids))
	suspended := map[uint64]bool{}
	for urows.Next() {
		var id uint64
		var nick string
		var off bool
		if err := urows.Scan(&id, &nick, &off); err != nil {
			return nil, translate(err)
		}
		owners[id], found[id], suspended[id] = nick, true, off
	}
	if err := urows.Err(); err != nil {
		return nil, translate(err)
	}
	for i := range cs {
		if !found[cs[i].UserID] {
			// The owner was deleted since the first query (and the domains
			// with it): the row is kept, so that the page stays full and the
			// walk goes on, but as deleted.
			cs[i].Status = StatusDeleted
		}
		cs[i].Nick, cs[i].OwnerSuspended = owners[cs[i].UserID], suspended[cs[i].UserID]
	}
	return cs, nil
}

// LastChange is the newest updated_at of any domain (the zero time when
// there is none).
func (m *DomainModel) LastChange(ctx context.Context) (time.Time, error) {
	var d Domain
	db, cancel := m.with(ctx)
	defer cancel()
	err := db.Select("updated_at").Order("updated_at DESC").Take(&d).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return time.Time{}, nil
	}
	return d.UpdatedAt, translate(err)
}

func credentialQuery(db *gorm.DB) *gorm.DB {
	return db.Table("domains").
		Select("domains.id, domains.user_id, users.nick, users.suspended_at IS NOT NULL AS owner_suspended, " +
			"domains.host, domains.type, domains.status, " +
			"domains.secret_hash, domains.secret_version, COALESCE(domains.prev_secret_hash, '') AS prev_secret_hash, " +
			"domains.prev_secret_until, domains.updated_at").
		Joins("JOIN users ON users.id = domains.user_id")
}
