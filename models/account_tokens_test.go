package models_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// everyValue is every value of every row of the table, as text.
func everyValue(t *testing.T, db *gorm.DB, table string) string {
	t.Helper()
	var rows []map[string]any
	if err := db.Table(table).Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range rows {
		for _, v := range r {
			if s, ok := v.([]byte); ok {
				v = string(s)
			}
			fmt.Fprintf(&b, "%v|", v)
		}
	}
	return b.String()
}

// A link token is stored only as its hash, works once, for its own purpose
// and address only, and not after it expires.
func TestAccountTokens(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 2*time.Second, 4)
		u, err := users.InsertLang(ctx, "tia@example.com", "tia", "old password", "ko")
		if err != nil || u.Lang != "ko" || u.Verified() {
			t.Fatalf("insert: %+v %v", u, err)
		}

		tok, err := users.NewToken(ctx, u.ID, models.PurposeReset, u.Email, models.ResetTTL)
		if err != nil || len(tok) < 43 {
			t.Fatalf("token %q: %v", tok, err)
		}
		stored := everyValue(t, db, "account_tokens")
		if strings.Contains(stored, tok) || !strings.Contains(stored, models.TokenHash(tok)) {
			t.Fatalf("the token is stored, or its hash is not: %s", stored)
		}

		// Checking does not use it; another purpose's check refuses it.
		for range 2 {
			if got, email, err := users.CheckToken(ctx, models.PurposeReset, tok); err != nil || got.ID != u.ID || email != u.Email {
				t.Fatalf("check: %v", err)
			}
		}
		if _, _, err := users.CheckToken(ctx, models.PurposeVerify, tok); !errors.Is(err, models.ErrBadToken) {
			t.Fatalf("a reset token checked as a verification: %v", err)
		}
		if _, err := users.VerifyEmail(ctx, tok); !errors.Is(err, models.ErrBadToken) {
			t.Fatalf("a reset token verified the address: %v", err)
		}

		got, err := users.ResetPassword(ctx, tok, "new password")
		if err != nil {
			t.Fatal(err)
		}
		if got.SessionVersion != u.SessionVersion+1 || !got.Verified() {
			t.Errorf("after reset: session version %d (was %d), verified %v", got.SessionVersion, u.SessionVersion, got.Verified())
		}
		if _, err := users.Authenticate(ctx, u.Email, "new password"); err != nil {
			t.Errorf("the new password does not work: %v", err)
		}
		if _, err := users.ResetPassword(ctx, tok, "third password"); !errors.Is(err, models.ErrBadToken) {
			t.Fatalf("a used token worked again: %v", err)
		}
		if _, _, err := users.CheckToken(ctx, models.PurposeReset, tok); !errors.Is(err, models.ErrBadToken) {
			t.Fatalf("a used token checks: %v", err)
		}

		// Expired.
		old, _ := users.NewToken(ctx, u.ID, models.PurposeReset, u.Email, time.Millisecond)
		time.Sleep(5 * time.Millisecond)
		if _, err := users.ResetPassword(ctx, old, "fourth password"); !errors.Is(err, models.ErrBadToken) {
			t.Fatalf("an expired token worked: %v", err)
		}
		// Unknown, empty, absurd.
		for _, bad := range []string{"", "nope", strings.Repeat("a", 43), strings.Repeat("x", 5000)} {
			if _, err := users.ResetPassword(ctx, bad, "fifth password"); !errors.Is(err, models.ErrBadToken) {
				t.Errorf("token %.20q: %v", bad, err)
			}
		}
		if _, err := users.Authenticate(ctx, u.Email, "new password"); err != nil {
			t.Errorf("a refused token changed the password: %v", err)
		}

		// A reset ends the account's other reset links.
		a, _ := users.NewToken(ctx, u.ID, models.PurposeReset, u.Email, models.ResetTTL)
		b, _ := users.NewToken(ctx, u.ID, models.PurposeReset, u.Email, models.ResetTTL)
		if _, err := users.ResetPassword(ctx, a, "sixth password"); err != nil {
			t.Fatal(err)
		}
		if _, err := users.ResetPassword(ctx, b, "seventh password"); !errors.Is(err, models.ErrBadToken) {
			t.Fatalf("a second outstanding link worked after a reset: %v", err)
		}
	})
}

// Two requests bringing the same link at once: one works, the other is refused.
func TestAccountTokenWorksOnceUnderConcurrency(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 5*time.Second, 4)
		u, _ := users.Insert(ctx, "race@example.com", "race", "old password")
		tok, _ := users.NewToken(ctx, u.ID, models.PurposeReset, u.Email, models.ResetTTL)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() { _, errs[i] = users.ResetPassword(ctx, tok, fmt.Sprintf("password %d", i)) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, models.ErrBadToken):
				t.Errorf("unexpected: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d resets succeeded with one link", ok)
		}
		if got, _ := users.Get(ctx, u.ID); got.SessionVersion != 2 {
			t.Fatalf("session version %d", got.SessionVersion)
		}
	})
}

// Verification and change of address: a link works only while it was sent
// to the account's address; a change takes the new address, verified, and
// ends the links sent to the old one.
func TestVerifyAndChangeEmail(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 2*time.Second, 4)
		u, _ := users.Insert(ctx, "vee@example.com", "vee", "password123")
		other, _ := users.Insert(ctx, "taken@example.com", "other", "password123")

		verify, _ := users.NewToken(ctx, u.ID, models.PurposeVerify, u.Email, models.VerifyTTL)
		reset, _ := users.NewToken(ctx, u.ID, models.PurposeReset, u.Email, models.ResetTTL)
		change, _ := users.NewToken(ctx, u.ID, models.PurposeEmail, "vee.new@example.com", models.VerifyTTL)
		clash, _ := users.NewToken(ctx, u.ID, models.PurposeEmail, "taken@example.com", models.VerifyTTL)

		if _, _, err := users.ChangeEmail(ctx, clash); !errors.Is(err, models.ErrDuplicateEmail) {
			t.Fatalf("change to another account's address: %v", err)
		}
		if got, _ := users.Get(ctx, other.ID); got.Email != "taken@example.com" {
			t.Fatal("the other account changed")
		}
		got, old, err := users.ChangeEmail(ctx, change)
		if err != nil || old != "vee@example.com" || got.Email != "vee.new@example.com" || !got.Verified() {
			t.Fatalf("change: %+v %q %v", got, old, err)
		}
		for name, tok := range map[string]string{"verify": verify, "reset": reset} {
			if _, _, err := users.CheckToken(ctx, map[string]string{"verify": models.PurposeVerify, "reset": models.PurposeReset}[name], tok); !errors.Is(err, models.ErrBadToken) {
				t.Errorf("a %s link sent to the old address still works: %v", name, err)
			}
		}
		if _, err := users.GetByEmail(ctx, "vee@example.com"); !errors.Is(err, models.ErrNoRecord) {
			t.Errorf("the old address still signs in: %v", err)
		}

		// Verification of the current address.
		w, _ := users.Insert(ctx, "wen@example.com", "wen", "password123")
		tok, _ := users.NewToken(ctx, w.ID, models.PurposeVerify, w.Email, models.VerifyTTL)
		got, err = users.VerifyEmail(ctx, tok)
		if err != nil || !got.Verified() {
			t.Fatalf("verify: %+v %v", got, err)
		}
		if _, err := users.VerifyEmail(ctx, tok); !errors.Is(err, models.ErrBadToken) {
			t.Fatalf("verified twice with one link: %v", err)
		}
		if err := users.SetLang(ctx, w.ID, "ko"); err != nil {
			t.Fatal(err)
		}
		if got, _ := users.Get(ctx, w.ID); got.Lang != "ko" {
			t.Fatalf("lang %q", got.Lang)
		}
	})
}
