package models

import (
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
)

// utf8mb4TableOptions end every CREATE TABLE on MySQL and MariaDB: the
// tables use utf8mb4 (all of Unicode: Korean, emoji) whatever the
// database's default character set; on a latin1 database a Korean
// nickname would otherwise be refused (error 1366, a 500).
// utf8mb4_unicode_ci is the collation docker-compose.yml sets for the
// server, and one that MySQL 5.7, 8 and MariaDB all have. Columns given a
// collation of their own keep it; tables that exist already are left as
// they are.
const utf8mb4TableOptions = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"

// mysqlDialector is GORM's MySQL dialect, whose migrator creates tables
// with utf8mb4TableOptions. Every other method is the dialect's own (error
// translation included).
type mysqlDialector struct{ *mysql.Dialector }

// utf8mb4Dialector wraps the dialect that mysql.New returns.
func utf8mb4Dialector(d gorm.Dialector) gorm.Dialector {
	return mysqlDialector{d.(*mysql.Dialector)}
}

// Migrator is the dialect's migrator with the table options set: GORM
// asks for a migrator for each table it creates, so they are always there.
// The new session keeps them (CreateTable reads them from it) while each
// query the migrator makes starts from a clean statement, as with GORM's
// own db.Migrator().
func (d mysqlDialector) Migrator(db *gorm.DB) gorm.Migrator {
	return d.Dialector.Migrator(db.Set("gorm:table_options", utf8mb4TableOptions).Session(&gorm.Session{}))
}
