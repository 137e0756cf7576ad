package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/tinyscale/tinyscale"
)

// fakeClock is a settable clock for white-box tests.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func openWithClock(t *testing.T, c *fakeClock) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s.now = c.now
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func bucketLen(t *testing.T, s *Store, name []byte) int {
	t.Helper()
	n := 0
	err := s.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(name).Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStore_OnceSweepsExpiredKeys(t *testing.T) {
	c := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := openWithClock(t, c)
	ctx := t.Context()
	const n = 150
	for i := range n {
		if ok, err := s.Once(ctx, fmt.Sprintf("old%03d", i), time.Minute); err != nil || !ok {
			t.Fatalf("Once(old%03d): got (%v, %v), want (true, nil)", i, ok, err)
		}
	}
	if ok, err := s.Once(ctx, "long", 24*time.Hour); err != nil || !ok {
		t.Fatalf("Once(long): got (%v, %v), want (true, nil)", ok, err)
	}
	c.advance(time.Hour)

	tests := []struct {
		name     string
		key      string
		wantKeys int // once keys left after the call
	}{
		{name: "first_call_sweeps_one_batch", key: "new1", wantKeys: n + 1 - sweepBatch + 1},
		{name: "second_call_sweeps_next_batch", key: "new2", wantKeys: n + 1 - 2*sweepBatch + 2},
		{name: "third_call_sweeps_the_rest", key: "new3", wantKeys: 1 + 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ok, err := s.Once(ctx, tt.key, time.Minute); err != nil || !ok {
				t.Fatalf("Once(%s): got (%v, %v), want (true, nil)", tt.key, ok, err)
			}
			if got := bucketLen(t, s, bucketOnce); got != tt.wantKeys {
				t.Errorf("once keys: got %d, want %d", got, tt.wantKeys)
			}
			if got, want := bucketLen(t, s, bucketOnceExpiry), bucketLen(t, s, bucketOnce); got != want {
				t.Errorf("expiry index entries: got %d, want %d (one per key)", got, want)
			}
		})
	}
	if ok, err := s.Once(ctx, "long", time.Minute); err != nil || ok {
		t.Errorf("Once(long) while valid: got (%v, %v), want (false, nil)", ok, err)
	}
}

func TestStore_OnceRearmReplacesExpiryEntry(t *testing.T) {
	c := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := openWithClock(t, c)
	ctx := t.Context()
	steps := []struct {
		name    string
		advance time.Duration
		want    bool
	}{
		{name: "first", advance: 0, want: true},
		{name: "within_ttl", advance: 30 * time.Second, want: false},
		{name: "at_expiry", advance: 30 * time.Second, want: true},
		{name: "after_rearm", advance: time.Second, want: false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			c.advance(st.advance)
			got, err := s.Once(ctx, "k", time.Minute)
			if err != nil || got != st.want {
				t.Errorf("Once: got (%v, %v), want (%v, nil)", got, err, st.want)
			}
			if got := bucketLen(t, s, bucketOnceExpiry); got != 1 {
				t.Errorf("expiry index entries: got %d, want 1", got)
			}
		})
	}
}

func TestStore_LeaseExpiry(t *testing.T) {
	c := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := openWithClock(t, c)
	steps := []struct {
		name    string
		advance time.Duration
		holder  string
		want    bool
	}{
		{name: "A_takes", holder: "A", want: true},
		{name: "B_waits", advance: 59 * time.Second, holder: "B", want: false},
		{name: "A_renews", holder: "A", want: true},
		{name: "B_waits_after_renewal", advance: 59 * time.Second, holder: "B", want: false},
		{name: "B_takes_after_expiry", advance: time.Second, holder: "B", want: true},
		{name: "A_waits", holder: "A", want: false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			c.advance(st.advance)
			got, err := s.AcquireLease(t.Context(), "poller", st.holder, time.Minute)
			if err != nil || got != st.want {
				t.Errorf("AcquireLease(%s): got (%v, %v), want (%v, nil)", st.holder, got, err, st.want)
			}
		})
	}
}

// TestStore_CorruptMeeting checks that a stored value that does not decode
// is reported as an error that is not an outage, and can be deleted.
func TestStore_CorruptMeeting(t *testing.T) {
	s := openWithClock(t, &fakeClock{t: time.Now()})
	ctx := t.Context()
	if err := s.PutMeeting(ctx, tinyscale.Meeting{ID: "bad", ServerID: "s1", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeetings).Put([]byte("bad"), []byte("{not json"))
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Meeting(ctx, "bad")
	if err == nil || errors.Is(err, tinyscale.ErrStoreUnavailable) {
		t.Errorf("Meeting(corrupt): got %v, want a decode error that is not ErrStoreUnavailable", err)
	}
	if err := s.DeleteMeeting(ctx, "bad", ""); err != nil {
		t.Errorf("DeleteMeeting(corrupt, any server): got %v, want nil", err)
	}
	if got := bucketLen(t, s, bucketCreated); got != 0 {
		t.Errorf("index entries after deleting the corrupt meeting: got %d, want 0", got)
	}
}

func TestCreatedKey_Order(t *testing.T) {
	times := []time.Time{
		{},
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Unix(0, 0),
		time.Unix(0, 1),
		time.Unix(1, 0),
		time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC),
		time.Date(2262, 4, 12, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	for i := 1; i < len(times); i++ {
		a, b := times[i-1], times[i]
		t.Run(fmt.Sprintf("%s_before_%s", a.Format(time.RFC3339Nano), b.Format(time.RFC3339Nano)), func(t *testing.T) {
			if got := bytes.Compare(createdPrefix(a), createdPrefix(b)); got != -1 {
				t.Errorf("Compare(key(a), key(b)): got %d, want -1", got)
			}
			got, _, ok := parseCreatedKey(createdKey(b, "id"))
			if !ok || !got.Equal(b) {
				t.Errorf("parseCreatedKey: got (%v, %v), want (%v, true)", got, ok, b)
			}
		})
	}
}

func FuzzCreatedKey(f *testing.F) {
	f.Add(int64(0), int64(0), int64(0), int64(1), "m")
	f.Add(int64(-62135596800), int64(0), int64(1741964966), int64(535897932), "")
	f.Add(int64(1<<62), int64(999999999), int64(-(1 << 62)), int64(0), "a/b")
	f.Fuzz(func(t *testing.T, s1, n1, s2, n2 int64, id string) {
		a := time.Unix(s1, n1%1e9)
		b := time.Unix(s2, n2%1e9)
		want := a.Compare(b)
		if got := bytes.Compare(createdPrefix(a), createdPrefix(b)); got != want {
			t.Fatalf("Compare(key(%v), key(%v)): got %d, want %d", a, b, got, want)
		}
		gotT, gotID, ok := parseCreatedKey(createdKey(a, id))
		if !ok || !gotT.Equal(a) || gotID != id {
			t.Fatalf("parseCreatedKey(createdKey(%v, %q)): got (%v, %q, %v), want (%v, %q, true)", a, id, gotT, gotID, ok, a, id)
		}
		// Arbitrary bytes never panic.
		parseCreatedKey([]byte(id))
	})
}

// BenchmarkStore_Meeting looks up a known meeting among 10,000.
func BenchmarkStore_Meeting(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 10_000
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// One transaction for the fixture: 10,000 fsynced commits would dominate.
	err = s.db.Update(func(tx *bbolt.Tx) error {
		for i := range n {
			m := tinyscale.Meeting{ID: fmt.Sprintf("meeting-%05d", i), ServerID: "s1", CreatedAt: created.Add(time.Duration(i) * time.Second)}
			if err := putMeeting(tx, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
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
