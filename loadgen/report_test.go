package loadgen_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/loadgen"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(tb testing.TB, name string, got []byte) {
	tb.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("output differs from %s (run with -update to accept):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func sampleResult() *loadgen.Result {
	sum := func(ms ...float64) loadgen.Summary {
		d := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
		return loadgen.Summary{Count: int64(ms[0]), Min: d(ms[1]), Mean: d(ms[2]), P50: d(ms[3]), P95: d(ms[4]), P99: d(ms[5]), Max: d(ms[6])}
	}
	return &loadgen.Result{
		Scenario:    "mixed",
		URL:         "http://127.0.0.1:3005/bigbluebutton/api/",
		Concurrency: 64,
		Elapsed:     10*time.Second + 3*time.Millisecond,
		Requests:    120345,
		Errors:      13,
		Throughput:  12030.9,
		Latency:     sum(120345, 0.081, 1.234, 0.987, 3.21, 6.543, 212.4),
		ErrorKinds:  map[string]int64{"FAILED notFound": 10, "timeout": 2, "http 502": 1},
		Calls: []loadgen.CallResult{
			{Call: "getMeetingInfo", Requests: 80000, Errors: 10, Throughput: 7997.6, Latency: sum(80000, 0.1, 1, 0.9, 3, 6, 20), ErrorKinds: map[string]int64{"FAILED notFound": 10}},
			{Call: "join", Requests: 40345, Errors: 3, Throughput: 4033.3, Latency: sum(40345, 0.081, 0.5, 0.4, 1, 2.5, 1212.4), ErrorKinds: map[string]int64{"timeout": 2, "http 502": 1}},
		},
	}
}

func TestWriteText(t *testing.T) {
	tests := []struct {
		name string
		res  *loadgen.Result
	}{
		{"mixed_with_errors", sampleResult()},
		{"single_call_clean", &loadgen.Result{Scenario: "join", URL: "http://h/bigbluebutton/api/", Concurrency: 8, Rate: 500,
			Elapsed: 2 * time.Second, Requests: 1000, Throughput: 500,
			Latency: loadgen.Summary{Count: 1000, P50: 412 * time.Microsecond, P95: 900 * time.Microsecond, P99: 1500 * time.Microsecond, Max: 3 * time.Second, Mean: 450 * time.Microsecond},
			Calls:   []loadgen.CallResult{{Call: "join", Requests: 1000}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := loadgen.WriteText(&b, tt.res); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name+".txt", b.Bytes())
		})
	}
}

func TestResult_JSON(t *testing.T) {
	in := sampleResult()
	data, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "result.json", append(data, '\n'))
	var out loadgen.Result
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&out, in) {
		t.Errorf("round trip: got %+v, want %+v", &out, in)
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		name string
		in   time.Duration
		want string
	}{
		{"zero", 0, "0.000ms"},
		{"sub_ms", 412 * time.Microsecond, "0.412ms"},
		{"ms", 3071 * time.Microsecond, "3.07ms"},
		{"tens_ms", 12540 * time.Microsecond, "12.5ms"},
		{"seconds", 1210 * time.Millisecond, "1.21s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := loadgen.FormatDuration(tt.in); got != tt.want {
				t.Errorf("FormatDuration(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormatProgress(t *testing.T) {
	got := loadgen.FormatProgress(loadgen.Progress{Elapsed: 3 * time.Second, Requests: 36012, Errors: 2, Rate: 12004.4})
	if want := "[   3s] 36012 requests, 12004 req/s, 2 errors"; got != want {
		t.Errorf("FormatProgress() = %q, want %q", got, want)
	}
}
