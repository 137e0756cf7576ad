package bolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale"
)

func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// mustGet looks id up twice (the first lookup may fill the cache, the
// second may hit it) and checks that both agree.
func mustGet(t *testing.T, s *Store, id string) (tinyscale.Meeting, error) {
	t.Helper()
	m1, err1 := s.Meeting(t.Context(), id)
	m2, err2 := s.Meeting(t.Context(), id)
	if m1 != m2 || (err1 == nil) != (err2 == nil) {
		t.Fatalf("Meeting(%q) twice: got %+v, %v and %+v, %v", id, m1, err1, m2, err2)
	}
	return m1, err1
}

// TestMeetingCache_Coherent: a lookup after any write of a meeting sees
// that write, whichever write method made it, also when the meeting was
// cached before.
func TestMeetingCache_Coherent(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		write func(ctx context.Context, s *Store) error
		want  string // server ID; "" for not found
	}{
		{"put", func(ctx context.Context, s *Store) error {
			return s.PutMeeting(ctx, tinyscale.Meeting{ID: "m", ServerID: "b", CreatedAt: t0})
		}, "b"},
		{"claim_replace", func(ctx context.Context, s *Store) error {
			_, ok, err := s.ClaimMeeting(ctx, tinyscale.Meeting{ID: "m", ServerID: "c", CreatedAt: t0}, "a")
			if err == nil && !ok {
				err = errors.New("claim did not replace")
			}
			return err
		}, "c"},
		{"claim_taken", func(ctx context.Context, s *Store) error {
			_, ok, err := s.ClaimMeeting(ctx, tinyscale.Meeting{ID: "m", ServerID: "c", CreatedAt: t0}, "")
			if err == nil && ok {
				err = errors.New("claim replaced a taken meeting")
			}
			return err
		}, "a"},
		{"delete", func(ctx context.Context, s *Store) error { return s.DeleteMeeting(ctx, "m", "a") }, ""},
		{"delete_any_server", func(ctx context.Context, s *Store) error { return s.DeleteMeeting(ctx, "m", "") }, ""},
		{"delete_other_server", func(ctx context.Context, s *Store) error {
			if err := s.DeleteMeeting(ctx, "m", "b"); !errors.Is(err, tinyscale.ErrNotFound) {
				return fmt.Errorf("got %v, want ErrNotFound", err)
			}
			return nil
		}, "a"},
		{"delete_then_claim", func(ctx context.Context, s *Store) error {
			if err := s.DeleteMeeting(ctx, "m", ""); err != nil {
				return err
			}
			_, _, err := s.ClaimMeeting(ctx, tinyscale.Meeting{ID: "m", ServerID: "d", CreatedAt: t0}, "")
			return err
		}, "d"},
		{"claim_meetings_taken", func(ctx context.Context, s *Store) error {
			_, _, err := s.ClaimMeetings(ctx, []tinyscale.Meeting{{ID: "m", ServerID: "e", CreatedAt: t0}})
			return err
		}, "a"},
		{"delete_then_claim_meetings", func(ctx context.Context, s *Store) error {
			if err := s.DeleteMeeting(ctx, "m", ""); err != nil {
				return err
			}
			_, _, err := s.ClaimMeetings(ctx, []tinyscale.Meeting{{ID: "m", ServerID: "e", CreatedAt: t0}})
			return err
		}, "e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			ctx := t.Context()
			if err := s.PutMeeting(ctx, tinyscale.Meeting{ID: "m", ServerID: "a", CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
			if m, err := mustGet(t, s, "m"); err != nil || m.ServerID != "a" {
				t.Fatalf("before: got %+v, %v; want server a", m, err)
			}
			if _, ok := s.cache.get("m"); !ok {
				t.Fatalf("m is not cached after two lookups")
			}
			if err := tt.write(ctx, s); err != nil {
				t.Fatalf("write: %v", err)
			}
			m, err := mustGet(t, s, "m")
			switch {
			case tt.want == "" && !errors.Is(err, tinyscale.ErrNotFound):
				t.Errorf("after: got %+v, %v; want ErrNotFound", m, err)
			case tt.want != "" && (err != nil || m.ServerID != tt.want):
				t.Errorf("after: got %+v, %v; want server %s", m, err, tt.want)
			}
		})
	}
}

// TestMeetingCache_DecodedValue: a cached meeting is exactly what decoding
// the stored value gives (no monotonic clock reading, the location the
// decoder picks), not the value that was written.
func TestMeetingCache_DecodedValue(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	written := tinyscale.Meeting{ID: "m", ServerID: "a", InternalID: "i", CreatedAt: time.Now()}
	if err := s.PutMeeting(ctx, written); err != nil {
		t.Fatal(err)
	}
	all, err := s.Meetings(ctx) // decodes, never cached
	if err != nil || len(all) != 1 {
		t.Fatalf("Meetings: got %v, %v", all, err)
	}
	for i := range 2 {
		got, err := s.Meeting(ctx, "m")
		if err != nil || got != all[0] {
			t.Errorf("lookup %d: got %#v, %v; want %#v", i, got, err, all[0])
		}
	}
}

// TestMeetingCache_StaleFill: a lookup that read the database before a
// write must not cache what it read once the write is committed.
func TestMeetingCache_StaleFill(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	old := tinyscale.Meeting{ID: "m", ServerID: "a"}
	if err := s.PutMeeting(ctx, old); err != nil {
		t.Fatal(err)
	}
	gen := s.cache.generation() // a lookup starts and reads old …
	if err := s.PutMeeting(ctx, tinyscale.Meeting{ID: "m", ServerID: "b"}); err != nil {
		t.Fatal(err)
	}
	s.cache.fill([]keyedMeeting{{"m", cachedMeeting{old, nil}}}, gen, true) // … and ends after the write
	if m, err := mustGet(t, s, "m"); err != nil || m.ServerID != "b" {
		t.Errorf("got %+v, %v; want server b", m, err)
	}
}

// TestMeetingCache_ListsExact: Meetings and MeetingsSince return what
// their transaction reads: a cached meeting decoded from other bytes than
// the stored ones (a write committed after the transaction began) is not
// used, and what they decode is cached for the lookups that follow.
func TestMeetingCache_ListsExact(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, id := range []string{"a", "b"} {
		if err := s.PutMeeting(ctx, tinyscale.Meeting{ID: id, ServerID: "s1", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	// A cache entry from other bytes, as if "a" had been rewritten.
	newer := tinyscale.Meeting{ID: "a", ServerID: "s2", CreatedAt: t0.Add(-time.Hour)}
	s.cache.fill([]keyedMeeting{{"a", cachedMeeting{newer, []byte(`{"id":"a","serverID":"s2"}`)}}}, s.cache.generation(), true)
	lists := []struct {
		name string
		list func() ([]tinyscale.Meeting, error)
	}{
		{"Meetings", func() ([]tinyscale.Meeting, error) { return s.Meetings(ctx) }},
		{"MeetingsSince", func() ([]tinyscale.Meeting, error) { return s.MeetingsSince(ctx, t0) }},
	}
	for _, l := range lists {
		t.Run(l.name, func(t *testing.T) {
			for round := range 2 {
				got, err := l.list()
				if err != nil || len(got) != 2 || got[0].ID != "a" || got[0].ServerID != "s1" || got[1].ID != "b" {
					t.Errorf("round %d: got %+v, %v; want a and b on s1", round, got, err)
				}
			}
		})
	}
	if e, ok := s.cache.get("b"); !ok || e.m.ServerID != "s1" {
		t.Errorf("b after the lists: got %+v, %v; want it cached", e.m, ok)
	}
}

// TestMeetingCache_Bounded: the cache never holds more than
// maxCachedMeetings entries, and lookups stay right when it is emptied.
func TestMeetingCache_Bounded(t *testing.T) {
	defer func(n int) { maxCachedMeetings = n }(maxCachedMeetings)
	maxCachedMeetings = 4
	s := openTest(t)
	ctx := t.Context()
	for i := range 10 {
		if err := s.PutMeeting(ctx, tinyscale.Meeting{ID: "m" + strconv.Itoa(i), ServerID: "s" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 2 {
		for i := range 10 {
			m, err := s.Meeting(ctx, "m"+strconv.Itoa(i))
			if err != nil || m.ServerID != "s"+strconv.Itoa(i) {
				t.Errorf("round %d, m%d: got %+v, %v", round, i, m, err)
			}
			if n := len(s.cache.m); n > maxCachedMeetings {
				t.Fatalf("cache holds %d entries, want at most %d", n, maxCachedMeetings)
			}
		}
		all, err := s.Meetings(ctx)
		if err != nil || len(all) != 10 {
			t.Fatalf("round %d: Meetings: got %d meetings, %v", round, len(all), err)
		}
		if n := len(s.cache.m); n > maxCachedMeetings {
			t.Fatalf("cache holds %d entries after Meetings, want at most %d", n, maxCachedMeetings)
		}
	}
}

// TestMeetingCache_ClosedOrCanceled: a cached meeting is not returned
// after Close or with a canceled context; the errors are those of an
// uncached lookup.
func TestMeetingCache_ClosedOrCanceled(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	if err := s.PutMeeting(ctx, tinyscale.Meeting{ID: "m", ServerID: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := mustGet(t, s, "m"); err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Meeting(canceled, "m"); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: got %v, want context.Canceled", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Meeting(ctx, "m"); !errors.Is(err, tinyscale.ErrStoreUnavailable) {
		t.Errorf("closed: got %v, want ErrStoreUnavailable", err)
	}
}

// TestMeetingCache_Concurrent: while a writer keeps moving a meeting, a
// lookup that starts after a write returned sees that write or a later
// one, never an older one (run with -race).
func TestMeetingCache_Concurrent(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	const writes = 60
	var done atomic.Bool
	var last atomic.Int64 // the last version whose write returned
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer done.Store(true)
		for v := int64(1); v <= writes; v++ {
			m := tinyscale.Meeting{ID: "m", ServerID: "s", InternalID: strconv.FormatInt(v, 10)}
			var err error
			switch v % 3 {
			case 0:
				err = s.PutMeeting(ctx, m)
			case 1:
				_, _, err = s.ClaimMeeting(ctx, m, "s")
			default:
				if err = s.DeleteMeeting(ctx, "m", ""); err == nil || errors.Is(err, tinyscale.ErrNotFound) {
					_, _, err = s.ClaimMeetings(ctx, []tinyscale.Meeting{m})
				}
			}
			if err != nil {
				t.Errorf("write %d: %v", v, err)
				return
			}
			last.Store(v)
		}
	}()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				min := last.Load()
				m, err := s.Meeting(ctx, "m")
				if errors.Is(err, tinyscale.ErrNotFound) {
					continue // between the delete and the claim of a version
				}
				if err != nil {
					t.Errorf("lookup: %v", err)
					return
				}
				if v, _ := strconv.ParseInt(m.InternalID, 10, 64); v < min {
					t.Errorf("lookup after write %d returned version %d", min, v)
					return
				}
			}
		}()
	}
	wg.Wait()
	if m, err := s.Meeting(ctx, "m"); err != nil || m.InternalID != strconv.Itoa(writes) {
		t.Errorf("final: got %+v, %v; want version %d", m, err, writes)
	}
}

func TestStore_ClaimMeetings(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	if err := s.PutMeeting(ctx, tinyscale.Meeting{ID: "taken", ServerID: "a", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	var ms []tinyscale.Meeting
	for i := range claimBatch + 10 { // more than one transaction
		ms = append(ms, tinyscale.Meeting{ID: fmt.Sprintf("new-%03d", i), ServerID: "b", CreatedAt: t0})
	}
	ms = append(ms, tinyscale.Meeting{ID: "taken", ServerID: "b", CreatedAt: t0},
		tinyscale.Meeting{ID: "new-000", ServerID: "c", CreatedAt: t0}) // already in this call
	got, stored, err := s.ClaimMeetings(ctx, ms)
	if err != nil {
		t.Fatalf("ClaimMeetings: %v", err)
	}
	for i, m := range ms {
		want, wantStored := m.ServerID, true
		if i >= len(ms)-2 {
			want, wantStored = map[string]string{"taken": "a", "new-000": "b"}[m.ID], false
		}
		if got[i].ID != m.ID || got[i].ServerID != want || stored[i] != wantStored {
			t.Errorf("%s: got %+v stored=%v, want server %s stored=%v", m.ID, got[i], stored[i], want, wantStored)
		}
		if cur, err := mustGet(t, s, m.ID); err != nil || cur.ServerID != want {
			t.Errorf("%s afterwards: got %+v, %v; want server %s", m.ID, cur, err, want)
		}
	}
	since, err := s.MeetingsSince(ctx, t0)
	if err != nil || len(since) != claimBatch+11 {
		t.Errorf("MeetingsSince: got %d meetings, %v; want %d (the index is kept)", len(since), err, claimBatch+11)
	}
	if _, _, err := s.ClaimMeetings(ctx, []tinyscale.Meeting{{ID: "x"}, {ID: ""}}); err == nil {
		t.Errorf("empty ID: got no error")
	}
	if _, err := s.Meeting(ctx, "x"); !errors.Is(err, tinyscale.ErrNotFound) {
		t.Errorf("after the rejected call: got %v, want x not stored", err)
	}
}

// BenchmarkStore_MeetingCache is the lookup of every join: from the cache, and
// (uncached) the decode each lookup cost before the cache.
func BenchmarkStore_MeetingCache(b *testing.B) {
	s := openTest(b)
	ctx := context.Background()
	m := tinyscale.Meeting{ID: "b6f0c0e8c0b1d2e3f4a5b6c7d8e9f0a1b2c3d4e5-42-17", ServerID: "bbb-07.example.org",
		InternalID: "9bceabf6ad2a605ea08c2978036f291387615d40-1717000000001", CreatedAt: time.Now()}
	if err := s.PutMeeting(ctx, m); err != nil {
		b.Fatal(err)
	}
	for _, cached := range []bool{true, false} {
		b.Run("cached="+strconv.FormatBool(cached), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !cached {
					s.cache.drop(m.ID)
				}
				if _, err := s.Meeting(ctx, m.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
