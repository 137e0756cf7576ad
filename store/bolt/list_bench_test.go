package bolt

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/tinyscale/tinyscale"
)

// BenchmarkStore_Meetings reads the whole map of 10,000 meetings, as the
// poller does every round, and the young ones (the last 500), as every
// placement does.
func BenchmarkStore_Meetings(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 10_000
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	err = s.db.Update(func(tx *bbolt.Tx) error {
		for i := range n {
			m := tinyscale.Meeting{ID: fmt.Sprintf("meeting-%05d", i), ServerID: "s1", InternalID: "0123456789abcdef0123456789abcdef01234567-1717000000000",
				CreatedAt: created.Add(time.Duration(i) * time.Second)}
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
	b.Run("all", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ms, err := s.Meetings(ctx); err != nil || len(ms) != n {
				b.Fatal(len(ms), err)
			}
		}
	})
	b.Run("young", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ms, err := s.MeetingsSince(ctx, created.Add((n-500)*time.Second)); err != nil || len(ms) != 500 {
				b.Fatal(len(ms), err)
			}
		}
	})
}
