package models_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// Spellings that a UCA collation such as utf8mb4_unicode_ci (MySQL 8's
// default utf8mb4_0900_ai_ci is one too) takes for victim@example.com:
// ignorable controls, a soft hyphen, case, an accent.
var lookalikes = []string{
	"vic\x01tim@example.com", "victim\x00@example.com", "\x1fvictim@example.com", "victim@exa\x7fmple.com",
	"vi\u00adctim@example.com", "VICTIM@example.com", "víctim@example.com",
}

// users.email compares exactly whatever the database's default collation:
// the migration sets a binary one on the column.
func TestEmailsCompareExactly(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.FreshCollated(t, driver, "utf8mb4_unicode_ci")
		users := models.NewUserModel(db, 2*time.Second, 4)
		u, err := users.Insert(ctx, "victim@example.com", "victim", "password123")
		if err != nil {
			t.Fatal(err)
		}
		if driver == "mysql" {
			if got := emailCollation(t, db); got != models.EmailCollation {
				t.Fatalf("users.email collation %q, want %q", got, models.EmailCollation)
			}
		}
		for _, email := range append(lookalikes, "victim@example.com ", " victim@example.com") {
			var n int64
			if err := db.Model(&models.User{}).Where("email = ?", email).Count(&n).Error; err != nil {
				t.Fatal(err)
			}
			// MySQL's binary collations pad with spaces (trailing spaces
			// do not count); GetByEmail, below, refuses them too.
			if n != 0 && email != "victim@example.com " {
				t.Errorf("the database takes %s for victim@example.com", strconv.Quote(email))
			}
			if _, err := users.GetByEmail(ctx, email); !errors.Is(err, models.ErrNoRecord) {
				t.Errorf("GetByEmail(%s): %v", strconv.Quote(email), err)
			}
			if _, err := users.Authenticate(ctx, email, "password123"); !errors.Is(err, models.ErrInvalidCredentials) {
				t.Errorf("Authenticate(%s): %v", strconv.Quote(email), err)
			}
		}
		// The exact address still finds the account, and a lookalike is a
		// different address for the unique index.
		if got, err := users.GetByEmail(ctx, "victim@example.com"); err != nil || got.ID != u.ID {
			t.Fatalf("GetByEmail(exact): %+v %v", got, err)
		}
		if _, err := users.Insert(ctx, "VICTIM@example.com", "other", "password123"); err != nil {
			t.Fatalf("a different spelling is a duplicate: %v", err)
		}
	})
}

// A database migrated before the collation was set gets it on the next
// Migrate, keeping its rows; migrating again changes nothing.
func TestMigrateMakesExistingEmailColumnsExact(t *testing.T) {
	if testdb.MySQLServer(t) == "" {
		t.Skip("a MySQL collation")
	}
	db := testdb.FreshCollated(t, "mysql", "utf8mb4_unicode_ci")
	// The table as the previous migration left it: the database's collation.
	if err := db.Exec("ALTER TABLE users MODIFY email varchar(254) COLLATE utf8mb4_unicode_ci NOT NULL").Error; err != nil {
		t.Fatal(err)
	}
	users := models.NewUserModel(db, 2*time.Second, 4)
	u, err := users.Insert(ctx, "victim@example.com", "victim", "password123")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := users.GetByEmail(ctx, "VICTIM@example.com"); err == nil {
		// Without the exact column, the database finds the account; the
		// model must still not take it for the typed address.
		t.Fatalf("GetByEmail took VICTIM@example.com for %s", got.Email)
	}
	if err := models.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if got := emailCollation(t, db); got != models.EmailCollation {
		t.Fatalf("after Migrate: users.email collation %q, want %q", got, models.EmailCollation)
	}
	if got, err := users.GetByEmail(ctx, "victim@example.com"); err != nil || got.ID != u.ID {
		t.Fatalf("the account after Migrate: %+v %v", got, err)
	}
	var n int64
	db.Model(&models.User{}).Where("email = ?", "vic\x01tim@example.com").Count(&n)
	if n != 0 {
		t.Fatal("the altered column still ignores control characters")
	}
}

// emailCollation is the collation of users.email in db's database.
func emailCollation(t *testing.T, db *gorm.DB) string {
	t.Helper()
	var c string
	if err := db.Raw("SELECT COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND COLUMN_NAME = 'email'").
		Scan(&c).Error; err != nil {
		t.Fatal(err)
	}
	return c
}
