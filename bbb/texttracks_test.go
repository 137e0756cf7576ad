package bbb_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

func TestParseTextTracks(t *testing.T) {
	t.Run("tracks", func(t *testing.T) {
		st, tracks, err := bbb.ParseTextTracks(readTestdata(t, "texttracks.json"))
		if err != nil {
			t.Fatalf("got error %v, want nil", err)
		}
		if !st.OK() || len(tracks) != 2 {
			t.Fatalf("got %+v with %d tracks, want SUCCESS with 2", st, len(tracks))
		}
		var tr struct {
			Kind, Lang  string
			FutureField []int
		}
		if err := json.Unmarshal(tracks[1], &tr); err != nil || tr.Kind != "captions" || tr.Lang != "en-US" || len(tr.FutureField) != 2 {
			t.Errorf("track 1: got %+v (%v), want captions en-US with its unknown field kept", tr, err)
		}
		// Rebuilding keeps every track byte for byte.
		st2, back, err := bbb.ParseTextTracks(bbb.TextTracksJSON(tracks))
		if err != nil || !st2.OK() || len(back) != 2 || string(back[0]) != string(tracks[0]) || string(back[1]) != string(tracks[1]) {
			t.Errorf("round trip: got %+v %q %v, want the same tracks", st2, back, err)
		}
	})
	t.Run("not_found", func(t *testing.T) {
		st, tracks, err := bbb.ParseTextTracks(readTestdata(t, "texttracks_notfound.json"))
		want := bbb.Status{ReturnCode: "FAILED", MessageKey: "noRecordings", Message: "No recording found"}
		if err != nil || st != want || tracks != nil {
			t.Errorf("got %+v %v %v, want %+v, no tracks, nil", st, tracks, err, want)
		}
	})
	t.Run("empty_list", func(t *testing.T) {
		if got := string(bbb.TextTracksJSON(nil)); got != `{"response":{"returncode":"SUCCESS","tracks":[]}}` {
			t.Errorf("got %s, want an empty tracks list", got)
		}
	})
	for _, tt := range []struct{ name, body string }{
		{name: "xml_error", body: string(readTestdata(t, "checksum_error.xml"))},
		{name: "no_response", body: `{"returncode":"SUCCESS"}`},
		{name: "truncated", body: `{"response":{"returncode":"SUCC`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := bbb.ParseTextTracks([]byte(tt.body)); !errors.Is(err, bbb.ErrMalformed) {
				t.Errorf("got error %v, want ErrMalformed", err)
			}
		})
	}
}
