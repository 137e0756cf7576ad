package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is the outcome of a run's measured phase. Latency covers every
// completed request, errors included; requests cut off by cancellation are
// not counted.
type Result struct {
	// Scenario is the scenario's name.
	Scenario string `json:"scenario"`
	// URL is the normalised API base.
	URL string `json:"url"`
	// Concurrency is the number of workers.
	Concurrency int `json:"concurrency"`
	// Rate is the requested rate (requests per second), 0 if unlimited.
	Rate float64 `json:"rate"`
	// Elapsed is the measured phase's length, up to the last answer.
	Elapsed time.Duration `json:"-"`
	// Requests is the number of completed requests, Errors those that
	// failed.
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
	// Throughput is Requests per second of Elapsed.
	Throughput float64 `json:"throughput"`
	// Latency summarises all requests' latencies.
	Latency Summary `json:"latency"`
	// ErrorKinds counts errors by kind ("http 502", "FAILED notFound",
	// KindTimeout, …); see Classify and ClassifyError.
	ErrorKinds map[string]int64 `json:"error_kinds"`
	// Calls breaks the result down by API call, most requests first.
	Calls []CallResult `json:"calls"`
}

// CallResult is the part of a Result for one API call.
type CallResult struct {
	Call       string           `json:"call"`
	Requests   int64            `json:"requests"`
	Errors     int64            `json:"errors"`
	Throughput float64          `json:"throughput"`
	Latency    Summary          `json:"latency"`
	ErrorKinds map[string]int64 `json:"error_kinds"`
}

// Summary is a latency distribution's key figures. In JSON, durations are
// milliseconds (float) in fields named *_ms.
type Summary struct {
	Count                         int64
	Min, Mean, P50, P95, P99, Max time.Duration
}

type summaryJSON struct {
	Count  int64   `json:"count"`
	MinMS  float64 `json:"min_ms"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P95MS  float64 `json:"p95_ms"`
	P99MS  float64 `json:"p99_ms"`
	MaxMS  float64 `json:"max_ms"`
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

func fromMS(v float64) time.Duration { return time.Duration(math.Round(v * 1e6)) }

// MarshalJSON encodes durations as milliseconds with microsecond precision.
func (s Summary) MarshalJSON() ([]byte, error) {
	return json.Marshal(summaryJSON{s.Count, ms(s.Min), ms(s.Mean), ms(s.P50), ms(s.P95), ms(s.P99), ms(s.Max)})
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (s *Summary) UnmarshalJSON(b []byte) error {
	var j summaryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Summary{j.Count, fromMS(j.MinMS), fromMS(j.MeanMS), fromMS(j.P50MS), fromMS(j.P95MS), fromMS(j.P99MS), fromMS(j.MaxMS)}
	return nil
}

type resultAlias Result

type resultJSON struct {
	*resultAlias
	ElapsedS float64 `json:"elapsed_s"`
}

// MarshalJSON adds Elapsed as elapsed_s (seconds).
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(resultJSON{(*resultAlias)(&r), math.Round(r.Elapsed.Seconds()*1e6) / 1e6})
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (r *Result) UnmarshalJSON(b []byte) error {
	j := resultJSON{resultAlias: (*resultAlias)(r)}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	r.Elapsed = time.Duration(math.Round(j.ElapsedS * 1e9))
	return nil
}

// FormatDuration prints a latency compactly in milliseconds or seconds
// with three significant digits or more: "0.412ms", "3.07ms", "12.5ms",
// "1.21s".
func FormatDuration(d time.Duration) string {
	v := float64(d) / 1e6
	switch {
	case v < 1:
		return fmt.Sprintf("%.3fms", v)
	case v < 10:
		return fmt.Sprintf("%.2fms", v)
	case v < 1000:
		return fmt.Sprintf("%.1fms", v)
	}
	return fmt.Sprintf("%.2fs", v/1000)
}

// FormatRate prints a throughput as "N req/s".
func FormatRate(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.1f req/s", v)
	}
	return fmt.Sprintf("%.0f req/s", v)
}

// WriteText writes r for people: throughput, latency percentiles, errors
// by kind, and a per-call breakdown when the scenario sends several calls.
func WriteText(w io.Writer, r *Result) error {
	var b strings.Builder
	rate := "unlimited"
	if r.Rate > 0 {
		rate = FormatRate(r.Rate)
	}
	fmt.Fprintf(&b, "scenario    %s against %s\n", r.Scenario, r.URL)
	fmt.Fprintf(&b, "load        %d connections, rate %s, %.2fs\n", r.Concurrency, rate, r.Elapsed.Seconds())
	fmt.Fprintf(&b, "requests    %d\n", r.Requests)
	fmt.Fprintf(&b, "throughput  %s\n", FormatRate(r.Throughput))
	l := r.Latency
	fmt.Fprintf(&b, "latency     p50 %s  p95 %s  p99 %s  max %s  (mean %s)\n",
		FormatDuration(l.P50), FormatDuration(l.P95), FormatDuration(l.P99), FormatDuration(l.Max), FormatDuration(l.Mean))
	if r.Errors == 0 {
		b.WriteString("errors      0\n")
	} else {
		fmt.Fprintf(&b, "errors      %d (%.2f%%)\n", r.Errors, 100*float64(r.Errors)/float64(max(r.Requests, 1)))
		writeKinds(&b, r.ErrorKinds)
	}
	if len(r.Calls) > 1 {
		b.WriteString("by call\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "\tcall\trequests\tthroughput\tp50\tp99\tmax\terrors\t\n")
		for _, c := range r.Calls {
			fmt.Fprintf(tw, "\t%s\t%d\t%s\t%s\t%s\t%s\t%d\t\n", c.Call, c.Requests, FormatRate(c.Throughput),
				FormatDuration(c.Latency.P50), FormatDuration(c.Latency.P99), FormatDuration(c.Latency.Max), c.Errors)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeKinds lists error kinds, most frequent first.
func writeKinds(b *strings.Builder, kinds map[string]int64) {
	type kv struct {
		k string
		n int64
	}
	list := make([]kv, 0, len(kinds))
	for k, n := range kinds {
		list = append(list, kv{k, n})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].n != list[j].n {
			return list[i].n > list[j].n
		}
		return list[i].k < list[j].k
	})
	for _, e := range list {
		fmt.Fprintf(b, "  %10d  %s\n", e.n, e.k)
	}
}

// FormatProgress renders p as one status line (without line ending).
func FormatProgress(p Progress) string {
	return fmt.Sprintf("[%4.0fs] %d requests, %s, %d errors", p.Elapsed.Seconds(), p.Requests, FormatRate(p.Rate), p.Errors)
}
