package models

import (
	"errors"
	"fmt"
	"testing"
)

// sqliteError stands for the SQLite driver's error type (its fields are
// unexported): a message and a result code.
type sqliteError struct {
	msg  string
	code int
}

func (e *sqliteError) Error() string { return e.msg }
func (e *sqliteError) Code() int     { return e.code }

// TestInterruptedStatementIsUnavailable: SQLite stops a statement whose
// context ended with SQLITE_INTERRUPT ("interrupted (9)"): the caller should
// try again (503), as for a MySQL timeout, not get a 500.
func TestInterruptedStatementIsUnavailable(t *testing.T) {
	err := translate(fmt.Errorf("inserting: %w", &sqliteError{"interrupted (9)", 9}))
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("interrupted: %v, want ErrUnavailable", err)
	}
	if err := translate(&sqliteError{"constraint failed (2067)", 2067}); errors.Is(err, ErrUnavailable) {
		t.Errorf("a constraint error became ErrUnavailable: %v", err)
	}
}
