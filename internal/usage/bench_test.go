package usage_test

import (
	"math/rand/v2"
	"testing"

	"github.com/nodebird/nodebird-api/internal/usage"
)

// BenchmarkIssued counts tokens for random domains among 10,000 that were
// all counted before the last flush, from every P at once: the /v1/token
// hot path.
func BenchmarkIssued(b *testing.B) {
	const domains = 10000
	c := usage.New(&store{}, quiet)
	for id := range uint64(domains) {
		c.Issued(id + 1)
	}
	if err := c.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 1))
		for pb.Next() {
			c.Issued(r.Uint64N(domains) + 1)
		}
	})
}
