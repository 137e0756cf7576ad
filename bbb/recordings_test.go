package bbb_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

const (
	hashRoom1   = "9bceabf6ad2a605ea08c2978036f291387615d40"
	hashRoom10  = "8f5aa7d490f90e79e4ab0d128e18145b8c5b8b4b"
	hashPhysics = "131d1e0d19cf63ee1d6985a6b700e78f9efe7c3b"
)

// allRecordings parses the recordings of both test servers, a first.
func allRecordings(tb testing.TB) []bbb.Recording {
	tb.Helper()
	var all []bbb.Recording
	for _, f := range []string{"getrecordings_a.xml", "getrecordings_b.xml"} {
		rs, err := bbb.ParseRecordings(readTestdata(tb, f))
		if err != nil {
			tb.Fatalf("parse %s: %v", f, err)
		}
		all = append(all, rs...)
	}
	return all
}

func recordIDs(rs []bbb.Recording) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.RecordID
	}
	return ids
}

func TestParseRecordings(t *testing.T) {
	t.Run("server_a", func(t *testing.T) {
		body := readTestdata(t, "getrecordings_a.xml")
		rs, err := bbb.ParseRecordings(body)
		if err != nil {
			t.Fatalf("got error %v, want nil", err)
		}
		if len(rs) != 3 {
			t.Fatalf("got %d recordings, want 3", len(rs))
		}
		r := rs[0]
		want := bbb.Recording{
			RecordID: hashPhysics + "-1717100000000", MeetingID: "physics-101", InternalMeetingID: hashPhysics + "-1717100000000",
			State: "published", Published: true, StartTime: 1717100000000, EndTime: 1717103600000,
			Metadata: map[string]string{"meetingId": "physics-101", "meetingName": "Physics 101", "isBreakout": "false",
				"bbb-origin": "Moodle", "bbb-context-id": "4711", "bn-recording-ready-url": "https://lb.example.net/callbacks/rec/tok-physics"},
		}
		r.Raw = nil
		if !reflect.DeepEqual(r, want) {
			t.Errorf("got %+v, want %+v", r, want)
		}
		for i, r := range rs {
			if !bytes.HasPrefix(r.Raw, []byte("<recording>")) || !bytes.HasSuffix(r.Raw, []byte("</recording>")) || !bytes.Contains(body, r.Raw) {
				t.Errorf("recording %d: raw is not a whole <recording> element of the body", i)
			}
		}
		if got := []string{rs[1].State, rs[2].State}; !slices.Equal(got, []string{"unpublished", "deleted"}) {
			t.Errorf("states: got %v, want [unpublished deleted]", got)
		}
	})
	t.Run("server_b_paged_answer", func(t *testing.T) {
		rs, err := bbb.ParseRecordings(readTestdata(t, "getrecordings_b.xml"))
		if err != nil {
			t.Fatalf("got error %v, want nil", err)
		}
		if got, want := recordIDs(rs), []string{hashRoom10 + "-1716500000000", "5c4c974769fe8508d9971b8a0ecf8a834fd5e4d3-1717100500000"}; !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("no_recordings", func(t *testing.T) {
		rs, err := bbb.ParseRecordings(readTestdata(t, "getrecordings_empty.xml"))
		if err != nil || len(rs) != 0 {
			t.Errorf("got %d recordings, error %v; want 0, nil", len(rs), err)
		}
	})
	t.Run("failed", func(t *testing.T) {
		_, err := bbb.ParseRecordings(readTestdata(t, "checksum_error.xml"))
		var e *bbb.Error
		if !errors.As(err, &e) || e.Key != "checksumError" || errors.Is(err, bbb.ErrMalformed) {
			t.Errorf("got error %v, want *Error checksumError", err)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		_, err := bbb.ParseRecordings([]byte("<response><returncode>SUCCESS</returncode><recordings><recording>"))
		if !errors.Is(err, bbb.ErrMalformed) {
			t.Errorf("got error %v, want ErrMalformed", err)
		}
	})
}

func TestRecordingFilterFromQuery(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  bbb.RecordingFilter
	}{
		{name: "empty", query: "", want: bbb.RecordingFilter{}},
		{name: "one_meeting", query: "meetingID=room1",
			want: bbb.RecordingFilter{RecordIDs: []string{hashRoom1}, MeetingIDs: []string{"room1"}}},
		{name: "meeting_list", query: "meetingID=room1%2Croom10",
			want: bbb.RecordingFilter{RecordIDs: []string{hashRoom1, hashRoom10}, MeetingIDs: []string{"room1", "room10"}}},
		{name: "record_id_wins_over_meeting_id", query: "meetingID=room1&recordID=abc,def",
			want: bbb.RecordingFilter{RecordIDs: []string{"abc", "def"}}},
		{name: "empty_middle_item_kept", query: "recordID=abc,,def", want: bbb.RecordingFilter{RecordIDs: []string{"abc", "", "def"}}},
		{name: "trailing_empty_items_dropped", query: "recordID=abc,,", want: bbb.RecordingFilter{RecordIDs: []string{"abc"}}},
		{name: "only_commas_falls_back_to_meeting", query: "recordID=,,&meetingID=room1",
			want: bbb.RecordingFilter{RecordIDs: []string{hashRoom1}, MeetingIDs: []string{"room1"}}},
		{name: "empty_record_id", query: "recordID=&meetingID=room10",
			want: bbb.RecordingFilter{RecordIDs: []string{hashRoom10}, MeetingIDs: []string{"room10"}}},
		{name: "first_value_wins", query: "recordID=a&recordID=b", want: bbb.RecordingFilter{RecordIDs: []string{"a"}}},
		// bbb-web URL-decodes the (already decoded) value once more.
		{name: "double_decoded_plus", query: "meetingID=a%2Bb",
			want: bbb.RecordingFilter{RecordIDs: []string{bbb.MeetingHash("a b")}, MeetingIDs: []string{"a b"}}},
		{name: "double_encoded", query: "meetingID=a%252Bb",
			want: bbb.RecordingFilter{RecordIDs: []string{bbb.MeetingHash("a+b")}, MeetingIDs: []string{"a+b"}}},
		{name: "undecodable_kept", query: "meetingID=100%25",
			want: bbb.RecordingFilter{RecordIDs: []string{bbb.MeetingHash("100%")}, MeetingIDs: []string{"100%"}}},
		{name: "states", query: "state=published,deleted", want: bbb.RecordingFilter{States: []string{"published", "deleted"}}},
		{name: "state_any", query: "state=any", want: bbb.RecordingFilter{States: []string{"any"}}},
		{name: "meta", query: "meta_bbb-origin=Moodle&meta_BBB-Context-ID=47%25&meta_a_b=x&meta_bbb-origin=later",
			want: bbb.RecordingFilter{Meta: map[string]string{"bbb-origin": "Moodle", "bbb-context-id": "47%"}}},
		{name: "limit", query: "limit=10&offset=20", want: bbb.RecordingFilter{Limit: 10, Offset: 20}},
		{name: "limit_zero_clamped", query: "limit=0", want: bbb.RecordingFilter{Limit: 1}},
		{name: "limit_negative_clamped", query: "limit=-5", want: bbb.RecordingFilter{Limit: 1}},
		{name: "limit_large_clamped", query: "limit=1000", want: bbb.RecordingFilter{Limit: 100}},
		{name: "limit_plus_sign", query: "limit=%2B7", want: bbb.RecordingFilter{Limit: 7}},
		{name: "limit_not_number_unpaged", query: "limit=ten&offset=5", want: bbb.RecordingFilter{}},
		{name: "limit_overflow_unpaged", query: "limit=99999999999", want: bbb.RecordingFilter{}},
		{name: "limit_blank_unpaged", query: "limit=&offset=5", want: bbb.RecordingFilter{}},
		{name: "offset_without_limit_ignored", query: "offset=20", want: bbb.RecordingFilter{}},
		{name: "offset_negative", query: "limit=5&offset=-3", want: bbb.RecordingFilter{Limit: 5}},
		{name: "offset_not_number", query: "limit=5&offset=x", want: bbb.RecordingFilter{Limit: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bbb.RecordingFilterFromQuery(bbb.ParseQuery(tt.query))
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if got.Paged() != (tt.want.Limit > 0) {
				t.Errorf("Paged: got %v, want %v", got.Paged(), tt.want.Limit > 0)
			}
		})
	}
}

func TestRecordingFilter_Match(t *testing.T) {
	rec := bbb.Recording{
		RecordID: hashRoom1 + "-1716000000000", State: "published", Published: true,
		Metadata: map[string]string{"meetingId": "room1", "bbb-origin": "greenlight", "gl-listed": "false", "empty": ""},
	}
	with := func(f func(r *bbb.Recording)) bbb.Recording {
		r := rec
		f(&r)
		return r
	}
	tests := []struct {
		name   string
		filter bbb.RecordingFilter
		rec    bbb.Recording
		want   bool
	}{
		{name: "zero_filter", rec: rec, want: true},
		{name: "prefix_hash", filter: bbb.RecordingFilter{RecordIDs: []string{hashRoom1}}, rec: rec, want: true},
		{name: "prefix_other_hash", filter: bbb.RecordingFilter{RecordIDs: []string{hashRoom10}}, rec: rec, want: false},
		{name: "prefix_any_of_list", filter: bbb.RecordingFilter{RecordIDs: []string{"zz", hashRoom1[:6]}}, rec: rec, want: true},
		{name: "exact_id", filter: bbb.RecordingFilter{RecordIDs: []string{rec.RecordID}}, rec: rec, want: true},
		{name: "longer_than_id", filter: bbb.RecordingFilter{RecordIDs: []string{rec.RecordID + "0"}}, rec: rec, want: false},
		{name: "empty_prefix_matches_all", filter: bbb.RecordingFilter{RecordIDs: []string{"zz", ""}}, rec: rec, want: true},
		{name: "default_states_unpublished", rec: with(func(r *bbb.Recording) { r.State = "unpublished" }), want: true},
		{name: "default_states_deleted", rec: with(func(r *bbb.Recording) { r.State = "deleted" }), want: false},
		{name: "default_states_processing", rec: with(func(r *bbb.Recording) { r.State = "processing" }), want: false},
		{name: "no_state_element_uses_published", rec: with(func(r *bbb.Recording) { r.State = "" }), want: true},
		{name: "state_list", filter: bbb.RecordingFilter{States: []string{"processing", "deleted"}}, rec: with(func(r *bbb.Recording) { r.State = "deleted" }), want: true},
		{name: "state_list_excludes", filter: bbb.RecordingFilter{States: []string{"processing"}}, rec: rec, want: false},
		{name: "state_any", filter: bbb.RecordingFilter{States: []string{"any"}}, rec: with(func(r *bbb.Recording) { r.State = "deleted" }), want: true},
		{name: "state_unknown", filter: bbb.RecordingFilter{States: []string{"bogus"}}, rec: rec, want: false},
		{name: "meta_exact", filter: meta("bbb-origin", "greenlight"), rec: rec, want: true},
		{name: "meta_exact_is_case_sensitive", filter: meta("bbb-origin", "Greenlight"), rec: rec, want: false},
		{name: "meta_prefix", filter: meta("bbb-origin", "green%"), rec: rec, want: true},
		{name: "meta_prefix_miss", filter: meta("bbb-origin", "light%"), rec: rec, want: false},
		{name: "meta_suffix", filter: meta("bbb-origin", "%light"), rec: rec, want: true},
		{name: "meta_suffix_miss", filter: meta("bbb-origin", "%green"), rec: rec, want: false},
		{name: "meta_contains", filter: meta("bbb-origin", "%eenl%"), rec: rec, want: true},
		{name: "meta_contains_miss", filter: meta("bbb-origin", "%moodle%"), rec: rec, want: false},
		{name: "meta_percent_alone", filter: meta("bbb-origin", "%"), rec: rec, want: true},
		{name: "meta_double_percent", filter: meta("bbb-origin", "%%"), rec: rec, want: true},
		{name: "meta_percent_needs_key", filter: meta("nope", "%"), rec: rec, want: false},
		{name: "meta_empty_pattern_empty_value", filter: meta("empty", ""), rec: rec, want: true},
		{name: "meta_empty_pattern_other_value", filter: meta("bbb-origin", ""), rec: rec, want: false},
		{name: "meta_missing_key", filter: meta("bbb-context", "x"), rec: rec, want: false},
		{name: "meta_camel_case_key_never_matches", filter: meta("meetingid", "room1"), rec: rec, want: false},
		{name: "meta_all_must_match", filter: bbb.RecordingFilter{Meta: map[string]string{"bbb-origin": "greenlight", "gl-listed": "true"}}, rec: rec, want: false},
		{name: "meta_all_match", filter: bbb.RecordingFilter{Meta: map[string]string{"bbb-origin": "greenlight", "gl-listed": "false"}}, rec: rec, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.filter.Match(tt.rec); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func meta(k, v string) bbb.RecordingFilter { return bbb.RecordingFilter{Meta: map[string]string{k: v}} }

func TestApplyRecordings(t *testing.T) {
	all := allRecordings(t)
	tests := []struct {
		name      string
		query     string
		wantIDs   []string
		wantTotal int
	}{
		{name: "default_states_sorted_by_start", query: "",
			wantIDs: []string{hashRoom1 + "-1716000000000", hashRoom10 + "-1716500000000", hashPhysics + "-1717100000000", "5c4c974769fe8508d9971b8a0ecf8a834fd5e4d3-1717100500000"}, wantTotal: 4},
		{name: "room1_not_room10", query: "meetingID=room1&state=any",
			wantIDs: []string{hashRoom1 + "-1715000000000", hashRoom1 + "-1716000000000"}, wantTotal: 2},
		{name: "room10_not_room1", query: "meetingID=room10", wantIDs: []string{hashRoom10 + "-1716500000000"}, wantTotal: 1},
		{name: "meeting_list", query: "meetingID=room10,physics-101",
			wantIDs: []string{hashRoom10 + "-1716500000000", hashPhysics + "-1717100000000"}, wantTotal: 2},
		{name: "record_id_prefix", query: "recordID=" + hashRoom1[:8] + "&state=deleted", wantIDs: []string{hashRoom1 + "-1715000000000"}, wantTotal: 1},
		{name: "meta_pair_no_recording_matches", query: "meta_bbb-origin=Moodle&meta_gl-listed=true", wantIDs: []string{}, wantTotal: 0},
		{name: "meta_pair_matches", query: "meta_bbb-origin=Moodle&meta_bbb-context-id=47%25", wantIDs: []string{hashPhysics + "-1717100000000", "5c4c974769fe8508d9971b8a0ecf8a834fd5e4d3-1717100500000"}, wantTotal: 2},
		{name: "page_one", query: "limit=2", wantIDs: []string{hashRoom1 + "-1716000000000", hashRoom10 + "-1716500000000"}, wantTotal: 4},
		{name: "page_two", query: "limit=2&offset=2", wantIDs: []string{hashPhysics + "-1717100000000", "5c4c974769fe8508d9971b8a0ecf8a834fd5e4d3-1717100500000"}, wantTotal: 4},
		{name: "partial_last_page", query: "limit=3&offset=3", wantIDs: []string{"5c4c974769fe8508d9971b8a0ecf8a834fd5e4d3-1717100500000"}, wantTotal: 4},
		{name: "offset_past_end", query: "limit=3&offset=10", wantIDs: []string{}, wantTotal: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := bbb.RecordingFilterFromQuery(bbb.ParseQuery(tt.query))
			if err != nil {
				t.Fatalf("filter: %v", err)
			}
			page, total := bbb.ApplyRecordings(all, f)
			if got := recordIDs(page); !slices.Equal(got, tt.wantIDs) {
				t.Errorf("page: got %v, want %v", got, tt.wantIDs)
			}
			if total != tt.wantTotal {
				t.Errorf("total: got %d, want %d", total, tt.wantTotal)
			}
		})
	}
}

func TestApplyRecordings_DoesNotModifyInput(t *testing.T) {
	all := allRecordings(t)
	before := recordIDs(all)
	bbb.ApplyRecordings(all, bbb.RecordingFilter{States: []string{"any"}, Limit: 2})
	if got := recordIDs(all); !slices.Equal(got, before) {
		t.Errorf("input order: got %v, want %v", got, before)
	}
}

func TestApplyRecordings_Dedupe(t *testing.T) {
	a := bbb.Recording{RecordID: "r1", State: "published", StartTime: 5, Raw: []byte("<recording>first</recording>")}
	dup := bbb.Recording{RecordID: "r1", State: "published", StartTime: 5, Raw: []byte("<recording>second</recording>")}
	b := bbb.Recording{RecordID: "r2", State: "published", StartTime: 1}
	page, total := bbb.ApplyRecordings([]bbb.Recording{a, b, dup}, bbb.RecordingFilter{})
	if total != 2 || len(page) != 2 {
		t.Fatalf("got %d of %d, want 2 of 2", len(page), total)
	}
	if got := string(page[1].Raw); got != "<recording>first</recording>" {
		t.Errorf("kept duplicate: got %s, want the first one", got)
	}
	// A duplicate that does not match does not hide a later one that does.
	hidden := bbb.Recording{RecordID: "r3", State: "deleted"}
	shown := bbb.Recording{RecordID: "r3", State: "published"}
	page, total = bbb.ApplyRecordings([]bbb.Recording{hidden, shown}, bbb.RecordingFilter{})
	if total != 1 || page[0].State != "published" {
		t.Errorf("got %d recordings %+v, want the published r3", total, page)
	}
}

// TestApplyRecordings_PagedUnion spreads 30 recordings over 3 servers, in
// each server's own order, and checks that paging 10 at a time yields each
// recording exactly once, in order, with the same total on every page.
func TestApplyRecordings_PagedUnion(t *testing.T) {
	var bodies [][]byte
	want := map[string]bool{}
	for s := range 3 {
		var b strings.Builder
		b.WriteString("<response><returncode>SUCCESS</returncode><recordings>")
		for i := 9; i >= 0; i-- { // newest first, as some servers list them
			id := fmt.Sprintf("%s-%d", bbb.MeetingHash(fmt.Sprintf("course-%d", i)), 1700000000000+int64(s))
			want[id] = true
			// Equal start times across servers exercise the recordID tie-break.
			fmt.Fprintf(&b, "<recording><recordID>%s</recordID><meetingID>course-%d</meetingID><published>true</published>"+
				"<state>published</state><startTime>%d</startTime><endTime>0</endTime><metadata><srv>%d</srv></metadata></recording>",
				id, i, 1700000000000+int64(i%4)*1000, s)
		}
		b.WriteString("</recordings></response>")
		bodies = append(bodies, []byte(b.String()))
	}
	var all []bbb.Recording
	for _, body := range bodies {
		rs, err := bbb.ParseRecordings(body)
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		all = append(all, rs...)
	}
	var got []bbb.Recording
	for offset := 0; offset <= 30; offset += 10 {
		t.Run(fmt.Sprintf("offset_%d", offset), func(t *testing.T) {
			f, _ := bbb.RecordingFilterFromQuery(bbb.ParseQuery(fmt.Sprintf("limit=10&offset=%d", offset)))
			page, total := bbb.ApplyRecordings(all, f)
			if total != 30 {
				t.Errorf("total: got %d, want 30", total)
			}
			if wantLen := min(10, 30-offset); len(page) != wantLen {
				t.Errorf("page size: got %d, want %d", len(page), wantLen)
			}
			xml := bbb.RecordingsXML(page, total, true)
			back, err := bbb.ParseRecordings(xml)
			if err != nil {
				t.Fatalf("re-parse page: %v", err)
			}
			if !slices.Equal(recordIDs(back), recordIDs(page)) {
				t.Errorf("re-parsed page: got %v, want %v", recordIDs(back), recordIDs(page))
			}
			if !bytes.Contains(xml, []byte("</recordings><totalElements>30</totalElements>")) {
				t.Errorf("page XML lacks a top-level totalElements after </recordings>")
			}
			got = append(got, page...)
		})
	}
	seen := map[string]bool{}
	for _, r := range got {
		if seen[r.RecordID] {
			t.Errorf("recording %s appears on two pages", r.RecordID)
		}
		seen[r.RecordID] = true
	}
	if len(seen) != len(want) {
		t.Errorf("union: got %d recordings, want %d", len(seen), len(want))
	}
	if !slices.IsSortedFunc(got, func(a, b bbb.Recording) int {
		if a.StartTime != b.StartTime {
			return int(a.StartTime - b.StartTime)
		}
		return strings.Compare(a.RecordID, b.RecordID)
	}) {
		t.Errorf("pages are not in startTime, recordID order")
	}
}

func TestRecordingsXML(t *testing.T) {
	all := allRecordings(t)
	page, total := bbb.ApplyRecordings(all, bbb.RecordingFilter{})
	tests := []struct {
		name   string
		page   []bbb.Recording
		total  int
		paged  bool
		golden string
		want   string
	}{
		{name: "unpaged", page: page, total: total, golden: "recordings_unpaged.xml"},
		{name: "paged", page: page[:2], total: total, paged: true, golden: "recordings_paged.xml"},
		{name: "empty_unpaged", want: "<response><returncode>SUCCESS</returncode><recordings></recordings><messageKey>noRecordings</messageKey><message>There are no recordings for the meeting(s).</message></response>"},
		{name: "empty_paged", total: 4, paged: true, want: "<response><returncode>SUCCESS</returncode><recordings></recordings><totalElements>4</totalElements><messageKey>noRecordings</messageKey><message>There are no recordings for the meeting(s).</message></response>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := bbb.RecordingsXML(tt.page, tt.total, tt.paged)
			if tt.golden != "" {
				golden(t, tt.golden, got)
			} else if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if err := wellFormed(got); err != nil {
				t.Errorf("not well-formed: %v", err)
			}
			back, err := bbb.ParseRecordings(got)
			if err != nil {
				t.Fatalf("re-parse: %v", err)
			}
			if !slices.Equal(recordIDs(back), recordIDs(tt.page)) {
				t.Errorf("re-parsed: got %v, want %v", recordIDs(back), recordIDs(tt.page))
			}
		})
	}
	t.Run("unknown_elements_survive", func(t *testing.T) {
		got := bbb.RecordingsXML(page, total, false)
		for _, s := range []string{"<protected>true</protected>", "<rawSize>123456789</rawSize>", `<image alt="Slide &quot;2&quot;" height="136" width="176">`,
			"<breakout><parentId>", "<data/>", "<name><![CDATA[Physics 101 – week 1]]></name>"} {
			if !bytes.Contains(got, []byte(s)) {
				t.Errorf("merged answer lost %s", s)
			}
		}
	})
}
