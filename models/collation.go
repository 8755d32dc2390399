package models

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// EmailCollation is the collation of users.email on MySQL and MariaDB.
//
// The database's default is usually a UCA collation (utf8mb4_unicode_ci,
// MySQL 8's utf8mb4_0900_ai_ci), under which "vic\x01tim@example.com",
// "VICTIM@example.com" and "víctim@example.com" all equal
// "victim@example.com": ASCII controls weigh nothing, case and accents
// are ignored. utf8mb4_bin compares code points, so an email matches only
// itself. It is utf8mb4 like the rest of the table (converting a column
// loses nothing, and a lookup with a non-ASCII address is a plain miss,
// where an ascii column would refuse or mangle it), and it exists on
// MySQL 5.7, 8 and MariaDB alike. Like every non-NOPAD MySQL collation it
// ignores trailing spaces, which emails never have (they are trimmed, and
// GetByEmail compares what it found with what it was asked).
const EmailCollation = "utf8mb4_bin"

// exactColumns are the columns that compare exactly (EmailCollation) on
// MySQL: users.email, and hashtags.title, so that two tags are one only
// when FoldHashtag makes them so ("Go" and "go"), never because the UCA
// collation ignores accents or width ("café" and "cafe", "ｇｏ" and "go"),
// and Korean compares code point by code point.
var exactColumns = []struct{ table, column string }{{"users", "email"}, {"hashtags", "title"}}

// collateExactly gives each of exactColumns the collation EmailCollation on
// MySQL, whatever the database's default; AutoMigrate creates columns with
// the default. It alters an existing column once (the unique index is
// rebuilt; rows that were distinct stay distinct) and does nothing on
// SQLite, whose = compares bytes.
func collateExactly(ctx context.Context, db *gorm.DB) error {
	if db.Name() != "mysql" {
		return nil
	}
	db = db.WithContext(ctx)
	for _, c := range exactColumns {
		var col struct{ Type, Nullable, Collation string }
		if err := db.Raw(`SELECT COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLLATION_NAME AS collation
		FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?`, c.table, c.column).Scan(&col).Error; err != nil {
			return fmt.Errorf("reading the collation of %s.%s: %w", c.table, c.column, err)
		}
		if col.Collation == EmailCollation {
			continue
		}
		null := "NOT NULL"
		if col.Nullable == "YES" {
			null = "NULL"
		}
		// The column keeps its type (what AutoMigrate made of the model's tag).
		if err := db.Exec("ALTER TABLE " + c.table + " MODIFY " + c.column + " " + col.Type + " CHARACTER SET utf8mb4 COLLATE " + EmailCollation + " " + null).Error; err != nil {
			return fmt.Errorf("making %s.%s compare exactly (%s): %w", c.table, c.column, EmailCollation, err)
		}
	}
	return nil
}
