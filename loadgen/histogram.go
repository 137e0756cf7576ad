package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// Histogram layout: values are nanoseconds. Values below subCount are
// counted exactly; above, each power-of-two range is split into subCount/2
// equal buckets, so a bucket is never wider than 1/64 of its lower bound
// and the midpoint reported for it is within 0.8% of any value in it (the
// log-linear layout of HdrHistogram).
const (
	subBits  = 7
	subCount = 1 << subBits // 128
	subHalf  = subCount / 2 // 64
	// maxBits caps recorded values at 2^maxBits-1 ns (about 18 minutes).
	maxBits    = 40
	maxValue   = 1<<maxBits - 1
	numBuckets = (maxBits-subBits)*subHalf + subCount
)

// bucketIndex returns the bucket of v (0 <= v <= maxValue).
func bucketIndex(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits
	return shift*subHalf + int(v>>uint(shift))
}

// bucketRange returns the lowest value of bucket i and its width.
func bucketRange(i int) (low, width uint64) {
	if i < subCount {
		return uint64(i), 1
	}
	shift := i/subHalf - 1
	top := uint64(i - shift*subHalf)
	return top << uint(shift), 1 << uint(shift)
}

// Histogram records durations with a fixed relative precision (better than
// 1%) in constant memory (about 20 KB once the first value is recorded),
// so recording is a few nanoseconds and needs no sorting. Min, Max, Mean
// and Count are exact. The zero value is an empty histogram ready to use.
// A Histogram is not safe for concurrent use; record into one per goroutine
// and Merge them.
type Histogram struct {
	counts   []uint64
	n        int64
	sum      float64
	min, max time.Duration
}

// Record adds one duration. Negative durations count as 0; durations above
// about 18 minutes count as 18 minutes in the percentiles (Max stays exact).
func (h *Histogram) Record(d time.Duration) {
	if h.counts == nil {
		h.counts = make([]uint64, numBuckets)
	}
	if d < 0 {
		d = 0
	}
	v := uint64(d)
	if v > maxValue {
		v = maxValue
	}
	h.counts[bucketIndex(v)]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.n++
	h.sum += float64(d)
}

// Merge adds every value recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, numBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Count returns the number of recorded values.
func (h *Histogram) Count() int64 { return h.n }

// Min returns the smallest recorded value, 0 if none.
func (h *Histogram) Min() time.Duration { return h.min }

// Max returns the largest recorded value, 0 if none.
func (h *Histogram) Max() time.Duration { return h.max }

// Mean returns the arithmetic mean, 0 if nothing was recorded.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(math.Round(h.sum / float64(h.n)))
}

// Quantile returns the value below or at which a fraction q (0..1) of the
// recorded values lie, by the nearest-rank method: the value of rank
// ceil(q·Count). It is exact below 128 ns and within 1% above, and always
// within [Min, Max]. Quantile(1) is Max; an empty histogram gives 0.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	switch {
	case q >= 1 || math.IsNaN(q):
		return h.max
	case q <= 0:
		return h.min
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		seen += int64(c)
		if seen >= rank {
			low, width := bucketRange(i)
			v := time.Duration(low + width/2)
			if width == 1 {
				v = time.Duration(low)
			}
			return max(h.min, min(v, h.max))
		}
	}
	return h.max
}

// Summary returns the count, min, mean, max and the 50th, 95th and 99th
// percentiles.
func (h *Histogram) Summary() Summary {
	return Summary{
		Count: h.n,
		Min:   h.Min(),
		Mean:  h.Mean(),
		P50:   h.Quantile(0.50),
		P95:   h.Quantile(0.95),
		P99:   h.Quantile(0.99),
		Max:   h.Max(),
	}
}
