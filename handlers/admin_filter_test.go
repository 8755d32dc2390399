package handlers

import (
	"net/http"
	"testing"
)

// TestAdminFilterWithNULShowsNothing: a filter holding a NUL (which no
// email, nick or host holds) lists no domain on SQLite as on MariaDB; on
// SQLite it used to list every one.
func TestAdminFilterWithNULShowsNothing(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, root := adminServer(t, driver)
		s.user(t, "nul@example.com").register("nul.example.com", "free")
		if rows := adminRows(t, root.get("/admin/domains").Body); len(rows) != 1 {
			t.Fatalf("unfiltered: %d rows, want 1", len(rows))
		}
		for _, q := range []string{"owner=%00", "owner=nul%00", "host=%00", "host=%00.example.com", "owner=nul&host=%00"} {
			r := root.get("/admin/domains?" + q)
			if r.Status != http.StatusOK {
				t.Errorf("?%s: %d", q, r.Status)
			}
			if rows := adminRows(t, r.Body); len(rows) != 0 {
				t.Errorf("?%s: %d rows, want none", q, len(rows))
			}
		}
	})
}
