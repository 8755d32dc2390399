package models_test

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/internal/secret"
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
		if _, err := users.VerifyEmail(ctx, u.ID, tok); !errors.Is(err, models.ErrBadToken) {
			t.Fatalf("a reset token verified the address: %v", err)
		}

		got, _, err := users.ResetPassword(ctx, tok, "new password")
		if err != nil {
			t.Fatal(err)
		}
		if got.SessionVersion != u.SessionVersion+1 || !got.Verified() {
			t.Errorf("after reset: session version %d (was %d), verified %v", got.SessionVersion, u.SessionVersion, got.Verified())
		}
		if _, err := users.Authenticate(ctx, u.Email, "new password"); err != nil {
			t.Errorf("the new password does not work: %v", err)
		}
		if _, _, err := users.ResetPassword(ctx, tok, "third password"); !errors.Is(err, models.ErrBadToken) {
			t.Fatalf("a used token worked again: %v", err)
		}
		if _, _, err := users.CheckToken(ctx, models.PurposeReset, tok); !errors.Is(err, models.ErrBadToken) {
			t.Fatalf("a used token checks: %v", err)
		}

		// Expired.
		old, _ := users.NewToken(ctx, u.ID, models.PurposeReset, u.Email, time.Millisecond)
		time.Sleep(5 * time.Millisecond)
		if _, _, err := users.ResetPassword(ctx, old, "fourth password"); !errors.Is(err, models.ErrBadToken) {
			t.Fatalf("an expired token worked: %v", err)
		}
		// Unknown, empty, absurd.
		for _, bad := range []string{"", "nope", strings.Repeat("a", 43), strings.Repeat("x", 5000)} {
			if _, _, err := users.ResetPassword(ctx, bad, "fifth password"); !errors.Is(err, models.ErrBadToken) {
				t.Errorf("token %.20q: %v", bad, err)
			}
		}
		if _, err := users.Authenticate(ctx, u.Email, "new password"); err != nil {
			t.Errorf("a refused token changed the password: %v", err)
		}

		// A reset ends the account's other reset links.
		a, _ := users.NewToken(ctx, u.ID, models.PurposeReset, u.Email, models.ResetTTL)
		b, _ := users.NewToken(ctx, u.ID, models.PurposeReset, u.Email, models.ResetTTL)
		if _, _, err := users.ResetPassword(ctx, a, "sixth password"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := users.ResetPassword(ctx, b, "seventh password"); !errors.Is(err, models.ErrBadToken) {
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
			wg.Go(func() { _, _, errs[i] = users.ResetPassword(ctx, tok, fmt.Sprintf("password %d", i)) })
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

		if _, _, err := users.ChangeEmail(ctx, u.ID, clash); !errors.Is(err, models.ErrDuplicateEmail) {
			t.Fatalf("change to another account's address: %v", err)
		}
		if got, _ := users.Get(ctx, other.ID); got.Email != "taken@example.com" {
			t.Fatal("the other account changed")
		}
		if _, _, err := users.ChangeEmail(ctx, other.ID, change); !errors.Is(err, models.ErrBadToken) {
			t.Fatalf("another account used the change link: %v", err)
		}
		got, old, err := users.ChangeEmail(ctx, u.ID, change)
		if err != nil || old != "vee@example.com" || got.Email != "vee.new@example.com" || !got.Verified() ||
			got.SessionVersion != u.SessionVersion+1 {
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
		if _, err := users.VerifyEmail(ctx, u.ID, tok); !errors.Is(err, models.ErrBadToken) {
			t.Fatalf("another account used the verification link: %v", err)
		}
		got, err = users.VerifyEmail(ctx, w.ID, tok)
		if err != nil || !got.Verified() {
			t.Fatalf("verify: %+v %v", got, err)
		}
		if _, err := users.VerifyEmail(ctx, w.ID, tok); !errors.Is(err, models.ErrBadToken) {
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

// Review 1 and 2: a password reset or change, a deletion and a suspension
// end the account's pending links (a change of address above all, which
// is not tied to the account's current address), and no link acts on a
// deleted account.
func TestPendingLinksEndWithTheAccountsPassword(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 2*time.Second, 4)
		admin := models.NewAdminModel(db, 2*time.Second)
		// pending mails one link of each purpose to u.
		pending := func(u *models.User) map[string]string {
			v, _ := users.NewToken(ctx, u.ID, models.PurposeVerify, u.Email, models.VerifyTTL)
			r, _ := users.NewToken(ctx, u.ID, models.PurposeReset, u.Email, models.ResetTTL)
			e, _ := users.NewToken(ctx, u.ID, models.PurposeEmail, "elsewhere"+strconv.FormatUint(u.ID, 10)+"@example.com", models.VerifyTTL)
			return map[string]string{models.PurposeVerify: v, models.PurposeReset: r, models.PurposeEmail: e}
		}
		ended := func(what string, links map[string]string, purposes ...string) {
			t.Helper()
			for _, p := range purposes {
				if _, _, err := users.CheckToken(ctx, p, links[p]); !errors.Is(err, models.ErrBadToken) {
					t.Errorf("%s: the pending %s link still works: %v", what, p, err)
				}
			}
		}

		u, _ := users.Insert(ctx, "pw@example.com", "pw", "password123")
		links := pending(u)
		reset, _ := users.NewToken(ctx, u.ID, models.PurposeReset, u.Email, models.ResetTTL)
		if _, _, err := users.ResetPassword(ctx, reset, "another password"); err != nil {
			t.Fatal(err)
		}
		ended("reset", links, models.PurposeVerify, models.PurposeReset, models.PurposeEmail)
		if _, _, err := users.ChangeEmail(ctx, u.ID, links[models.PurposeEmail]); !errors.Is(err, models.ErrBadToken) {
			t.Fatalf("the change of address outlived the reset: %v", err)
		}

		links = pending(u)
		if _, err := users.ChangePassword(ctx, u.ID, "third password"); err != nil {
			t.Fatal(err)
		}
		ended("password change", links, models.PurposeVerify, models.PurposeReset, models.PurposeEmail)

		links = pending(u)
		if _, err := users.DeleteAccount(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		ended("deletion", links, models.PurposeVerify, models.PurposeReset, models.PurposeEmail)
		var n int64
		db.Model(&models.AccountToken{}).Where("user_id = ?", u.ID).Count(&n)
		if n != 0 {
			t.Errorf("%d links of the deleted account stay", n)
		}
		// Whatever made a link since, a deleted account takes none.
		late, _ := users.NewToken(ctx, u.ID, models.PurposeEmail, "back@example.com", models.VerifyTTL)
		if _, _, err := users.ChangeEmail(ctx, u.ID, late); !errors.Is(err, models.ErrBadToken) {
			t.Fatalf("a deleted account took a new address: %v", err)
		}
		if got, _ := users.Get(ctx, u.ID); got.Email != models.DeletedEmail(u.ID) {
			t.Fatalf("the deleted account's email is %q", got.Email)
		}

		s, _ := users.Insert(ctx, "sus@example.com", "sus", "password123")
		links = pending(s)
		if _, _, err := admin.SetSuspended(ctx, models.Actor{ID: 99, Email: "root@example.com"}, s.ID, true, nil); err != nil {
			t.Fatal(err)
		}
		ended("suspension", links, models.PurposeEmail)
	})
}

// Review 1: a reset that first verifies the address hands the account to
// whoever reads it: the secrets of its domains (revoked ones too) stop
// working at once, with no overlap. A reset of a verified account keeps them.
func TestFirstVerifyingResetRetiresSecrets(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 2*time.Second, 4)
		domains := models.NewDomainModel(db, 2*time.Second)
		admin := models.NewAdminModel(db, 2*time.Second)
		u, _ := users.Insert(ctx, "squat@example.com", "squat", "password123")
		other, _ := users.Insert(ctx, "bystander@example.com", "by", "password123")
		a, sa, _ := domains.Insert(ctx, u.ID, "a.example", models.PlanFree)
		b, sb, _ := domains.Insert(ctx, u.ID, "b.example", models.PlanFree)
		if _, _, err := domains.RotateWithOverlap(ctx, a.ID, u.ID, time.Hour); err != nil { // a previous secret too
			t.Fatal(err)
		}
		if err := admin.Revoke(ctx, models.Actor{ID: 99, Email: "root@example.com"}, b.ID, "test"); err != nil {
			t.Fatal(err)
		}
		gone, _, _ := domains.Insert(ctx, u.ID, "gone.example", models.PlanFree)
		if err := domains.Delete(ctx, gone.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		o, so, _ := domains.Insert(ctx, other.ID, "other.example", models.PlanFree)

		tok, _ := users.NewToken(ctx, u.ID, models.PurposeReset, u.Email, models.ResetTTL)
		got, retired, err := users.ResetPassword(ctx, tok, "owner's password")
		if err != nil || !got.Verified() {
			t.Fatalf("reset: %v", err)
		}
		if !slices.Equal(retired, []uint64{a.ID, b.ID}) {
			t.Fatalf("retired %v, want %v", retired, []uint64{a.ID, b.ID})
		}
		for _, s := range []string{sa, sb} {
			if c, err := domains.CredentialByHash(ctx, secret.Hash(s)); !errors.Is(err, models.ErrNoRecord) {
				t.Errorf("the squatter's secret still finds domain %+v (%v)", c, err)
			}
		}
		for _, d := range []*models.Domain{a, b} {
			now, _ := domains.CredentialByID(ctx, d.ID)
			if now.PrevSecretHash != "" || now.SecretVersion <= d.SecretVersion {
				t.Errorf("domain %d after the reset: %+v", d.ID, now)
			}
		}
		if c, err := domains.CredentialByHash(ctx, secret.Hash(so)); err != nil || c.ID != o.ID {
			t.Fatalf("another account's domain changed: %v", err)
		}

		// A reset of the verified account keeps the secrets.
		a2, _ := domains.CredentialByID(ctx, a.ID)
		tok, _ = users.NewToken(ctx, u.ID, models.PurposeReset, u.Email, models.ResetTTL)
		if _, retired, err := users.ResetPassword(ctx, tok, "another password"); err != nil || len(retired) != 0 {
			t.Fatalf("second reset: retired %v, %v", retired, err)
		}
		if a3, _ := domains.CredentialByID(ctx, a.ID); a3.SecretHash != a2.SecretHash {
			t.Error("a reset of a verified account rotated its secrets")
		}
	})
}
