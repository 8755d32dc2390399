package models

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// AuditEntry records one admin action.
type AuditEntry struct {
	ID         uint64    `gorm:"primaryKey"`
	ActorID    uint64    `gorm:"not null;index"`
	ActorEmail string    `gorm:"size:254;not null"`
	Action     string    `gorm:"size:40;not null"`
	DomainID   uint64    `gorm:"not null;index"`
	Before     string    `gorm:"size:255;not null"`
	After      string    `gorm:"size:255;not null"`
	CreatedAt  time.Time `gorm:"index"`
}

// AuditModel reads and writes the audit log.
type AuditModel struct{ conn }

// NewAuditModel returns an AuditModel.
func NewAuditModel(db *gorm.DB, timeout time.Duration) *AuditModel {
	return &AuditModel{conn{db, timeout}}
}

// List returns the newest entries first, limit at a time after offset.
func (m *AuditModel) List(ctx context.Context, limit, offset int) ([]AuditEntry, error) {
	var es []AuditEntry
	db, cancel := m.with(ctx)
	defer cancel()
	err := db.Order("id DESC").Limit(limit).Offset(offset).Find(&es).Error
	return es, translate(err)
}
