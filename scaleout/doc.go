// Package scaleout holds the multi-instance tests (issue 19, point 6): the
// app built from this module and run as three separate processes on one
// MariaDB database and one redis-server, driven round-robin, directly and
// through a real reverse proxy (Debian's haproxy). It has no code of its
// own; see scaleout_test.go.
//
// The tests need NODEBIRD_TEST_MYSQL_DSN, redis-server and haproxy; without
// them they are skipped with a message, and under CI=true they fail.
package scaleout
