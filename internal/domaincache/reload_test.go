package domaincache_test

import (
	"testing"

	"github.com/nodebird/nodebird-api/internal/domaincache"
	"github.com/nodebird/nodebird-api/models"
)

// TestReload: a domain another instance says changed is read again from
// the source alone (no refresh of the rest), a deletion and a rotation
// included; before the view is loaded Reload does nothing (the load reads
// the change), and an id the source does not have changes nothing.
func TestReload(t *testing.T) {
	src := newSource()
	for id := uint64(1); id <= 3; id++ {
		src.add(id)
	}
	c := domaincache.New(src, 100, quiet)
	if err := c.Reload(ctx, 1); err != nil || c.Len() != 0 {
		t.Fatalf("Reload before the load: err %v, %d domains in view; want nothing read", err, c.Len())
	}
	refresh(t, c)
	src.rotate(1)
	src.setStatus(2, models.StatusRevoked)
	src.setStatus(3, models.StatusDeleted)
	for _, id := range []uint64{1, 2, 99} {
		if err := c.Reload(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		id   uint64
		sv   int
		want domaincache.Validity
	}{
		{1, 1, domaincache.Retired}, {1, 2, domaincache.Valid}, // rotated: reloaded
		{2, 1, domaincache.Revoked}, // revoked: reloaded
		{3, 1, domaincache.Valid},   // deleted but not reloaded: the view still holds it
		{99, 1, domaincache.Unknown},
	} {
		if got := c.Check(tc.id, tc.sv); got != tc.want {
			t.Errorf("Check(%d, %d) = %v, want %v", tc.id, tc.sv, got, tc.want)
		}
	}
	if err := c.Reload(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if got := c.Check(3, 1); got != domaincache.Retired {
		t.Errorf("deleted domain after Reload: %v, want Retired", got)
	}
}
