package loadgen_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tinyscale/tinyscale/loadgen"
)

func TestPacer_Reserve(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		rate    float64
		burst   int
		workers int
		span    time.Duration
		idle    time.Duration // before the first reservation
		wantMin int
		wantMax int
	}{
		{"one_worker_100_per_s", 100, 1, 1, 10 * time.Second, 0, 1000, 1001},
		{"many_workers_same_total", 100, 1, 32, 10 * time.Second, 0, 1000, 1001},
		{"fractional_rate", 0.5, 1, 4, 10 * time.Second, 0, 5, 6},
		{"burst_after_idle", 100, 10, 8, time.Second, 5 * time.Second, 100, 110},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := loadgen.NewPacer(tt.rate, tt.burst)
			if tt.idle > 0 {
				p.Reserve(t0) // the bucket has been used, then idle
			}
			start := t0.Add(tt.idle)
			end := start.Add(tt.span)
			// Each worker reserves, waits until its slot, and reserves
			// again (zero service time): the fastest callers possible.
			clocks := make([]time.Time, tt.workers)
			for i := range clocks {
				clocks[i] = start
			}
			n := 0
			for {
				w := 0
				for i := range clocks {
					if clocks[i].Before(clocks[w]) {
						w = i
					}
				}
				slot := p.Reserve(clocks[w])
				if slot.After(end) {
					break
				}
				n++
				if slot.After(clocks[w]) {
					clocks[w] = slot
				}
			}
			if n < tt.wantMin || n > tt.wantMax {
				t.Errorf("got %d slots in %v, want %d..%d", n, tt.span, tt.wantMin, tt.wantMax)
			}
		})
	}
}

func TestPacer_ReserveSpacing(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	p := loadgen.NewPacer(200, 1)
	prev := p.Reserve(t0)
	for i := range 100 {
		slot := p.Reserve(t0) // callers arriving all at once
		if got, want := slot.Sub(prev), 5*time.Millisecond; got != want {
			t.Fatalf("slot %d: got spacing %v, want %v", i, got, want)
		}
		prev = slot
	}
}

func TestPacer_NilIsUnlimited(t *testing.T) {
	if p := loadgen.NewPacer(0, 5); p != nil {
		t.Fatalf("NewPacer(0) = %v, want nil", p)
	}
	var p *loadgen.Pacer
	if !p.Wait(context.Background(), nil) {
		t.Error("nil Pacer: Wait() = false, want true")
	}
}

func TestPacer_Wait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := loadgen.NewPacer(100, 1)
		stop := make(chan struct{})
		time.AfterFunc(time.Second-time.Millisecond, func() { close(stop) })
		var n atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for p.Wait(context.Background(), stop) {
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		if got, want := n.Load(), int64(100); got != want {
			t.Errorf("got %d waits in 1s at 100/s, want %d", got, want)
		}
	})
}

func TestPacer_WaitCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := loadgen.NewPacer(0.001, 1)
		p.Wait(context.Background(), nil) // takes the only token
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan bool)
		go func() { done <- p.Wait(ctx, nil) }()
		synctest.Wait()
		cancel()
		if got := <-done; got {
			t.Error("Wait() after cancel = true, want false")
		}
	})
}
