package admin_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/admin"
	"github.com/tinyscale/tinyscale/fleet"
)

func TestHistory_Ring(t *testing.T) {
	e := newEnv(t, 2)
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	participants := 0
	h := admin.NewHistory(e.fleet, func(b *fleet.Backend) float64 { return float64(participants) })
	h.Interval = 10 * time.Second
	h.Window = time.Minute // 7 samples
	h.Now = clk.now
	for i := range 10 {
		participants = i
		h.Sample()
		clk.t = clk.t.Add(10 * time.Second)
	}
	// Now is 100s after the first sample; the window keeps t >= now-60s.
	tests := []struct {
		name      string
		since     time.Time
		wantLoads []float64
	}{
		{"all_in_window", time.Time{}, []float64{4, 5, 6, 7, 8, 9}},
		{"since_excludes_equal", time.Unix(1_700_000_070, 0), []float64{8, 9}},
		{"since_latest", time.Unix(1_700_000_090, 0), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := h.Since(tt.since)
			if d.Latest != 1_700_000_090 {
				t.Errorf("got latest %d, want 1700000090", d.Latest)
			}
			if len(tt.wantLoads) == 0 {
				if len(d.Servers) != 0 {
					t.Errorf("got %+v, want no series", d.Servers)
				}
				return
			}
			if len(d.Servers) != 2 || d.Servers[0].ID != "bbb1" || d.Servers[1].ID != "bbb2" {
				t.Fatalf("got %+v, want series for bbb1 and bbb2", d.Servers)
			}
			var got []float64
			for i, p := range d.Servers[0].Points {
				got = append(got, p.Load)
				if i > 0 && p.T <= d.Servers[0].Points[i-1].T {
					t.Errorf("got points out of order at %d", i)
				}
				if !p.Up {
					t.Errorf("got point %d down, want up", i)
				}
			}
			if len(got) != len(tt.wantLoads) {
				t.Fatalf("got loads %v, want %v", got, tt.wantLoads)
			}
			for i := range got {
				if got[i] != tt.wantLoads[i] {
					t.Fatalf("got loads %v, want %v", got, tt.wantLoads)
				}
			}
		})
	}
}

func TestHistory_ServersComeAndGo(t *testing.T) {
	e := newEnv(t, 2)
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	h := admin.NewHistory(e.fleet, nil)
	h.Now = clk.now
	h.Sample()
	if err := e.store.DeleteServer(context.Background(), "bbb2"); err != nil {
		t.Fatal(err)
	}
	e.setHealth(t, tinyscale.Health{ServerID: "bbb1", Up: false, CheckedAt: clk.t})
	clk.t = clk.t.Add(10 * time.Second)
	h.Sample()
	d := h.Since(time.Time{})
	if len(d.Servers) != 2 || len(d.Servers[0].Points) != 2 || len(d.Servers[1].Points) != 1 {
		t.Fatalf("got %+v, want bbb1 with 2 points and bbb2 with 1", d.Servers)
	}
	if d.Servers[0].Points[1].Up {
		t.Error("got bbb1 up in the second sample, want down")
	}
}

func TestHistory_Run(t *testing.T) {
	e := newEnv(t, 1)
	synctest.Test(t, func(t *testing.T) {
		h := admin.NewHistory(e.fleet, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { h.Run(ctx); close(done) }()
		count := func() int {
			d := h.Since(time.Time{})
			if len(d.Servers) == 0 {
				return 0
			}
			return len(d.Servers[0].Points)
		}
		synctest.Wait()
		if got := count(); got != 1 {
			t.Errorf("got %d samples at start, want 1 (sampled at once)", got)
		}
		time.Sleep(25 * time.Second) // fake time inside the bubble
		synctest.Wait()
		if got := count(); got != 3 {
			t.Errorf("got %d samples after 25s, want 3", got)
		}
		cancel()
		<-done
	})
}

func TestHistory_NoFleet(t *testing.T) {
	h := admin.NewHistory(nil, nil)
	h.Sample()
	if d := h.Since(time.Time{}); len(d.Servers) != 0 || d.Interval != 10 || d.Window != 3600 {
		t.Errorf("got %+v, want empty with default interval and window", d)
	}
}
