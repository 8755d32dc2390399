package domaincache_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/domaincache"
	"github.com/nodebird/nodebird-api/models"
)

// generated is a Source of n active domains made up as they are read (so
// that only the cache holds them), ten to an account, with hosts and nicks
// like the load test's.
type generated struct{ n int }

func (g generated) row(id uint64) models.Credential {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], id)
	sum := sha256.Sum256(b[:])
	user := (id-1)/10 + 1
	return models.Credential{
		ID: id, UserID: user, Nick: fmt.Sprint("load-user-", user), Host: fmt.Sprintf("site%d.load.test", id),
		Plan: models.PlanFree, Status: models.StatusActive, SecretHash: hex.EncodeToString(sum[:]), SecretVersion: 1,
		UpdatedAt: t0.Add(time.Duration(id) * time.Millisecond),
	}
}

func (g generated) CredentialsAfter(_ context.Context, afterID uint64, limit int) ([]models.Credential, error) {
	var out []models.Credential
	for id := afterID + 1; id <= uint64(g.n) && len(out) < limit; id++ {
		out = append(out, g.row(id))
	}
	return out, nil
}

func (g generated) LastChange(context.Context) (time.Time, error) {
	return g.row(uint64(g.n)).UpdatedAt, nil
}

func (g generated) CredentialsChangedSince(context.Context, time.Time) ([]models.Credential, error) {
	return nil, nil
}

func (g generated) CredentialByHash(context.Context, string) (*models.Credential, error) {
	return nil, models.ErrNoRecord
}

func (g generated) CredentialByID(context.Context, uint64) (*models.Credential, error) {
	return nil, models.ErrNoRecord
}

// heap is the live heap after a full collection.
func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestMemoryPerDomain: the view costs under 200 bytes per active domain
// whose secret is held, host name included (issue 14's target is 300 for
// 1,000,000 domains; the view takes about 150 at 100,000): its Go heap and
// what it mapped outside it (its records and large indexes), which is
// exactly its blocks and its live cells.
func TestMemoryPerDomain(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 100,000 domains")
	}
	const n = 100000
	before, mappedBefore := heap(), domaincache.Mapped()
	c := domaincache.New(generated{n}, n, quiet)
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	after, mapped := heap(), domaincache.Mapped()-mappedBefore
	if c.Len() != n || c.Secrets() != n {
		t.Fatalf("%d domains, %d secrets; want %d of each", c.Len(), c.Secrets(), n)
	}
	if held := domaincache.CacheMapped(c); mapped != held {
		t.Errorf("%d bytes mapped, the view holds %d", mapped, held)
	}
	heapPer, mappedPer := float64(int64(after)-int64(before))/n, float64(mapped)/n
	perDomain := heapPer + mappedPer
	t.Logf("%.0f bytes per domain (%d domains, every secret held): %.0f on the Go heap, %.0f mapped outside it",
		perDomain, n, heapPer, mappedPer)
	if perDomain >= 200 {
		t.Errorf("%.0f bytes per domain, want under 200", perDomain)
	}
	runtime.KeepAlive(c)
}

// BenchmarkLoad loads 100,000 domains from memory and reports the view's
// memory per domain (Go heap and mapped outside it).
//
//	go test -run='^$' -bench=Load -benchtime=5x ./internal/domaincache/
func BenchmarkLoad(b *testing.B) {
	const n = 100000
	var perDomain float64
	for b.Loop() {
		b.StopTimer()
		before, mappedBefore := heap(), domaincache.Mapped()
		b.StartTimer()
		c := domaincache.New(generated{n}, n, quiet)
		if err := c.Load(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		perDomain = float64(int64(heap())-int64(before)+domaincache.Mapped()-mappedBefore) / n
		runtime.KeepAlive(c)
		b.StartTimer()
	}
	b.ReportMetric(perDomain, "B/domain")
}
