package metrics_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tinyscale/tinyscale/metrics"
)

// TestMetrics_Series: the per-call and per-server series count and time
// what they are told, also when the same labels come back (their children
// are cached).
func TestMetrics_Series(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	for range 3 {
		m.Request("join", "redirect", 2*time.Millisecond)
	}
	m.Request("join", "notFound", time.Millisecond)
	m.Request("", "SUCCESS", time.Millisecond)
	m.Backend("bbb1", "getMeetings", 10*time.Millisecond, nil)
	m.Backend("bbb1", "getMeetings", 10*time.Millisecond, errors.New("down"))
	m.Backend("bbb2", "getMeetings", 10*time.Millisecond, nil)
	m.Backend("bbb1", "getMeetings", 10*time.Millisecond, nil)

	const want = `
# HELP tinyscale_api_requests_total BBB API requests answered, by call and result (SUCCESS, FAILED messageKey, redirect).
# TYPE tinyscale_api_requests_total counter
tinyscale_api_requests_total{call="index",result="SUCCESS"} 1
tinyscale_api_requests_total{call="join",result="notFound"} 1
tinyscale_api_requests_total{call="join",result="redirect"} 3
# HELP tinyscale_backend_requests_total Requests sent to BBB servers, by server, call and result (ok or error).
# TYPE tinyscale_backend_requests_total counter
tinyscale_backend_requests_total{call="getMeetings",result="error",server="bbb1"} 1
tinyscale_backend_requests_total{call="getMeetings",result="ok",server="bbb1"} 2
tinyscale_backend_requests_total{call="getMeetings",result="ok",server="bbb2"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tinyscale_api_requests_total", "tinyscale_backend_requests_total"); err != nil {
		t.Error(err)
	}
	tests := []struct {
		name, metric string
		want         int
	}{
		{"request_durations", "tinyscale_api_request_duration_seconds", 2},
		{"backend_durations", "tinyscale_backend_request_duration_seconds", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := testutil.GatherAndCount(reg, tt.metric)
			if err != nil || n != tt.want {
				t.Errorf("got %d series (%v), want %d", n, err, tt.want)
			}
		})
	}
	var nilMetrics *metrics.Metrics
	nilMetrics.Request("join", "redirect", time.Millisecond) // no-op, no panic
	nilMetrics.Backend("bbb1", "join", time.Millisecond, nil)
}

// BenchmarkMetrics_Request is the metrics cost of every API request.
func BenchmarkMetrics_Request(b *testing.B) {
	m := metrics.New(prometheus.NewRegistry())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Request("join", "redirect", 350*time.Microsecond)
		}
	})
}

// BenchmarkMetrics_Backend is the metrics cost of every request to a
// server (50 per getMeetings over 50 servers).
func BenchmarkMetrics_Backend(b *testing.B) {
	m := metrics.New(prometheus.NewRegistry())
	b.ReportAllocs()
	for b.Loop() {
		m.Backend("bbb-017.example.org", "getMeetingInfo", 20*time.Millisecond, nil)
	}
}
