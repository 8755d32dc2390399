package loadseed

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

func TestRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&mysql.MySQLError{Number: 1213, Message: "Deadlock found when trying to get lock"}, true},
		{fmt.Errorf("seeding users: %w", &mysql.MySQLError{Number: 1205, Message: "Lock wait timeout exceeded"}), true},
		{&mysql.MySQLError{Number: 1062, Message: "Duplicate entry"}, false},
		{context.DeadlineExceeded, false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := retryable(tt.err); got != tt.want {
			t.Errorf("retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestInsertSQL(t *testing.T) {
	tests := []struct {
		table   string
		columns []string
		rows    int
		want    string
	}{
		{"users", []string{"id"}, 1, "INSERT INTO users (id) VALUES (?)"},
		{"t", []string{"a", "b"}, 3, "INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?)"},
	}
	for _, tt := range tests {
		if got := insertSQL(tt.table, tt.columns, tt.rows); got != tt.want {
			t.Errorf("insertSQL(%q, %q, %d) = %q, want %q", tt.table, tt.columns, tt.rows, got, tt.want)
		}
	}
	// A full INSERT of domains stays under SQLite's limit of placeholders.
	cols := domainTable(time.Now(), newSecretLines(1)).columns
	if n := strings.Count(insertSQL("domains", cols, rowsPerInsert), "?"); n != rowsPerInsert*len(cols) || n > 32766 {
		t.Errorf("a full INSERT of domains has %d placeholders, want %d (at most 32,766)", n, rowsPerInsert*len(cols))
	}
}

func TestSeedTablesGiveAValueForEveryColumn(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	secrets := newSecretLines(20)
	for _, tt := range []seedTable{userTable(now), domainTable(now, secrets)} {
		if got := tt.values(nil, 13, 20); len(got) != len(tt.columns) {
			t.Errorf("%s: %d values for %d columns", tt.name, len(got), len(tt.columns))
		}
	}
	// Domain 13 (id 14) belongs to user 1 (id 2), is premium, and its
	// secret is on line 13 and hashed into the row.
	row := domainTable(now, secrets).values(nil, 13, 20)
	s := string(secrets[13*secretLine : 13*secretLine+secret.Len])
	if !secret.WellFormed(s) {
		t.Fatalf("line 13 holds %q, not a secret", s)
	}
	want := []any{14, 2, "site13.load.test", "site13.load.test", models.PlanPremium, models.StatusActive, secret.Hash(s), secret.Last4(s), 1, 0}
	if fmt.Sprint(row[:len(want)]) != fmt.Sprint(want) {
		t.Errorf("domain 13 = %v, want %v", row[:len(want)], want)
	}
	if at := row[len(row)-1].(time.Time); !at.Before(now.Add(-time.Hour)) || at.Before(now.Add(-366*24*time.Hour)) {
		t.Errorf("domain 13 updated at %s, want within the year before the hour before %s", at, now)
	}
}

func TestSecretsFileRoundTrip(t *testing.T) {
	const n = 1000
	lines := newSecretLines(n)
	want := make([]string, n)
	var wg sync.WaitGroup
	for w := range 4 { // lines are set concurrently, as the seeding workers do
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				want[i] = secret.New()
				lines.set(i, want[i])
			}
		})
	}
	wg.Wait()
	path := filepath.Join(t.TempDir(), "secrets.txt")
	if err := lines.write(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the secrets file: %v, %v; want mode 0600", fi, err)
	}
	got, err := ReadSecrets(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("read back %d secrets, not the %d written in order", len(got), len(want))
	}
}

func TestReadSecretsRefusesAnythingElse(t *testing.T) {
	good := secret.New()
	mistyped := []byte(good)
	mistyped[10] ^= 1 // the checksum catches it
	tests := []struct {
		name, content, wantErr string
	}{
		{"a short line", good + "\n" + good[1:] + "\n", "not a whole number"},
		{"a line without its newline", good + "\n" + good + "x", "line 2 is not a client secret"},
		{"a mistyped secret", good + "\n" + string(mistyped) + "\n", "line 2 is not a client secret"},
		{"not secrets", strings.Repeat("x", secretLine-1) + "\n", "line 1 is not a client secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "secrets.txt")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadSecrets(path); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ReadSecrets = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestSeed seeds a database with more domains than one transaction holds
// and a last INSERT shorter than the others, and finds every sampled
// domain by the secret the file gives for it, as the app does.
func TestSeed(t *testing.T) {
	const n = insertsPerTx*rowsPerInsert + rowsPerInsert + 7
	for _, driver := range testdb.Targets(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			o := testdb.Open(t, driver)
			path := filepath.Join(t.TempDir(), "secrets.txt")
			if err := Seed(ctx, o, n, path); err != nil {
				t.Fatal(err)
			}
			secrets, err := ReadSecrets(path)
			if err != nil || len(secrets) != n {
				t.Fatalf("ReadSecrets = %d secrets, %v; want %d", len(secrets), err, n)
			}
			db, err := models.Open(ctx, o, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if sqlDB, err := db.DB(); err == nil {
				defer sqlDB.Close()
			}
			var users, domains, hashes int64
			db.Table("users").Count(&users)
			db.Table("domains").Count(&domains)
			db.Table("domains").Distinct("secret_hash").Count(&hashes)
			if users != (n+DomainsPerUser-1)/DomainsPerUser || domains != n || hashes != n {
				t.Fatalf("%d users, %d domains, %d distinct secrets; want %d, %d, %d",
					users, domains, hashes, (n+DomainsPerUser-1)/DomainsPerUser, n, n)
			}
			model := models.NewDomainModel(db, 10*time.Second)
			for _, i := range []int{0, 1, rowsPerInsert, insertsPerTx * rowsPerInsert, n - 1} {
				c, err := model.CredentialByHash(ctx, secret.Hash(secrets[i]))
				if err != nil {
					t.Fatalf("the secret of domain %d: %v", i, err)
				}
				plan := []string{models.PlanFree, models.PlanPremium}[i%2]
				if c.ID != uint64(i+1) || c.UserID != uint64(i/DomainsPerUser+1) || c.Nick != fmt.Sprintf("load%d", i/DomainsPerUser) ||
					c.Host != fmt.Sprintf("site%d.load.test", i) || c.Plan != plan || c.Status != models.StatusActive || c.SecretVersion != 1 {
					t.Errorf("the secret of domain %d finds %+v", i, c)
				}
			}
			// Nothing changed lately: the app's periodic refresh finds nothing.
			if cs, err := model.CredentialsChangedSince(ctx, time.Now().Add(-30*time.Minute)); err != nil || len(cs) != 0 {
				t.Errorf("CredentialsChangedSince(30 minutes ago) = %d rows, %v; want none", len(cs), err)
			}
		})
	}
}
