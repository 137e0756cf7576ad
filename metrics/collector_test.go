package metrics_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/fleet"
	"github.com/tinyscale/tinyscale/metrics"
	"github.com/tinyscale/tinyscale/store/bolt"
)

func newFleet(tb testing.TB, servers []tinyscale.Server, hs []tinyscale.Health) *fleet.Fleet {
	tb.Helper()
	st, err := bolt.Open(filepath.Join(tb.TempDir(), "t.db"))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	ctx := context.Background()
	for _, s := range servers {
		if err := st.PutServer(ctx, s); err != nil {
			tb.Fatalf("put server: %v", err)
		}
	}
	if len(hs) > 0 {
		if err := st.PutHealth(ctx, hs...); err != nil {
			tb.Fatalf("put health: %v", err)
		}
	}
	f := fleet.New(st, fleet.Options{})
	if err := f.Reload(ctx); err != nil {
		tb.Fatalf("reload: %v", err)
	}
	return f
}

func TestFleetCollector(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	servers := []tinyscale.Server{
		{ID: "bbb1", URL: "https://bbb1.example.org/bigbluebutton/api/", Secret: "s1", Weight: 1, State: tinyscale.StateEnabled},
		{ID: "bbb2", URL: "https://bbb2.example.org/bigbluebutton/api/", Secret: "s2", Weight: 2, State: tinyscale.StateCordoned},
		{ID: "bbb3", URL: "https://bbb3.example.org/bigbluebutton/api/", Secret: "s3", Weight: 1, State: tinyscale.StateDisabled},
	}
	hs := []tinyscale.Health{
		{ServerID: "bbb1", Up: true, Meetings: 3, Participants: 40, CheckedAt: now},
		{ServerID: "bbb2", Up: false, Meetings: 1, Participants: 5, LastError: "boom", CheckedAt: now},
		// bbb3 never polled: counts as up.
	}
	f := newFleet(t, servers, hs)
	load := func(b *fleet.Backend) float64 { return float64(b.Health.Participants) / b.Weight }
	c := metrics.NewFleetCollector(f, load)

	tests := []struct {
		name   string
		metric string
		want   string
	}{
		{"up", "tinyscale_server_up", `
# HELP tinyscale_server_up Whether the BBB server is up (1) or down (0), after poll hysteresis.
# TYPE tinyscale_server_up gauge
tinyscale_server_up{server="bbb1"} 1
tinyscale_server_up{server="bbb2"} 0
tinyscale_server_up{server="bbb3"} 1
`},
		{"state", "tinyscale_server_state", `
# HELP tinyscale_server_state Admin state of the BBB server: 1 for the current state label (enabled, cordoned, disabled), 0 for the others.
# TYPE tinyscale_server_state gauge
tinyscale_server_state{server="bbb1",state="cordoned"} 0
tinyscale_server_state{server="bbb1",state="disabled"} 0
tinyscale_server_state{server="bbb1",state="enabled"} 1
tinyscale_server_state{server="bbb2",state="cordoned"} 1
tinyscale_server_state{server="bbb2",state="disabled"} 0
tinyscale_server_state{server="bbb2",state="enabled"} 0
tinyscale_server_state{server="bbb3",state="cordoned"} 0
tinyscale_server_state{server="bbb3",state="disabled"} 1
tinyscale_server_state{server="bbb3",state="enabled"} 0
`},
		{"meetings", "tinyscale_server_meetings", `
# HELP tinyscale_server_meetings Meetings on the BBB server at its last good poll.
# TYPE tinyscale_server_meetings gauge
tinyscale_server_meetings{server="bbb1"} 3
tinyscale_server_meetings{server="bbb2"} 1
tinyscale_server_meetings{server="bbb3"} 0
`},
		{"participants", "tinyscale_server_participants", `
# HELP tinyscale_server_participants Participants on the BBB server at its last good poll.
# TYPE tinyscale_server_participants gauge
tinyscale_server_participants{server="bbb1"} 40
tinyscale_server_participants{server="bbb2"} 5
tinyscale_server_participants{server="bbb3"} 0
`},
		{"load", "tinyscale_server_load", `
# HELP tinyscale_server_load Load figure of the BBB server used for placement (higher is busier).
# TYPE tinyscale_server_load gauge
tinyscale_server_load{server="bbb1"} 40
tinyscale_server_load{server="bbb2"} 2.5
tinyscale_server_load{server="bbb3"} 0
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := testutil.CollectAndCompare(c, strings.NewReader(tt.want), tt.metric); err != nil {
				t.Errorf("got metrics differing from want: %v", err)
			}
		})
	}

	t.Run("lint", func(t *testing.T) {
		problems, err := testutil.CollectAndLint(c)
		if err != nil {
			t.Fatalf("lint: %v", err)
		}
		for _, p := range problems {
			t.Errorf("got lint problem %s: %s, want none", p.Metric, p.Text)
		}
	})

	t.Run("registers", func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		if err := reg.Register(c); err != nil {
			t.Fatalf("register: got %v, want nil", err)
		}
		metrics.New(reg) // the event metrics live alongside
		if got, want := testutil.CollectAndCount(c), 3*(1+3+1+1+1); got != want {
			t.Errorf("got %d samples, want %d", got, want)
		}
	})

	t.Run("follows_fleet", func(t *testing.T) {
		ctx := context.Background()
		s := servers[0]
		s.State = tinyscale.StateCordoned
		if err := f.Store().PutServer(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := f.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		want := `
# HELP tinyscale_server_state Admin state of the BBB server: 1 for the current state label (enabled, cordoned, disabled), 0 for the others.
# TYPE tinyscale_server_state gauge
tinyscale_server_state{server="bbb1",state="cordoned"} 1
tinyscale_server_state{server="bbb1",state="disabled"} 0
tinyscale_server_state{server="bbb1",state="enabled"} 0
tinyscale_server_state{server="bbb2",state="cordoned"} 1
tinyscale_server_state{server="bbb2",state="disabled"} 0
tinyscale_server_state{server="bbb2",state="enabled"} 0
tinyscale_server_state{server="bbb3",state="cordoned"} 0
tinyscale_server_state{server="bbb3",state="disabled"} 1
tinyscale_server_state{server="bbb3",state="enabled"} 0
`
		if err := testutil.CollectAndCompare(c, strings.NewReader(want), "tinyscale_server_state"); err != nil {
			t.Errorf("got metrics differing from want after a state change: %v", err)
		}
	})
}

func TestFleetCollector_Empty(t *testing.T) {
	tests := []struct {
		name  string
		fleet *fleet.Fleet
		load  func(*fleet.Backend) float64
	}{
		{"nil_fleet", nil, nil},
		{"no_servers", newFleet(t, nil, nil), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := metrics.NewFleetCollector(tt.fleet, tt.load)
			if got := testutil.CollectAndCount(c); got != 0 {
				t.Errorf("got %d samples, want 0", got)
			}
		})
	}
}
