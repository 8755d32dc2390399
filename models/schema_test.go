package models_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// ddlLog records the schema statements a migration runs.
type ddlLog struct{ stmts []string }

func (l *ddlLog) LogMode(logger.LogLevel) logger.Interface { return l }
func (l *ddlLog) Info(context.Context, string, ...any)     {}
func (l *ddlLog) Warn(context.Context, string, ...any)     {}
func (l *ddlLog) Error(context.Context, string, ...any)    {}
func (l *ddlLog) Trace(_ context.Context, _ time.Time, fc func() (string, int64), _ error) {
	sql, _ := fc()
	if w, _, _ := strings.Cut(strings.TrimSpace(sql), " "); slices.Contains([]string{"CREATE", "ALTER", "DROP"}, strings.ToUpper(w)) {
		l.stmts = append(l.stmts, sql)
	}
}

// The plan is Plan in Go and stays in the column `type`: its indexes are
// on that column, and migrating again runs no DDL, so a database made
// before the field was renamed (the same schema) is left as it is.
func TestPlanIsStoredInTheTypeColumn(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		m := db.Migrator()
		if !m.HasColumn(&models.Domain{}, "type") || m.HasColumn(&models.Domain{}, "plan") {
			t.Fatal("the plan is not (only) in domains.type")
		}
		idx, err := m.GetIndexes(&models.Domain{})
		if err != nil {
			t.Fatal(err)
		}
		cols := map[string][]string{}
		for _, i := range idx {
			cols[i.Name()] = i.Columns()
		}
		for name, want := range map[string][]string{
			"idx_domains_type_created":        {"type", "created_at"},
			"idx_domains_status_type_created": {"status", "type", "created_at"},
		} {
			if !slices.Equal(cols[name], want) {
				t.Errorf("%s on %v, want %v", name, cols[name], want)
			}
		}

		log := &ddlLog{}
		if err := models.Migrate(ctx, db.Session(&gorm.Session{Logger: log})); err != nil {
			t.Fatal(err)
		}
		if len(log.stmts) != 0 {
			t.Fatalf("migrating a migrated database ran %q", log.stmts)
		}
	})
}
