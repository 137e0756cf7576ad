package loadgen_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/loadgen"
)

// exactQuantile is the nearest-rank percentile of sorted values.
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = max(rank, 1)
	return sorted[rank-1]
}

func TestHistogram_Quantile(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		gen  func(i int) time.Duration
		n    int
	}{
		{"constant", func(int) time.Duration { return 1500 * time.Microsecond }, 1000},
		{"small_exact", func(i int) time.Duration { return time.Duration(i % 128) }, 1000},
		{"uniform_ms", func(int) time.Duration { return time.Duration(rng.Int64N(int64(10 * time.Millisecond))) }, 20000},
		{"exponential", func(int) time.Duration { return time.Duration(rng.ExpFloat64() * float64(time.Millisecond)) }, 20000},
		{"bimodal", func(i int) time.Duration {
			if i%100 == 0 {
				return 250*time.Millisecond + time.Duration(rng.Int64N(int64(time.Millisecond)))
			}
			return 300*time.Microsecond + time.Duration(rng.Int64N(int64(100*time.Microsecond)))
		}, 10000},
		{"single", func(int) time.Duration { return 42 * time.Second }, 1},
		{"huge", func(i int) time.Duration { return time.Duration(i) * time.Hour }, 10},
	}
	quantiles := []float64{0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h loadgen.Histogram
			vals := make([]time.Duration, tt.n)
			for i := range vals {
				vals[i] = tt.gen(i)
				h.Record(vals[i])
			}
			slices.Sort(vals)
			if got, want := h.Count(), int64(tt.n); got != want {
				t.Errorf("Count() = %d, want %d", got, want)
			}
			if got, want := h.Min(), vals[0]; got != want {
				t.Errorf("Min() = %v, want %v", got, want)
			}
			if got, want := h.Max(), vals[len(vals)-1]; got != want {
				t.Errorf("Max() = %v, want %v", got, want)
			}
			for _, q := range quantiles {
				got, want := h.Quantile(q), exactQuantile(vals, q)
				if !within(got, want, h.Max()) {
					t.Errorf("Quantile(%v) = %v, want %v ±1%%", q, got, want)
				}
			}
		})
	}
}

// within reports whether got is within 1% of want (exact below 128 ns).
// Values above the histogram's range are reported at its cap, which is
// still at most max.
func within(got, want, maxv time.Duration) bool {
	if want < 128 {
		return got == want
	}
	if want > 1<<40 {
		return got <= maxv && got >= 1<<39
	}
	return math.Abs(float64(got-want)) <= 0.01*float64(want)
}

func TestHistogram_Empty(t *testing.T) {
	var h loadgen.Histogram
	s := h.Summary()
	if s != (loadgen.Summary{}) {
		t.Errorf("Summary() of empty = %+v, want zero", s)
	}
}

func TestHistogram_Merge(t *testing.T) {
	var a, b, all loadgen.Histogram
	for i := range 1000 {
		d := time.Duration(i) * time.Microsecond
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var m loadgen.Histogram
	m.Merge(&a)
	m.Merge(&b)
	m.Merge(nil)
	m.Merge(&loadgen.Histogram{})
	if got, want := m.Summary(), all.Summary(); got != want {
		t.Errorf("merged Summary() = %+v, want %+v", got, want)
	}
}

func TestHistogram_NegativeIsZero(t *testing.T) {
	var h loadgen.Histogram
	h.Record(-time.Second)
	if got := h.Quantile(0.5); got != 0 {
		t.Errorf("Quantile(0.5) = %v, want 0", got)
	}
}

func FuzzHistogram(f *testing.F) {
	f.Add(int64(1), int64(1000), int64(5), 0.5)
	f.Add(int64(0), int64(0), int64(1), 0.99)
	f.Add(int64(123456789), int64(7), int64(1)<<45, 0.01)
	f.Fuzz(func(t *testing.T, a, b, c int64, q float64) {
		var h loadgen.Histogram
		vals := []time.Duration{time.Duration(a), time.Duration(b), time.Duration(c)}
		for i := range vals {
			vals[i] = max(vals[i], 0)
			h.Record(vals[i])
		}
		slices.Sort(vals)
		got := h.Quantile(q)
		if got < h.Min() || got > h.Max() {
			t.Fatalf("Quantile(%v) = %v, outside [%v, %v]", q, got, h.Min(), h.Max())
		}
		if q > 0 && q < 1 {
			if want := exactQuantile(vals, q); !within(got, want, h.Max()) {
				t.Fatalf("Quantile(%v) = %v, want %v ±1%%", q, got, want)
			}
			if lo := h.Quantile(q / 2); lo > got {
				t.Fatalf("Quantile(%v) = %v > Quantile(%v) = %v", q/2, lo, q, got)
			}
		}
	})
}
