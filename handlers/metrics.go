package handlers

import (
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/internal/fanout"
	"github.com/nodebird/nodebird-api/internal/ratelimit"
	"github.com/nodebird/nodebird-api/models"
)

// Token verification results, the values of the result label.
const (
	verifyOK      = "ok"
	verifyExpired = "expired"
	verifyInvalid = "invalid"
)

// metrics are the application's Prometheus metrics. They live on a registry
// of their own, not the global default one, so that tests can build many
// Apps. Every label has a bounded set of values: routes are patterns
// (c.Path()), never URLs.
type metrics struct {
	reg           *prometheus.Registry
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	tokensIssued  *prometheus.CounterVec
	verifications *prometheus.CounterVec
	refusals      *prometheus.CounterVec
	// verified holds the verifications counter of each result, and
	// observers the request counter and histogram of each method, route
	// and status seen: resolved once, not looked up by label values (hashed,
	// under a lock) on every request.
	verified  map[string]prometheus.Counter
	issued    map[string]prometheus.Counter // by plan
	observers sync.Map                      // requestLabels → *requestObserver
	// http serves the registry in the Prometheus text format.
	http http.Handler
}

// newMetrics makes the metrics, with the Redis limits' state when store
// is set (REDIS_URL).
func newMetrics(db *gorm.DB, log *slog.Logger, store *ratelimit.Store, changes *fanout.Fanout) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nodebird_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nodebird_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by method, route pattern and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "status"}),
		tokensIssued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nodebird_tokens_issued_total",
			Help: "JWTs issued by POST /v1/token, by the domain's plan.",
		}, []string{"plan"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nodebird_token_verifications_total",
			Help: "Tokens checked by GET /v1/test, by result (ok, expired, invalid).",
		}, []string{"result"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nodebird_rate_limited_total",
			Help: "Requests refused by a rate limit, by limit.",
		}, []string{"scope"}),
	}
	m.issued = make(map[string]prometheus.Counter)
	for _, p := range []string{models.PlanFree, models.PlanPremium} {
		m.issued[p] = m.tokensIssued.WithLabelValues(p) // present (at 0) from the start
	}
	m.verified = make(map[string]prometheus.Counter)
	for _, r := range []string{verifyOK, verifyExpired, verifyInvalid} {
		m.verified[r] = m.verifications.WithLabelValues(r) // present (at 0) from the start
	}
	m.reg.MustRegister(m.requests, m.duration, m.tokensIssued, m.verifications, m.refusals,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if store != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "nodebird_rate_limits_local",
			Help: "1 while the rate limits count on this instance alone because Redis does not answer, 0 while they count in Redis.",
		}, func() float64 {
			if store.Local() {
				return 1
			}
			return 0
		}), prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "nodebird_redis_round_trips_total",
			Help: "Commands and pipelines sent to Redis: the rate limits (one per counted request, which also counts a token in the usage counts), usage counts made apart from them, their moves to the database, change messages, probes.",
		}, func() float64 { return float64(store.RoundTrips()) }))
	}
	if changes != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "nodebird_domain_changes_subscribed",
			Help: "1 while this instance hears of other instances' domain changes at once (Redis Pub/Sub), 0 while it learns of them at its refresh only.",
		}, func() float64 {
			if changes.Subscribed() {
				return 1
			}
			return 0
		}), prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "nodebird_domain_changes_received_total",
			Help: "Domain changes announced on Redis and read again from the database.",
		}, func() float64 { return float64(changes.Received()) }))
	}
	if sqlDB, err := db.DB(); err == nil {
		// go_sql_* metrics: open, in use and idle connections, waits, closes.
		m.reg.MustRegister(collectors.NewDBStatsCollector(sqlDB, "nodebird"))
	}
	m.http = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:            m.reg,
		ErrorLog:            slog.NewLogLogger(log.Handler(), slog.LevelError),
		MaxRequestsInFlight: 4,
	})
	return m
}

// observe records one answered request.
func (m *metrics) observe(method, route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	key := requestLabels{methodLabel(method), route, status}
	o, ok := m.observers.Load(key)
	if !ok {
		code := strconv.Itoa(status)
		o, _ = m.observers.LoadOrStore(key, &requestObserver{
			requests: m.requests.WithLabelValues(key.method, route, code),
			duration: m.duration.WithLabelValues(key.method, route, code),
		})
	}
	o.(*requestObserver).requests.Inc()
	o.(*requestObserver).duration.Observe(d.Seconds())
}

// requestLabels are the labels of a request's metrics (a bounded set:
// routes are patterns).
type requestLabels struct {
	method, route string
	status        int
}

// requestObserver is the request counter and histogram of one requestLabels.
type requestObserver struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// tokenIssued counts a JWT issued for a domain on plan.
func (m *metrics) tokenIssued(plan string) {
	if m == nil {
		return
	}
	if c, ok := m.issued[plan]; ok {
		c.Inc()
		return
	}
	m.tokensIssued.WithLabelValues(plan).Inc()
}

// tokenVerified counts a /v1/test decision: verifyOK, verifyExpired or verifyInvalid.
func (m *metrics) tokenVerified(result string) {
	if m == nil {
		return
	}
	m.verified[result].Inc()
}

// rateLimited counts a request refused by the rate limit named scope (a
// fixed word chosen by the caller, such as "token_free" or "login").
func (m *metrics) rateLimited(scope string) {
	if m == nil {
		return
	}
	m.refusals.WithLabelValues(scope).Inc()
}

// methodLabel keeps the method label to the standard methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}
