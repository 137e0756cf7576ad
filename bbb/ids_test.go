package bbb_test

import (
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

func TestMeetingHash(t *testing.T) {
	tests := []struct {
		name, id, want string
	}{
		{name: "room1", id: "room1", want: "9bceabf6ad2a605ea08c2978036f291387615d40"},
		{name: "room10", id: "room10", want: "8f5aa7d490f90e79e4ab0d128e18145b8c5b8b4b"},
		{name: "empty", id: "", want: "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bbb.MeetingHash(tt.id); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestInternalMeetingID(t *testing.T) {
	got := bbb.InternalMeetingID("physics-101", 1717100000000)
	if want := "131d1e0d19cf63ee1d6985a6b700e78f9efe7c3b-1717100000000"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestSplitRecordID(t *testing.T) {
	const h = "131d1e0d19cf63ee1d6985a6b700e78f9efe7c3b"
	tests := []struct {
		name     string
		recordID string
		wantHash string
		wantMS   int64
		wantOK   bool
	}{
		{name: "valid", recordID: h + "-1717100000000", wantHash: h, wantMS: 1717100000000, wantOK: true},
		{name: "one_digit", recordID: h + "-0", wantHash: h, wantMS: 0, wantOK: true},
		{name: "no_time", recordID: h + "-", wantOK: false},
		{name: "hash_only", recordID: h, wantOK: false},
		{name: "upper_case_hash", recordID: "131D1E0D19CF63EE1D6985A6B700E78F9EFE7C3B-1", wantOK: false},
		{name: "short_hash", recordID: h[1:] + "-1717100000000", wantOK: false},
		{name: "signed_time", recordID: h + "-+17", wantOK: false},
		{name: "suffix", recordID: h + "-17x", wantOK: false},
		{name: "overflow", recordID: h + "-99999999999999999999", wantOK: false},
		{name: "empty", recordID: "", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hash, ms, ok := bbb.SplitRecordID(tt.recordID)
			if hash != tt.wantHash || ms != tt.wantMS || ok != tt.wantOK {
				t.Errorf("got (%q, %d, %v), want (%q, %d, %v)", hash, ms, ok, tt.wantHash, tt.wantMS, tt.wantOK)
			}
		})
	}
	t.Run("round_trip", func(t *testing.T) {
		id := bbb.InternalMeetingID("room1", 1715000000000)
		hash, ms, ok := bbb.SplitRecordID(id)
		if !ok || hash != bbb.MeetingHash("room1") || ms != 1715000000000 {
			t.Errorf("got (%q, %d, %v), want the parts of %s", hash, ms, ok, id)
		}
	})
}
