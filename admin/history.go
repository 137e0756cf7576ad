package admin

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/tinyscale/tinyscale/fleet"
)

// Defaults of HistoryConfig.
const (
	DefaultHistoryInterval = 10 * time.Second
	DefaultHistoryWindow   = time.Hour
)

// HistoryConfig configures a History.
type HistoryConfig struct {
	// Fleet is sampled. Required.
	Fleet *fleet.Fleet
	// Load computes a server's load figure; default DefaultLoad.
	Load func(b *fleet.Backend) float64
	// Interval is the time between samples; default 10s.
	Interval time.Duration
	// Window is how long samples are kept; default 1h.
	Window time.Duration
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

// History keeps each server's load over the last Window in a ring buffer
// of fixed size (Window/Interval samples), for the dashboard's charts.
// It is safe for concurrent use.
type History struct {
	cfg  HistoryConfig
	mu   sync.Mutex
	ring []sample
	next int // index the next sample is written to
	n    int // samples held
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

// NewHistory returns an empty History. Start sampling with Run, or call
// Sample directly.
func NewHistory(cfg HistoryConfig) *History {
	if cfg.Load == nil {
		cfg.Load = DefaultLoad
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultHistoryInterval
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultHistoryWindow
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	size := int(cfg.Window/cfg.Interval) + 1
	return &History{cfg: cfg, ring: make([]sample, size)}
}

// Run samples at once, then every Interval, until ctx ends.
func (h *History) Run(ctx context.Context) {
	h.Sample()
	t := time.NewTicker(h.cfg.Interval)
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
	if h.cfg.Fleet == nil {
		return
	}
	bs := h.cfg.Fleet.Backends()
	s := sample{t: h.cfg.Now().Unix(), points: make([]samplePoint, len(bs))}
	for i, b := range bs {
		s.points[i] = samplePoint{id: b.ID, load: h.cfg.Load(b), up: b.Up()}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
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
		Interval: h.cfg.Interval.Seconds(),
		Window:   h.cfg.Window.Seconds(),
		Servers:  []HistorySeries{},
	}
	cutoff := h.cfg.Now().Add(-h.cfg.Window).Unix()
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
