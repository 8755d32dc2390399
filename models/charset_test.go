package models_test

import (
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// TestTablesAreUTF8MB4OnALatin1Database: on a MySQL database whose
// default character set is latin1, the migration still creates every
// table in utf8mb4, so Korean (and any other) text is stored and read back
// as it was written.
func TestTablesAreUTF8MB4OnALatin1Database(t *testing.T) {
	db := testdb.FreshCollated(t, "mysql", "latin1_swedish_ci") // latin1, as MySQL 5.7 and many MariaDB installations default to
	var charset string
	if err := db.Raw("SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()").Scan(&charset).Error; err != nil || charset != "latin1" {
		t.Fatalf("the database's default character set is %q (%v), want latin1", charset, err)
	}
	var tables []struct {
		TableName      string `gorm:"column:TABLE_NAME"`
		TableCollation string `gorm:"column:TABLE_COLLATION"`
	}
	if err := db.Raw("SELECT TABLE_NAME, TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()").Scan(&tables).Error; err != nil {
		t.Fatal(err)
	}
	if len(tables) < 4 {
		t.Fatalf("%d tables: %+v", len(tables), tables)
	}
	for _, tb := range tables {
		if tb.TableCollation != "utf8mb4_unicode_ci" {
			t.Errorf("table %s: collation %s, want utf8mb4_unicode_ci", tb.TableName, tb.TableCollation)
		}
	}
	var latin1 []string
	if err := db.Raw("SELECT CONCAT(TABLE_NAME, '.', COLUMN_NAME) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND CHARACTER_SET_NAME IS NOT NULL AND CHARACTER_SET_NAME <> 'utf8mb4'").Scan(&latin1).Error; err != nil {
		t.Fatal(err)
	}
	if len(latin1) > 0 {
		t.Errorf("columns not in utf8mb4: %v", latin1)
	}

	users := models.NewUserModel(db, 2*time.Second, 4)
	const nick = "한국어닉네임😀"
	u, err := users.Insert(ctx, "kim@example.com", nick, "password123")
	if err != nil {
		t.Fatalf("inserting a Korean nick: %v", err)
	}
	got, err := users.GetByEmail(ctx, "kim@example.com")
	if err != nil || got.ID != u.ID || got.Nick != nick {
		t.Fatalf("read back %+v (%v), want the nick %q", got, err, nick)
	}
	// Migrating again changes nothing.
	if err := models.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
}
