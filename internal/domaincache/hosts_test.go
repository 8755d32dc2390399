package domaincache_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/nodebird/nodebird-api/internal/domaincache"
	"github.com/nodebird/nodebird-api/models"
)

func TestHasHostFollowsActiveDomains(t *testing.T) {
	src := newSource()
	c := domaincache.New(src, 100, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	src.add(1)
	src.add(2)
	src.change(2, func(cr *models.Credential) { cr.Host = "d1.example.com" }) // two users, one host
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if !c.HasHost("d1.example.com") || c.HasHost("d2.example.com") || c.HasHost("nope.example") {
		t.Fatal("initial hosts wrong")
	}
	steps := []struct {
		name string
		do   func()
		want bool
	}{
		{"one of two revoked", func() { src.setStatus(1, models.StatusRevoked) }, true},
		{"both revoked", func() { src.setStatus(2, models.StatusRevoked) }, false},
		{"one restored", func() { src.setStatus(2, models.StatusActive) }, true},
		{"rotated stays", func() { src.rotate(2) }, true},
		{"deleted", func() { src.setStatus(2, models.StatusDeleted) }, false},
	}
	for _, st := range steps {
		st.do()
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if got := c.HasHost("d1.example.com"); got != st.want {
			t.Fatalf("%s: HasHost = %v, want %v", st.name, got, st.want)
		}
	}
	src.setStatus(1, models.StatusActive)
	_ = c.Refresh(ctx)
	c.Forget(1) // a local change: off at once
	if c.HasHost("d1.example.com") {
		t.Fatal("Forget left the host registered")
	}
}
