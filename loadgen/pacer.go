package loadgen

import (
	"context"
	"sync"
	"time"
)

// Pacer hands out evenly spaced start times at a fixed rate to any number
// of goroutines: a token bucket that refills at Rate per second and holds
// at most Burst tokens, so an idle or slow period is made up for by at most
// Burst back-to-back starts and the long-run rate never exceeds Rate. A nil
// *Pacer means unlimited: Wait returns at once. Safe for concurrent use.
type Pacer struct {
	interval time.Duration
	burst    time.Duration // how far behind now the schedule may lag

	mu   sync.Mutex
	next time.Time
}

// NewPacer returns a Pacer for rate events per second with a bucket of
// burst tokens (at least 1). A rate <= 0 returns nil (unlimited).
func NewPacer(rate float64, burst int) *Pacer {
	if rate <= 0 {
		return nil
	}
	interval := time.Duration(float64(time.Second) / rate)
	if interval <= 0 {
		interval = 1
	}
	if burst < 1 {
		burst = 1
	}
	return &Pacer{interval: interval, burst: time.Duration(burst-1) * interval}
}

// Reserve takes the next start time given the current time now. The
// caller should wait until the returned time. Each call takes one slot.
func (p *Pacer) Reserve(now time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	slot := p.next
	if earliest := now.Add(-p.burst); slot.Before(earliest) {
		slot = earliest
	}
	p.next = slot.Add(p.interval)
	return slot
}

// Wait takes a slot and blocks until its time. It returns false, without
// waiting further, if ctx ends or stop is closed first.
func (p *Pacer) Wait(ctx context.Context, stop <-chan struct{}) bool {
	if p == nil {
		return true
	}
	now := time.Now()
	d := p.Reserve(now).Sub(now)
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	}
}
