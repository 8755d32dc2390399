package main

import (
	"strings"
	"testing"
)

func TestScaleResult(t *testing.T) {
	r := scaleResult{One: []float64{1000, 3000}, Two: []float64{1500, 1700}, Requests: 8000, RoundTrips: 8060, Background: 20}
	if got := r.Ratio(); got != 0.8 {
		t.Errorf("Ratio = %v, want 0.8 (mean 1600 of mean 2000)", got)
	}
	if got := r.PerRequest(); got != 1.005 {
		t.Errorf("PerRequest = %v, want 1.005 (8060 less 20 at rest, of 8000)", got)
	}
	var out strings.Builder
	printScale(&out, []scaleResult{r})
	for _, want := range []string{"PASS  : two instances on Redis at 0.80", "FAIL  : 1.0050 Redis round trips per request"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("printScale lacks %q:\n%s", want, out.String())
		}
	}
}

func TestMetricIn(t *testing.T) {
	exp := "# HELP nodebird_redis_round_trips_total x\n# TYPE nodebird_redis_round_trips_total counter\nnodebird_redis_round_trips_total_other 3\nnodebird_redis_round_trips_total 12345\n"
	if v, ok := metricIn(strings.NewReader(exp), "nodebird_redis_round_trips_total"); !ok || v != 12345 {
		t.Fatalf("metricIn = %v, %v; want 12345", v, ok)
	}
	if _, ok := metricIn(strings.NewReader("nothing 1\n"), "nodebird_redis_round_trips_total"); ok {
		t.Fatal("found a metric that is not there")
	}
}

func TestRequestsIn(t *testing.T) {
	exp := `# TYPE nodebird_http_requests_total counter
nodebird_http_requests_total{method="POST",route="/v1/token",status="200"} 1000
nodebird_http_requests_total{method="POST",route="/v1/token",status="429"} 5
nodebird_http_requests_total{method="GET",route="/metrics",status="200"} 7
nodebird_http_request_duration_seconds_count{method="GET",route="/v1/test",status="200"} 99
`
	if got := requestsIn(exp); got != 1005 {
		t.Fatalf("requestsIn = %v, want 1005 (/metrics and other metrics left out)", got)
	}
}
