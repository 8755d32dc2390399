package models

import "gorm.io/gorm"

// utf8mb4Tables makes the tables that db's migration creates on MySQL or
// MariaDB use utf8mb4 (all of Unicode: Korean, emoji) whatever the
// database's default character set is; on a latin1 database a Korean
// nickname would otherwise be refused (error 1366). utf8mb4_unicode_ci is
// the collation docker-compose.yml sets for the server, and one both MySQL
// and MariaDB have. Tables that exist already are left as they are.
func utf8mb4Tables(db *gorm.DB) *gorm.DB {
	if db.Dialector.Name() != "mysql" {
		return db
	}
	return db.Set("gorm:table_options", "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci")
}
