package models

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// DomainUsage counts a domain's token requests per hour.
type DomainUsage struct {
	DomainID uint64    `gorm:"primaryKey;autoIncrement:false"`
	Hour     time.Time `gorm:"primaryKey"`
	Issued   int64     `gorm:"not null;default:0"`
	Refused  int64     `gorm:"not null;default:0"`
}

// UsageDelta is what one instance counted for a domain since its last flush.
type UsageDelta struct {
	Issued, Refused int64
	LastIssued      time.Time
	LastRefused     time.Time
}

// UsageModel stores token counts, written in batches off the request path.
type UsageModel struct{ conn }

// NewUsageModel returns a UsageModel.
func NewUsageModel(db *gorm.DB, timeout time.Duration) *UsageModel {
	return &UsageModel{conn{db, timeout}}
}

// Add folds the counts of one flush into the domains and their hourly rows.
func (m *UsageModel) Add(ctx context.Context, hour time.Time, deltas map[uint64]UsageDelta) error {
	db, cancel := m.with(ctx)
	defer cancel()
	hour = hour.UTC().Truncate(time.Hour)
	return translate(db.Transaction(func(tx *gorm.DB) error {
		for id, d := range deltas {
			set := map[string]any{}
			if d.Issued > 0 {
				set["tokens_issued"] = gorm.Expr("tokens_issued + ?", d.Issued)
				set["last_token_at"] = d.LastIssued.UTC()
			}
			if d.Refused > 0 {
				set["last_failed_at"] = d.LastRefused.UTC()
			}
			if len(set) > 0 {
				// UpdateColumns leaves updated_at alone: usage is not a change of the domain.
				if err := tx.Model(&Domain{}).Where("id = ?", id).UpdateColumns(set).Error; err != nil {
					return err
				}
			}
			row := DomainUsage{DomainID: id, Hour: hour, Issued: d.Issued, Refused: d.Refused}
			err := tx.Clauses(clause.OnConflict{
				Columns: []clause.Column{{Name: "domain_id"}, {Name: "hour"}},
				DoUpdates: clause.Assignments(map[string]any{
					"issued":  gorm.Expr("domain_usages.issued + ?", d.Issued),
					"refused": gorm.Expr("domain_usages.refused + ?", d.Refused),
				}),
			}).Create(&row).Error
			if err != nil {
				return err
			}
		}
		return nil
	}))
}

// Recent sums each of the user's domains' counts since since.
func (m *UsageModel) Recent(ctx context.Context, domainIDs []uint64, since time.Time) (map[uint64]UsageDelta, error) {
	out := map[uint64]UsageDelta{}
	if len(domainIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		DomainID        uint64
		Issued, Refused int64
	}
	db, cancel := m.with(ctx)
	defer cancel()
	err := db.Model(&DomainUsage{}).Select("domain_id, SUM(issued) AS issued, SUM(refused) AS refused").
		Where("domain_id IN ? AND hour >= ?", domainIDs, since.UTC().Truncate(time.Hour)).
		Group("domain_id").Scan(&rows).Error
	for _, r := range rows {
		out[r.DomainID] = UsageDelta{Issued: r.Issued, Refused: r.Refused}
	}
	return out, translate(err)
}
