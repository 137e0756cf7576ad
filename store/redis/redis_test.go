package redis_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/internal/redistest"
	"github.com/tinyscale/tinyscale/store/redis"
	"github.com/tinyscale/tinyscale/store/storetest"
)

// newPrefix returns a key prefix no other test uses, so tests can share one
// Redis server (also an external one named by TINYSCALE_TEST_REDIS_URL).
func newPrefix() string {
	return "tinyscaletest:" + rand.Text() + ":"
}

// testTimeout replaces the one-second default in tests that are not about
// timeouts: a loaded CI machine running the race detector can stall a dial
// for longer than that.
const testTimeout = 10 * time.Second

// open opens a store and closes it when the test ends.
func open(tb testing.TB, url, prefix string, opts ...redis.Option) *redis.Store {
	tb.Helper()
	opts = append([]redis.Option{redis.WithKeyPrefix(prefix), redis.WithTimeout(testTimeout)}, opts...)
	s, err := redis.Open(context.Background(), url, opts...)
	if err != nil {
		tb.Fatalf("Open: got error %v, want nil", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStore(t *testing.T) {
	url := redistest.Start(t)
	storetest.Run(t,
		func(t *testing.T) tinyscale.Store { return open(t, url, newPrefix()) },
		storetest.WithReopen(func(t *testing.T) func() tinyscale.Store {
			prefix := newPrefix()
			return func() tinyscale.Store { return open(t, url, prefix) }
		}),
	)
}

// TestStore_Sentinel runs the contract suite through a Redis Sentinel, so
// that the redis+sentinel:// URL form is exercised end to end.
func TestStore_Sentinel(t *testing.T) {
	master := redistest.StartServer(t)
	url := redistest.StartSentinel(t, master, "tinyscale").URL()
	storetest.Run(t, func(t *testing.T) tinyscale.Store { return open(t, url, newPrefix()) })
}

func TestOpen_errors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := l.Addr().String()
	l.Close()

	tests := []struct {
		name            string
		url             string
		wantUnavailable bool
	}{
		{name: "nothing_listening", url: "redis://:s3cretpw@" + closedAddr + "/0", wantUnavailable: true},
		{name: "bad_scheme", url: "http://:s3cretpw@localhost/0"},
		{name: "bad_db", url: "redis://:s3cretpw@localhost/zero"},
		{name: "malformed", url: "redis://:s3cret pw@local host:xx/0"},
		{name: "sentinel_without_master", url: "redis+sentinel://:s3cretpw@localhost:26379"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			s, err := redis.Open(ctx, tt.url)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s): got nil error, want an error", tt.name)
			}
			if got := errors.Is(err, tinyscale.ErrStoreUnavailable); got != tt.wantUnavailable {
				t.Errorf("Open error %q wraps ErrStoreUnavailable: got %v, want %v", err, got, tt.wantUnavailable)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Open error: got %q, which contains the password", err)
			}
			if ctx.Err() != nil {
				t.Errorf("Open returned only after the 30s context deadline, want a fast failure")
			}
		})
	}
}

// TestStore_RedisDown checks that every call fails fast with
// ErrStoreUnavailable while Redis is down, and that the same Store works
// again once Redis is back.
func TestStore_RedisDown(t *testing.T) {
	m := tinyscale.Meeting{ID: "m", ServerID: "s1", CreatedAt: time.Now()}
	calls := []struct {
		name string
		call func(ctx context.Context, s *redis.Store) error
	}{
		{"Ping", func(ctx context.Context, s *redis.Store) error { return s.Ping(ctx) }},
		{"Servers", func(ctx context.Context, s *redis.Store) error { _, err := s.Servers(ctx); return err }},
		{"PutServer", func(ctx context.Context, s *redis.Store) error { return s.PutServer(ctx, tinyscale.Server{ID: "a"}) }},
		{"DeleteServer", func(ctx context.Context, s *redis.Store) error { return s.DeleteServer(ctx, "a") }},
		{"Meeting", func(ctx context.Context, s *redis.Store) error { _, err := s.Meeting(ctx, "m"); return err }},
		{"ClaimMeeting", func(ctx context.Context, s *redis.Store) error { _, _, err := s.ClaimMeeting(ctx, m, ""); return err }},
		{"PutMeeting", func(ctx context.Context, s *redis.Store) error { return s.PutMeeting(ctx, m) }},
		{"DeleteMeeting", func(ctx context.Context, s *redis.Store) error { return s.DeleteMeeting(ctx, "m", "") }},
		{"Meetings", func(ctx context.Context, s *redis.Store) error { _, err := s.Meetings(ctx); return err }},
		{"MeetingsSince", func(ctx context.Context, s *redis.Store) error {
			_, err := s.MeetingsSince(ctx, time.Time{})
			return err
		}},
		{"PutHealth", func(ctx context.Context, s *redis.Store) error {
			return s.PutHealth(ctx, tinyscale.Health{ServerID: "a"})
		}},
		{"Health", func(ctx context.Context, s *redis.Store) error { _, err := s.Health(ctx); return err }},
		{"PutHook", func(ctx context.Context, s *redis.Store) error { return s.PutHook(ctx, tinyscale.Hook{ID: "1"}) }},
		{"Hook", func(ctx context.Context, s *redis.Store) error { _, err := s.Hook(ctx, "1"); return err }},
		{"Hooks", func(ctx context.Context, s *redis.Store) error { _, err := s.Hooks(ctx); return err }},
		{"DeleteHook", func(ctx context.Context, s *redis.Store) error { return s.DeleteHook(ctx, "1") }},
		{"NextHookID", func(ctx context.Context, s *redis.Store) error { _, err := s.NextHookID(ctx); return err }},
		{"PutRecordings", func(ctx context.Context, s *redis.Store) error {
			return s.PutRecordings(ctx, map[string]string{"r": "a"})
		}},
		{"RecordingServer", func(ctx context.Context, s *redis.Store) error { _, err := s.RecordingServer(ctx, "r"); return err }},
		{"Once", func(ctx context.Context, s *redis.Store) error { _, err := s.Once(ctx, "k", time.Minute); return err }},
		{"AcquireLease", func(ctx context.Context, s *redis.Store) error {
			_, err := s.AcquireLease(ctx, "l", "A", time.Minute)
			return err
		}},
	}
	outages := []struct {
		name string
		down func(*redistest.Server)
	}{
		{name: "stopped", down: (*redistest.Server).Stop},
		{name: "killed", down: (*redistest.Server).Kill},
	}
	for _, o := range outages {
		t.Run(o.name, func(t *testing.T) {
			srv := redistest.StartServer(t)
			// The default timeouts: these are what must fail fast.
			s := open(t, srv.URL(), newPrefix(), redis.WithTimeout(redis.DefaultTimeout))
			// Warm the pool so that the outage hits idle connections too.
			for _, c := range calls {
				if err := c.call(t.Context(), s); err != nil && !errors.Is(err, tinyscale.ErrNotFound) {
					t.Fatalf("%s before the outage: got %v, want success", c.name, err)
				}
			}
			o.down(srv)

			for _, c := range calls {
				t.Run("down/"+c.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
					defer cancel()
					err := c.call(ctx, s)
					if !errors.Is(err, tinyscale.ErrStoreUnavailable) {
						t.Errorf("%s while Redis is down: got %v, want an error wrapping ErrStoreUnavailable", c.name, err)
					}
					if ctx.Err() != nil {
						t.Errorf("%s while Redis is down: returned only after the 30s context deadline, want a fast failure", c.name)
					}
				})
			}

			srv.Restart()
			// The same Store must recover by itself. Poll rather than expect
			// the first call to succeed: the pool re-dials in the background
			// about once a second, and a loaded machine may time out a call.
			for _, c := range calls {
				t.Run("recovered/"+c.name, func(t *testing.T) {
					deadline := time.Now().Add(30 * time.Second)
					for {
						err := c.call(t.Context(), s)
						if err == nil || errors.Is(err, tinyscale.ErrNotFound) {
							return
						}
						if time.Now().After(deadline) {
							t.Fatalf("%s after restart: still %v after 30s, want success", c.name, err)
						}
						time.Sleep(20 * time.Millisecond)
					}
				})
			}
		})
	}
}

// TestStore_TwoInstances runs claims from two Stores (two tinyscale
// instances) on one Redis at once.
func TestStore_TwoInstances(t *testing.T) {
	url := redistest.Start(t)
	prefix := newPrefix()
	instances := []*redis.Store{open(t, url, prefix), open(t, url, prefix)}

	const ids, claimsPerID = 20, 10
	type result struct {
		id, serverID string
		stored       bool
		err          error
	}
	results := make(chan result, ids*claimsPerID)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range ids * claimsPerID {
		wg.Go(func() {
			<-start
			s := instances[i%2]
			m := tinyscale.Meeting{ID: "m" + strconv.Itoa(i%ids), ServerID: fmt.Sprintf("s%d-%d", i%2, i), CreatedAt: time.Now()}
			got, stored, err := s.ClaimMeeting(t.Context(), m, "")
			results <- result{m.ID, got.ServerID, stored, err}
		})
	}
	close(start)
	wg.Wait()
	close(results)

	winners := map[string]string{}
	seen := map[string][]string{}
	for r := range results {
		if r.err != nil {
			t.Fatalf("ClaimMeeting(%s): got error %v, want nil", r.id, r.err)
		}
		seen[r.id] = append(seen[r.id], r.serverID)
		if r.stored {
			if w, ok := winners[r.id]; ok {
				t.Errorf("ClaimMeeting(%s): got a second winner %s after %s, want one", r.id, r.serverID, w)
			}
			winners[r.id] = r.serverID
		}
	}
	if len(winners) != ids {
		t.Errorf("meetings with a winner: got %d, want %d", len(winners), ids)
	}
	for id, servers := range seen {
		for _, srv := range servers {
			if srv != winners[id] {
				t.Errorf("ClaimMeeting(%s): a caller got server %s, want the winner's %s", id, srv, winners[id])
			}
		}
		for _, s := range instances {
			got, err := s.Meeting(t.Context(), id)
			if err != nil || got.ServerID != winners[id] {
				t.Errorf("Meeting(%s): got (%s, %v), want (%s, nil)", id, got.ServerID, err, winners[id])
			}
		}
	}

	t.Run("hook_ids_unique_across_instances", func(t *testing.T) {
		seen := map[int64]bool{}
		for i := range 50 {
			n, err := instances[i%2].NextHookID(t.Context())
			if err != nil || seen[n] {
				t.Fatalf("NextHookID: got (%d, %v), want a new number", n, err)
			}
			seen[n] = true
		}
	})
	t.Run("lease_one_holder_across_instances", func(t *testing.T) {
		a, err := instances[0].AcquireLease(t.Context(), "poller", "A", time.Hour)
		if err != nil || !a {
			t.Fatalf("AcquireLease(A): got (%v, %v), want (true, nil)", a, err)
		}
		b, err := instances[1].AcquireLease(t.Context(), "poller", "B", time.Hour)
		if err != nil || b {
			t.Errorf("AcquireLease(B) on the other instance: got (%v, %v), want (false, nil)", b, err)
		}
	})
	t.Run("prefixes_isolate", func(t *testing.T) {
		other := open(t, url, newPrefix())
		if _, err := other.Meeting(t.Context(), "m0"); !errors.Is(err, tinyscale.ErrNotFound) {
			t.Errorf("Meeting(m0) under another prefix: got %v, want ErrNotFound", err)
		}
	})
}

// BenchmarkStore_Meeting looks up a known meeting among 10,000.
func BenchmarkStore_Meeting(b *testing.B) {
	s := open(b, redistest.Start(b), newPrefix())
	ctx := context.Background()
	const n = 10_000
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				m := tinyscale.Meeting{ID: fmt.Sprintf("meeting-%05d", i), ServerID: "s1", CreatedAt: created.Add(time.Duration(i) * time.Second)}
				if err := s.PutMeeting(ctx, m); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("meeting-%05d", (i*7919)%n)
		i++
		if _, err := s.Meeting(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}
