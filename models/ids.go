package models

import "math"

// MaxID is the largest id a row can have. SQLite's INTEGER PRIMARY KEY is a
// signed 64-bit number (MySQL's BIGINT UNSIGNED reaches further, but no
// auto-increment here gets there), and database/sql refuses a uint64 with
// its high bit set ("uint64 values with high bit set are not supported")
// instead of finding no row. The models answer an id they are asked to
// find (or filter by) above MaxID as one that names no row, without a
// query, so that every database answers alike.
const MaxID = math.MaxInt64

// noSuchID reports whether no row can have id.
func noSuchID(id uint64) bool { return id > MaxID }
