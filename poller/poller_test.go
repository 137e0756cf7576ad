package poller_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/fakebbb"
	"github.com/tinyscale/tinyscale/fleet"
	"github.com/tinyscale/tinyscale/metrics"
	"github.com/tinyscale/tinyscale/poller"
	"github.com/tinyscale/tinyscale/store/bolt"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// clock is an injected, manually advanced clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a store, a fleet of fake BBB servers with IDs bbb0, bbb1, … and
// a poller over them.
type env struct {
	store *bolt.Store
	fleet *fleet.Fleet
	fakes []*fakebbb.Server
	clock *clock
	p     *poller.Poller
}

func serverID(i int) string { return fmt.Sprintf("bbb%d", i) }

func secretOf(i int) string { return fmt.Sprintf("test-secret-%d-abcdef", i) }

func openStore(t *testing.T) *bolt.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "tinyscale.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// newFleet returns a fleet over st whose HTTP client is closed at cleanup.
func newFleet(t *testing.T, st tinyscale.Store, hc *http.Client) *fleet.Fleet {
	t.Helper()
	if hc == nil {
		hc = fleet.NewHTTPClient()
	}
	t.Cleanup(hc.CloseIdleConnections)
	f := fleet.New(st, fleet.Options{HTTPClient: hc, Logger: slog.New(slog.DiscardHandler)})
	if err := f.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f
}

func newEnv(t *testing.T, n int) *env {
	t.Helper()
	e := &env{store: openStore(t), clock: &clock{t: time.Now()}}
	ctx := context.Background()
	for i := range n {
		fk := fakebbb.NewTestServer(t, secretOf(i))
		e.fakes = append(e.fakes, fk)
		s := tinyscale.Server{ID: serverID(i), URL: fk.APIURL(), Secret: secretOf(i), Weight: 1, State: tinyscale.StateEnabled}
		if err := e.store.PutServer(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	e.fleet = newFleet(t, e.store, nil)
	e.p = &poller.Poller{
		Fleet:   e.fleet,
		Timeout: 2 * time.Second,
		Logger:  slog.New(slog.DiscardHandler),
		Now:     e.clock.Now,
	}
	return e
}

func (e *env) poll(t *testing.T) {
	t.Helper()
	if err := e.p.PollOnce(context.Background()); err != nil {
		t.Fatalf("PollOnce: %v", err)
	}
}

func (e *env) health(t *testing.T, i int) tinyscale.Health {
	t.Helper()
	b, ok := e.fleet.Backend(serverID(i))
	if !ok {
		t.Fatalf("no backend %s", serverID(i))
	}
	return b.Health
}

// storedHealth returns the store's health record of server i.
func (e *env) storedHealth(t *testing.T, i int) tinyscale.Health {
	t.Helper()
	hs, err := e.store.Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.ServerID == serverID(i) {
			return h
		}
	}
	t.Fatalf("no stored health for %s", serverID(i))
	return tinyscale.Health{}
}

// sameHealth compares health records, times by instant (a stored record
// has lost the monotonic clock reading).
func sameHealth(a, b tinyscale.Health) bool {
	ta, tb := a.CheckedAt, b.CheckedAt
	a.CheckedAt, b.CheckedAt = time.Time{}, time.Time{}
	return a == b && ta.Equal(tb)
}

// create creates a meeting directly on fake server i through its API.
func (e *env) create(t *testing.T, i int, id string, participants int) fakebbb.Meeting {
	t.Helper()
	fk := e.fakes[i]
	c := &bbb.Client{BaseURL: fk.APIURL(), Secret: secretOf(i)}
	body, err := c.Get(context.Background(), bbb.CallCreate, "meetingID="+url.QueryEscape(id)+"&name=Room+"+url.QueryEscape(id))
	if err != nil {
		t.Fatalf("create %s on %s: %v", id, serverID(i), err)
	}
	if st, err := bbb.ParseStatus(body); err != nil || !st.OK() {
		t.Fatalf("create %s on %s: status %+v, %v", id, serverID(i), st, err)
	}
	if participants > 0 {
		if err := fk.AddParticipants(id, participants); err != nil {
			t.Fatal(err)
		}
	}
	m, err := fk.Meeting(id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// put stores a meeting mapped to server i, created age ago.
func (e *env) put(t *testing.T, id string, i int, age time.Duration) {
	t.Helper()
	m := tinyscale.Meeting{ID: id, ServerID: serverID(i), CreatedAt: e.clock.Now().Add(-age)}
	if err := e.store.PutMeeting(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

// mapped returns the server a meeting is stored on, "" if it is not.
func (e *env) mapped(t *testing.T, id string) string {
	t.Helper()
	m, err := e.store.Meeting(context.Background(), id)
	if errors.Is(err, tinyscale.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return m.ServerID
}

func setFault(t *testing.T, fk *fakebbb.Server, f fakebbb.Fault) {
	t.Helper()
	if err := fk.SetFault(f); err != nil {
		t.Fatal(err)
	}
}

func TestPoller_PollOnce_Counts(t *testing.T) {
	e := newEnv(t, 3)
	e.create(t, 0, "room-a", 3)
	e.create(t, 0, "room-b", 0)
	e.create(t, 1, "room-c", 5)
	if _, err := e.fakes[1].CreateBreakouts("room-c", 2); err != nil {
		t.Fatal(err)
	}
	e.poll(t)

	tests := []struct {
		name             string
		server           int
		meetings, people int
	}{
		{"two_meetings", 0, 2, 3},
		{"parent_and_breakouts", 1, 3, 5},
		{"empty_server", 2, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, h := range []tinyscale.Health{e.health(t, tt.server), e.storedHealth(t, tt.server)} {
				if !h.Up || h.Fails != 0 || h.Successes != 1 || h.LastError != "" {
					t.Errorf("health = %+v, want up with 1 success and no error", h)
				}
				if h.Meetings != tt.meetings || h.Participants != tt.people {
					t.Errorf("counts = %d meetings %d participants, want %d and %d", h.Meetings, h.Participants, tt.meetings, tt.people)
				}
				if !h.CheckedAt.Equal(e.clock.Now()) {
					t.Errorf("CheckedAt = %v, want %v", h.CheckedAt, e.clock.Now())
				}
			}
		})
	}
}

func TestPoller_Metrics(t *testing.T) {
	e := newEnv(t, 2)
	reg := prometheus.NewRegistry()
	e.p.Metrics = metrics.New(reg)
	setFault(t, e.fakes[1], fakebbb.FaultError500)
	e.poll(t)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.Counter != nil:
				got[key] = m.GetCounter().GetValue()
			case m.Histogram != nil:
				got[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	for key, want := range map[string]float64{
		"tinyscale_polls_total,result=ok,server=bbb0":    1,
		"tinyscale_polls_total,result=error,server=bbb1": 1,
		"tinyscale_poll_round_duration_seconds":          1,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
}

// TestPoller_Faults checks each kind of failing server: the failure is
// counted, the counts of the last good poll are kept, the error says what
// went wrong without secrets, the server goes down after two failures and
// comes back after one good poll.
func TestPoller_Faults(t *testing.T) {
	tests := []struct {
		name    string
		fault   fakebbb.Fault
		wantErr string
	}{
		{"error500", fakebbb.FaultError500, "unreachable"},
		{"hang", fakebbb.FaultHang, "unreachable"},
		{"badxml", fakebbb.FaultBadXML, "not a BigBlueButton API answer"},
		{"checksum", fakebbb.FaultChecksum, "rejected the checksum"},
		{"drop", fakebbb.FaultDrop, "unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 2)
			e.create(t, 0, "room-a", 4)
			e.create(t, 1, "room-b", 2)
			e.put(t, "room-a", 0, time.Hour)
			e.poll(t)
			if h := e.health(t, 0); h.Successes != 1 || h.Participants != 4 {
				t.Fatalf("first poll: %+v, want a good poll with 4 participants", h)
			}
			e.p.Timeout = time.Second // the hanging server is skipped after this

			setFault(t, e.fakes[0], tt.fault)
			e.clock.Add(10 * time.Second)
			e.poll(t)
			h := e.health(t, 0)
			if !h.Up || h.Fails != 1 || h.Successes != 0 {
				t.Errorf("after one failure: up=%v fails=%d successes=%d, want up, 1, 0", h.Up, h.Fails, h.Successes)
			}
			if h.Meetings != 1 || h.Participants != 4 {
				t.Errorf("after one failure: counts %d/%d, want the last good ones 1/4", h.Meetings, h.Participants)
			}
			if !strings.Contains(h.LastError, tt.wantErr) || !strings.Contains(h.LastError, serverID(0)) {
				t.Errorf("LastError = %q, want it to name %s and contain %q", h.LastError, serverID(0), tt.wantErr)
			}
			if strings.Contains(h.LastError, secretOf(0)) || strings.Contains(strings.ToLower(h.LastError), "checksum=") {
				t.Errorf("LastError = %q leaks a secret or checksum", h.LastError)
			}
			if sh := e.storedHealth(t, 0); !sameHealth(sh, h) {
				t.Errorf("stored health %+v, want fleet health %+v", sh, h)
			}
			if got := e.mapped(t, "room-a"); got != serverID(0) {
				t.Errorf("room-a mapped to %q after failed poll, want %s", got, serverID(0))
			}
			if h1 := e.health(t, 1); !h1.Up || h1.Fails != 0 || h1.Participants != 2 {
				t.Errorf("healthy server: %+v, want up with 2 participants", h1)
			}

			e.clock.Add(10 * time.Second)
			e.poll(t)
			if h := e.health(t, 0); h.Up || h.Fails != 2 {
				t.Errorf("after two failures: up=%v fails=%d, want down, 2", h.Up, h.Fails)
			}
			if b, _ := e.fleet.Backend(serverID(0)); b.Placeable() {
				t.Errorf("down server is placeable")
			}

			setFault(t, e.fakes[0], fakebbb.FaultNone)
			e.clock.Add(10 * time.Second)
			e.poll(t)
			if h := e.health(t, 0); !h.Up || h.Fails != 0 || h.Successes != 1 || h.LastError != "" {
				t.Errorf("after recovery: %+v, want up, no fails, 1 success, no error", h)
			}
		})
	}
}

func TestPoller_Hysteresis_Configurable(t *testing.T) {
	e := newEnv(t, 1)
	e.p.DownAfter, e.p.UpAfter = 3, 2
	steps := []struct {
		name   string
		fault  fakebbb.Fault
		wantUp bool
	}{
		{"good", fakebbb.FaultNone, true},
		{"fail_1", fakebbb.FaultError500, true},
		{"fail_2", fakebbb.FaultError500, true},
		{"fail_3_down", fakebbb.FaultError500, false},
		{"good_1_still_down", fakebbb.FaultNone, false},
		{"good_2_up", fakebbb.FaultNone, true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			setFault(t, e.fakes[0], s.fault)
			e.clock.Add(time.Second)
			e.poll(t)
			if got := e.health(t, 0).Up; got != s.wantUp {
				t.Errorf("up = %v, want %v", got, s.wantUp)
			}
		})
	}
}

func TestPoller_Reconcile(t *testing.T) {
	t.Run("ended_meeting_removed", func(t *testing.T) {
		e := newEnv(t, 1)
		e.create(t, 0, "room-a", 1)
		e.put(t, "room-a", 0, time.Hour)
		e.poll(t)
		if got := e.mapped(t, "room-a"); got != serverID(0) {
			t.Fatalf("running meeting mapped to %q, want %s", got, serverID(0))
		}
		if err := e.fakes[0].EndMeeting("room-a"); err != nil {
			t.Fatal(err)
		}
		e.poll(t)
		if got := e.mapped(t, "room-a"); got != "" {
			t.Errorf("ended meeting still mapped to %q, want removed", got)
		}
	})
	t.Run("direct_created_learned", func(t *testing.T) {
		e := newEnv(t, 2)
		fm := e.create(t, 1, "direct", 2)
		e.poll(t)
		m, err := e.store.Meeting(context.Background(), "direct")
		if err != nil {
			t.Fatalf("learned meeting: %v", err)
		}
		if m.ServerID != serverID(1) || m.InternalID != fm.InternalID {
			t.Errorf("learned %+v, want server %s internal ID %s", m, serverID(1), fm.InternalID)
		}
		if want := time.UnixMilli(fm.CreateTime); !m.CreatedAt.Equal(want) && !m.CreatedAt.Equal(e.clock.Now()) {
			t.Errorf("CreatedAt = %v, want the server's createTime %v (or now)", m.CreatedAt, want)
		}
	})
	t.Run("breakouts_learned", func(t *testing.T) {
		e := newEnv(t, 1)
		e.create(t, 0, "parent", 3)
		e.put(t, "parent", 0, time.Hour)
		ids, err := e.fakes[0].CreateBreakouts("parent", 2)
		if err != nil {
			t.Fatal(err)
		}
		e.poll(t)
		for _, id := range ids {
			if got := e.mapped(t, id); got != serverID(0) {
				t.Errorf("breakout %s mapped to %q, want %s", id, got, serverID(0))
			}
		}
	})
	t.Run("young_never_removed", func(t *testing.T) {
		e := newEnv(t, 1)
		e.put(t, "just-placed", 0, 10*time.Second) // placed, create not yet on the server
		e.poll(t)
		if got := e.mapped(t, "just-placed"); got != serverID(0) {
			t.Fatalf("young meeting mapped to %q after poll, want kept on %s", got, serverID(0))
		}
		e.clock.Add(49 * time.Second) // 59s old: still within the 1 minute grace
		e.poll(t)
		if got := e.mapped(t, "just-placed"); got != serverID(0) {
			t.Fatalf("59s old meeting mapped to %q, want kept", got)
		}
		e.clock.Add(time.Second) // 60s: grace over
		e.poll(t)
		if got := e.mapped(t, "just-placed"); got != "" {
			t.Errorf("meeting past grace still mapped to %q, want removed", got)
		}
	})
	t.Run("grace_configurable", func(t *testing.T) {
		e := newEnv(t, 1)
		e.p.Grace = 5 * time.Minute
		e.put(t, "placed", 0, 2*time.Minute)
		e.poll(t)
		if got := e.mapped(t, "placed"); got != serverID(0) {
			t.Errorf("meeting within 5m grace mapped to %q, want kept", got)
		}
	})
	t.Run("listed_elsewhere_left_alone", func(t *testing.T) {
		// The store maps the meeting to bbb1 (moved there by failover);
		// bbb0 still lists it. Neither poll changes the mapping.
		e := newEnv(t, 2)
		e.create(t, 0, "moved", 1)
		e.create(t, 1, "moved", 1)
		e.put(t, "moved", 1, time.Hour)
		e.poll(t)
		if got := e.mapped(t, "moved"); got != serverID(1) {
			t.Errorf("moved meeting mapped to %q, want %s", got, serverID(1))
		}
	})
	t.Run("moved_young_not_deleted", func(t *testing.T) {
		// Moved to bbb1 a moment ago, not created there yet; bbb0 still
		// lists it.
		e := newEnv(t, 2)
		e.create(t, 0, "moved", 1)
		e.put(t, "moved", 1, 5*time.Second)
		e.poll(t)
		if got := e.mapped(t, "moved"); got != serverID(1) {
			t.Errorf("moved meeting mapped to %q, want %s", got, serverID(1))
		}
	})
	t.Run("moved_during_round_not_deleted", func(t *testing.T) {
		// The meeting ended on bbb0 and is moved to bbb1 between the
		// poller's read of the store and its delete: the conditional
		// delete must leave it.
		e := newEnv(t, 2)
		e.put(t, "racing", 0, time.Hour)
		ms := &movingStore{Store: e.store, id: "racing", to: serverID(1), now: e.clock.Now}
		e.p.Store = ms
		e.poll(t)
		if !ms.moved.Load() {
			t.Fatal("store hook did not run")
		}
		if got := e.mapped(t, "racing"); got != serverID(1) {
			t.Errorf("meeting moved during the round mapped to %q, want %s", got, serverID(1))
		}
	})
	t.Run("failed_server_untouched", func(t *testing.T) {
		e := newEnv(t, 2)
		e.put(t, "on-failing", 0, time.Hour)
		e.put(t, "on-healthy", 1, time.Hour)
		setFault(t, e.fakes[0], fakebbb.FaultError500)
		for range 3 { // even once the server is down
			e.clock.Add(10 * time.Second)
			e.poll(t)
		}
		if got := e.mapped(t, "on-failing"); got != serverID(0) {
			t.Errorf("meeting of failing server mapped to %q, want kept on %s", got, serverID(0))
		}
		if got := e.mapped(t, "on-healthy"); got != "" {
			t.Errorf("ended meeting of healthy server mapped to %q, want removed", got)
		}
	})
	t.Run("unknown_server_untouched", func(t *testing.T) {
		e := newEnv(t, 1)
		e.put(t, "orphan", 7, time.Hour) // bbb7 is not in the fleet
		e.poll(t)
		if got := e.mapped(t, "orphan"); got != serverID(7) {
			t.Errorf("meeting of unknown server mapped to %q, want kept", got)
		}
	})
}

// movingStore moves one meeting to another server right after the
// poller has read the meeting list, as a failover create would.
type movingStore struct {
	tinyscale.Store
	id, to string
	now    func() time.Time
	moved  atomic.Bool
}

func (s *movingStore) Meetings(ctx context.Context) ([]tinyscale.Meeting, error) {
	ms, err := s.Store.Meetings(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := s.Store.Meeting(ctx, s.id)
	if err != nil {
		return nil, err
	}
	m := tinyscale.Meeting{ID: s.id, ServerID: s.to, CreatedAt: s.now()}
	if _, ok, err := s.Store.ClaimMeeting(ctx, m, cur.ServerID); err != nil || !ok {
		return nil, fmt.Errorf("move meeting: stored=%v err=%v", ok, err)
	}
	s.moved.Store(true)
	return ms, nil
}

// countingTransport counts getMeetings requests.
type countingTransport struct {
	rt http.RoundTripper
	n  atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/getMeetings") {
		c.n.Add(1)
	}
	return c.rt.RoundTrip(r)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// leaseStore keeps the lease on an injected clock, so that a test decides
// when a lease expires instead of the scheduler.
type leaseStore struct {
	tinyscale.Store
	now func() time.Time

	mu      sync.Mutex
	holder  string
	expires time.Time
}

func (s *leaseStore) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.holder != "" && s.holder != holder && now.Before(s.expires) {
		return false, nil
	}
	s.holder, s.expires = holder, now.Add(ttl)
	return true, nil
}

// instance is one tinyscale instance's poller, counting its own polls.
type instance struct {
	count  *countingTransport
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// stop cancels the instance's Run and returns its result.
func (in *instance) stop() error {
	in.once.Do(func() {
		in.cancel()
		in.err = <-in.done
	})
	return in.err
}

// startInstance runs a poller with its own fleet (and HTTP client) over
// st; pst, if not nil, is the poller's store (for the lease).
func startInstance(t *testing.T, st, pst tinyscale.Store, holder string, interval time.Duration) *instance {
	t.Helper()
	hc := fleet.NewHTTPClient()
	ct := &countingTransport{rt: hc.Transport}
	hc.Transport = ct
	f := newFleet(t, st, hc)
	p := &poller.Poller{Fleet: f, Store: pst, Interval: interval, Timeout: interval / 2,
		Holder: holder, Logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{count: ct, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- p.Run(ctx) }()
	t.Cleanup(func() { _ = in.stop() })
	return in
}

func newLeaseEnv(t *testing.T) *bolt.Store {
	t.Helper()
	st := openStore(t)
	fk := fakebbb.NewTestServer(t, secretOf(0))
	s := tinyscale.Server{ID: serverID(0), URL: fk.APIURL(), Secret: secretOf(0), State: tinyscale.StateEnabled}
	if err := st.PutServer(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestPoller_Lease runs two pollers sharing one lease: only the holder
// polls; when it stops renewing and the lease expires, the other takes
// over. The lease runs on a manual clock, so scheduling delays cannot
// expire it.
func TestPoller_Lease(t *testing.T) {
	st := newLeaseEnv(t)
	c := &clock{t: time.Now()}
	ls := &leaseStore{Store: st, now: c.Now}
	const interval = 100 * time.Millisecond

	a := startInstance(t, st, ls, "instance-a", interval)
	waitFor(t, "instance a to poll", func() bool { return a.count.n.Load() >= 1 })
	b := startInstance(t, st, ls, "instance-b", interval)
	base := a.count.n.Load()
	waitFor(t, "instance a to keep polling", func() bool { return a.count.n.Load() >= base+4 })
	if got := b.count.n.Load(); got != 0 {
		t.Errorf("standby instance polled %d times while the holder renewed its lease, want 0", got)
	}

	if err := a.stop(); err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
	stopped := a.count.n.Load()
	c.Add(2 * interval) // past the 1.5 interval ttl of a's last renewal
	waitFor(t, "instance b to take over", func() bool { return b.count.n.Load() >= 2 })
	if got := a.count.n.Load(); got != stopped {
		t.Errorf("stopped instance polled %d more times, want 0", got-stopped)
	}
}

// TestPoller_Lease_Store does the same takeover with the bolt store's own
// lease and clock.
func TestPoller_Lease_Store(t *testing.T) {
	st := newLeaseEnv(t)
	const interval = 200 * time.Millisecond
	a := startInstance(t, st, nil, "instance-a", interval)
	waitFor(t, "instance a to poll", func() bool { return a.count.n.Load() >= 1 })
	b := startInstance(t, st, nil, "instance-b", interval)
	if err := a.stop(); err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
	waitFor(t, "instance b to take over", func() bool { return b.count.n.Load() >= 2 })
}

func TestPoller_Run_Misconfigured(t *testing.T) {
	var p poller.Poller
	if err := p.Run(context.Background()); err == nil {
		t.Error("Run without Fleet returned nil, want error")
	}
	if err := p.PollOnce(context.Background()); err == nil {
		t.Error("PollOnce without Fleet returned nil, want error")
	}
}

func TestPoller_PollOnce_Canceled(t *testing.T) {
	e := newEnv(t, 2)
	setFault(t, e.fakes[0], fakebbb.FaultHang)
	e.p.Timeout = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitFor(t, "the hanging call", func() bool { return e.fakes[0].Calls(bbb.CallGetMeetings) > 0 })
		cancel()
	}()
	if err := e.p.PollOnce(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("PollOnce = %v, want context.Canceled", err)
	}
	if h := e.health(t, 1); !h.CheckedAt.IsZero() {
		t.Errorf("canceled round wrote health %+v, want none", h)
	}
}

func TestProbe(t *testing.T) {
	good := fakebbb.NewTestServer(t, "probe-secret-1")
	faulty := fakebbb.NewTestServer(t, "probe-secret-1")
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<!doctype html><html><body>Welcome to nginx!</body></html>"))
	}))
	t.Cleanup(html.Close)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://elsewhere.example/", http.StatusFound)
	}))
	t.Cleanup(redirect.Close)
	notFound := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notFound.Close)
	gateway502 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	t.Cleanup(gateway502.Close)
	failed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bbb.WriteError(w, bbb.ErrInternal)
	}))
	t.Cleanup(failed.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String() + "/bigbluebutton/api/"
	_ = ln.Close()

	hc := fleet.NewHTTPClient()
	t.Cleanup(hc.CloseIdleConnections)
	const secret = "probe-secret-1"
	backend := func(id, apiURL, secret string) *fleet.Backend {
		return &fleet.Backend{
			Server: tinyscale.Server{ID: id, URL: apiURL, Secret: secret},
			Client: &bbb.Client{BaseURL: apiURL, Secret: secret, HTTP: hc},
		}
	}
	api := func(base string) string { return base + "/bigbluebutton/api/" }
	tests := []struct {
		name    string
		b       *fleet.Backend
		fault   fakebbb.Fault
		timeout time.Duration
		want    error // nil for success
	}{
		{"ok", backend("good", good.APIURL(), secret), "", 0, nil},
		{"wrong_secret", backend("wrong", good.APIURL(), "another-secret-xyz"), "", 0, poller.ErrBadSecret},
		{"checksum_fault", backend("csum", faulty.APIURL(), secret), fakebbb.FaultChecksum, 0, poller.ErrBadSecret},
		{"html_page", backend("html", api(html.URL), secret), "", 0, poller.ErrNotBBB},
		{"not_found", backend("404", api(notFound.URL), secret), "", 0, poller.ErrNotBBB},
		{"redirect", backend("redir", api(redirect.URL), secret), "", 0, poller.ErrNotBBB},
		{"bad_xml", backend("badxml", faulty.APIURL(), secret), fakebbb.FaultBadXML, 0, poller.ErrNotBBB},
		{"error500", backend("e500", faulty.APIURL(), secret), fakebbb.FaultError500, 0, poller.ErrUnreachable},
		{"bad_gateway", backend("e502", api(gateway502.URL), secret), "", 0, poller.ErrUnreachable},
		{"connection_refused", backend("closed", closedURL, secret), "", 0, poller.ErrUnreachable},
		{"hang", backend("hang", faulty.APIURL(), secret), fakebbb.FaultHang, 200 * time.Millisecond, poller.ErrUnreachable},
		{"dropped", backend("drop", faulty.APIURL(), secret), fakebbb.FaultDrop, 0, poller.ErrUnreachable},
		{"other_failure", backend("failed", api(failed.URL), secret), "", 0, bbb.ErrInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setFault(t, faulty, tt.fault)
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			err := poller.Probe(ctx, tt.b)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Probe = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Probe = nil, want %v", tt.want)
			}
			var be *bbb.Error
			if target, ok := tt.want.(*bbb.Error); ok {
				if !errors.As(err, &be) || be.Key != target.Key {
					t.Errorf("Probe = %v, want a *bbb.Error %s", err, target.Key)
				}
			} else if !errors.Is(err, tt.want) {
				t.Errorf("Probe = %v, want %v", err, tt.want)
			}
			for _, s := range []error{poller.ErrBadSecret, poller.ErrNotBBB, poller.ErrUnreachable} {
				if s != tt.want && errors.Is(err, s) {
					t.Errorf("Probe = %v, also wraps %v", err, s)
				}
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.b.ID) {
				t.Errorf("error %q does not name server %s", msg, tt.b.ID)
			}
			if strings.Contains(msg, tt.b.Secret) || strings.Contains(strings.ToLower(msg), "checksum=") {
				t.Errorf("error %q leaks the secret or a checksum", msg)
			}
		})
	}
}
