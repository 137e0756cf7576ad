package admin

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/tinyscale/tinyscale/fleet"
)

// Defaults of the History fields.
const (
	DefaultHistoryInterval = 10 * time.Second
	DefaultHistoryWindow   = time.Hour
)

// History keeps each server's load over the last Window in a ring buffer
// of fixed size (Window/Interval samples), for the dashboard's charts.
// Set the exported fields, if at all, before the first Sample or Run. It
// is safe for concurrent use.
type History struct {
	// Interval is the time between samples taken by Run; default 10s.
	Interval time.Duration
	// Window is how long samples are kept; default 1h.
	Window time.Duration
	// Now returns the current time; default time.Now.
	Now func() time.Time

	fleet *fleet.Fleet
	load  func(*fleet.Backend) float64

	mu   sync.Mutex
	ring []sample // allocated on first use
	next int      // index the next sample is written to
	n    int      // samples held
}

type sample struct {
	t      int64 // Unix seconds
	points []samplePoint
}

type samplePoint struct {
	id   string
	load float64
	up   bool
}

// NewHistory returns an empty History of f's servers, with load computed
// by load (DefaultLoad if nil). Start sampling with Run, or call Sample
// directly.
func NewHistory(f *fleet.Fleet, load func(*fleet.Backend) float64) *History {
	if load == nil {
		load = DefaultLoad
	}
	return &History{fleet: f, load: load}
}

func (h *History) interval() time.Duration {
	if h.Interval <= 0 {
		return DefaultHistoryInterval
	}
	return h.Interval
}

func (h *History) window() time.Duration {
	if h.Window <= 0 {
		return DefaultHistoryWindow
	}
	return h.Window
}

func (h *History) now() time.Time {
	if h.Now == nil {
		return time.Now()
	}
	return h.Now()
}

// Run samples at once, then every Interval, until ctx ends.
func (h *History) Run(ctx context.Context) {
	h.Sample()
	t := time.NewTicker(h.interval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.Sample()
		}
	}
}

// Sample records every server's current load and health, overwriting the
// oldest sample once the ring is full. It does nothing without a Fleet.
func (h *History) Sample() {
	if h.fleet == nil {
		return
	}
	bs := h.fleet.Backends()
	s := sample{t: h.now().Unix(), points: make([]samplePoint, len(bs))}
	for i, b := range bs {
		s.points[i] = samplePoint{id: b.ID, load: h.load(b), up: b.Up()}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ring == nil {
		h.ring = make([]sample, int(h.window()/h.interval())+1)
	}
	h.ring[h.next] = s
	h.next = (h.next + 1) % len(h.ring)
	if h.n < len(h.ring) {
		h.n++
	}
}

// Since returns the samples taken after since (all of them for the zero
// time) and within the window, per server, oldest first.
func (h *History) Since(since time.Time) HistoryData {
	out := HistoryData{
		Interval: h.interval().Seconds(),
		Window:   h.window().Seconds(),
		Servers:  []HistorySeries{},
	}
	cutoff := h.now().Add(-h.window()).Unix()
	after := int64(-1 << 62)
	if !since.IsZero() {
		after = since.Unix()
	}
	series := map[string]*HistorySeries{}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := 0; i < h.n; i++ {
		s := h.ring[(h.next-h.n+i+len(h.ring))%len(h.ring)]
		if s.t > out.Latest {
			out.Latest = s.t
		}
		if s.t <= after || s.t < cutoff {
			continue
		}
		for _, p := range s.points {
			hs := series[p.id]
			if hs == nil {
				hs = &HistorySeries{ID: p.id}
				series[p.id] = hs
			}
			hs.Points = append(hs.Points, HistoryPoint{T: s.t, Load: p.load, Up: p.up})
		}
	}
	for _, hs := range series {
		out.Servers = append(out.Servers, *hs)
	}
	sort.Slice(out.Servers, func(i, j int) bool { return out.Servers[i].ID < out.Servers[j].ID })
	return out
}
