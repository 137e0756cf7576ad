package fakebbb_test

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/fakebbb"
)

func sha1Hex(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// recordingsFixture stores recordings of three meetings with metadata.
func recordingsFixture(t *testing.T, s *fakebbb.Server) map[string][]fakebbb.Recording {
	t.Helper()
	out := map[string][]fakebbb.Recording{}
	add := func(meeting string, n int, meta map[string]string) {
		recs, err := s.AddRecordings(meeting, n, meta)
		if err != nil {
			t.Fatalf("add recordings: %v", err)
		}
		out[meeting] = append(out[meeting], recs...)
	}
	add("course-1", 2, map[string]string{"bbb-origin": "Moodle", "bbb-context": "Physics 101"})
	add("course-2", 1, map[string]string{"bbb-origin": "Greenlight", "gl-listed": "true"})
	add("course-3", 1, nil)
	for _, st := range []string{fakebbb.StateUnpublished, fakebbb.StateProcessing, fakebbb.StateDeleted} {
		r, err := s.AddRecording(fakebbb.Recording{MeetingID: "course-4", State: st})
		if err != nil {
			t.Fatalf("add recording: %v", err)
		}
		out["course-4"] = append(out["course-4"], r)
	}
	return out
}

func TestServer_GetRecordings(t *testing.T) {
	s, c := testServer(t)
	recs := recordingsFixture(t, s)
	id := func(m string, i int) string { return recs[m][i].RecordID }
	tests := []struct {
		name  string
		query string
		want  []string
		total string
	}{
		{"all_default_states", "", []string{id("course-1", 0), id("course-1", 1), id("course-2", 0), id("course-3", 0), id("course-4", 0)}, ""},
		{"meeting_id", "meetingID=course-1", []string{id("course-1", 0), id("course-1", 1)}, ""},
		{"meeting_id_list", "meetingID=course-2,course-3", []string{id("course-2", 0), id("course-3", 0)}, ""},
		{"record_id_exact", "recordID=" + id("course-2", 0), []string{id("course-2", 0)}, ""},
		{"record_id_prefix", "recordID=" + sha1Hex("course-1"), []string{id("course-1", 0), id("course-1", 1)}, ""},
		{"record_id_wins_over_meeting_id", "recordID=" + id("course-3", 0) + "&meetingID=course-1", []string{id("course-3", 0)}, ""},
		{"state_any", "meetingID=course-4&state=any", []string{id("course-4", 0), id("course-4", 1), id("course-4", 2)}, ""},
		{"state_processing", "state=processing", []string{id("course-4", 1)}, ""},
		{"state_deleted", "state=deleted", []string{id("course-4", 2)}, ""},
		{"state_list", "meetingID=course-4&state=processing,unpublished", []string{id("course-4", 0), id("course-4", 1)}, ""},
		{"meta_exact", "meta_bbb-origin=Moodle", []string{id("course-1", 0), id("course-1", 1)}, ""},
		{"meta_key_case", "meta_BBB-Origin=Greenlight", []string{id("course-2", 0)}, ""},
		{"meta_prefix", "meta_bbb-context=Phys%25", []string{id("course-1", 0), id("course-1", 1)}, ""},
		{"meta_suffix", "meta_bbb-context=%25101", []string{id("course-1", 0), id("course-1", 1)}, ""},
		{"meta_contains", "meta_bbb-origin=%25ee%25", []string{id("course-2", 0)}, ""},
		{"meta_all_must_match", "meta_bbb-origin=Moodle&meta_gl-listed=true", nil, ""},
		{"meta_missing_key", "meta_nothing=x", nil, ""},
		{"limit", "limit=2", []string{id("course-1", 0), id("course-1", 1)}, "5"},
		{"limit_offset", "limit=2&offset=2", []string{id("course-2", 0), id("course-3", 0)}, "5"},
		{"offset_past_end", "limit=2&offset=10", nil, ""},
		{"offset_without_limit", "offset=4", []string{id("course-1", 0), id("course-1", 1), id("course-2", 0), id("course-3", 0), id("course-4", 0)}, ""},
		{"unknown_meeting", "meetingID=nope", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := ""
			if len(tt.want) == 0 {
				key = "noRecordings"
			}
			a := wantResult(t, c.get("getRecordings", tt.query), "SUCCESS", key)
			var got []string
			for _, r := range a.Recordings {
				got = append(got, r.RecordID)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if a.TotalElements != tt.total {
				t.Errorf("got totalElements %q, want %q", a.TotalElements, tt.total)
			}
		})
	}
	t.Run("bad_checksum", func(t *testing.T) {
		a := wantResult(t, c.do(http.MethodGet, "/bigbluebutton/api/getRecordings?checksum=nope", "", ""), "FAILED", "checksumError")
		if a.Message == "" {
			t.Errorf("got empty message")
		}
	})
}

func TestServer_PublishRecordings(t *testing.T) {
	s, c := testServer(t)
	recs := recordingsFixture(t, s)
	pub, unpub, deleted := recs["course-1"][0].RecordID, recs["course-4"][0].RecordID, recs["course-4"][2].RecordID
	tests := []struct {
		name, query, code, key, wantState string
		id                                string
	}{
		{"unpublish", "recordID=" + pub + "&publish=false", "SUCCESS", "", fakebbb.StateUnpublished, pub},
		{"publish", "recordID=" + unpub + "&publish=true", "SUCCESS", "", fakebbb.StatePublished, unpub},
		{"list_with_unknown", "recordID=nope," + pub + "&publish=true", "SUCCESS", "", fakebbb.StatePublished, pub},
		{"unknown", "recordID=nope&publish=true", "FAILED", "notFound", "", ""},
		{"deleted_not_found", "recordID=" + deleted + "&publish=true", "FAILED", "notFound", fakebbb.StateDeleted, deleted},
		{"missing_record_id", "publish=true", "FAILED", "missingParamRecordID", "", ""},
		{"missing_publish", "recordID=" + pub, "FAILED", "missingParamPublish", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantResult(t, c.get("publishRecordings", tt.query), tt.code, tt.key)
			if tt.id == "" {
				return
			}
			r, err := s.Recording(tt.id)
			if err != nil {
				t.Fatalf("recording: %v", err)
			}
			if r.State != tt.wantState {
				t.Errorf("got state %q, want %q", r.State, tt.wantState)
			}
		})
	}
}

func TestServer_DeleteRecordings(t *testing.T) {
	s, c := testServer(t)
	recs := recordingsFixture(t, s)
	id := recs["course-2"][0].RecordID
	wantResult(t, c.get("deleteRecordings", "recordID="+id), "SUCCESS", "")
	wantResult(t, c.get("deleteRecordings", "recordID="+id), "FAILED", "notFound")
	wantResult(t, c.get("deleteRecordings", ""), "FAILED", "missingParamRecordID")
	wantResult(t, c.get("getRecordings", "meetingID=course-2"), "SUCCESS", "noRecordings")
	a := wantResult(t, c.get("getRecordings", "meetingID=course-2&state=deleted"), "SUCCESS", "")
	if len(a.Recordings) != 1 || a.Recordings[0].State != "deleted" {
		t.Errorf("got %+v, want the deleted recording", a.Recordings)
	}
}

func TestServer_UpdateRecordings(t *testing.T) {
	s, c := testServer(t)
	recs := recordingsFixture(t, s)
	id := recs["course-1"][0].RecordID
	tests := []struct {
		name, query, code, key string
		want                   map[string]string
	}{
		{"set_and_add", "recordID=" + id + "&meta_bbb-context=Chemistry&meta_gl-listed=false&protect=true", "SUCCESS", "", map[string]string{"bbb-origin": "Moodle", "bbb-context": "Chemistry", "gl-listed": "false"}},
		{"empty_removes", "recordID=" + id + "&meta_gl-listed=", "SUCCESS", "", map[string]string{"bbb-origin": "Moodle", "bbb-context": "Chemistry"}},
		{"unknown", "recordID=nope&meta_x=y", "FAILED", "notFound", nil},
		{"missing", "meta_x=y", "FAILED", "missingParamRecordID", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantResult(t, c.get("updateRecordings", tt.query), tt.code, tt.key)
			if tt.want == nil {
				return
			}
			r, _ := s.Recording(id)
			if len(r.Metadata) != len(tt.want) {
				t.Errorf("got metadata %v, want %v", r.Metadata, tt.want)
			}
			for k, v := range tt.want {
				if r.Metadata[k] != v {
					t.Errorf("metadata %s: got %q, want %q", k, r.Metadata[k], v)
				}
			}
		})
	}
}

func multipartBody(t *testing.T, file string, withFile bool) (string, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if withFile {
		fw, err := mw.CreateFormFile("file", "captions.vtt")
		if err != nil {
			t.Fatalf("create form file: %v", err)
		}
		_, _ = fw.Write([]byte(file))
	}
	_ = mw.WriteField("note", "x")
	_ = mw.Close()
	return mw.FormDataContentType(), b.String()
}

func TestServer_TextTracks(t *testing.T) {
	s, c := testServer(t)
	recs := recordingsFixture(t, s)
	id := recs["course-3"][0].RecordID
	const vtt = "WEBVTT\n\n00:00.000 --> 00:01.000\nHello\n"
	put := func(query string, withFile bool, file string) map[string]any {
		t.Helper()
		ct, body := multipartBody(t, file, withFile)
		q := signQuery("putRecordingTextTrack", query, testSecret)
		r := c.do(http.MethodPost, "/bigbluebutton/api/putRecordingTextTrack?"+q, ct, body)
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("got %d %q, want 200 application/json", r.status, r.header.Get("Content-Type"))
		}
		var out struct{ Response map[string]any }
		if err := json.Unmarshal([]byte(r.body), &out); err != nil {
			t.Fatalf("parse %q: %v", r.body, err)
		}
		return out.Response
	}
	tests := []struct {
		name     string
		query    string
		withFile bool
		file     string
		code     string
		key      string
	}{
		{"upload", "recordID=" + id + "&kind=subtitles&lang=en-US&label=English", true, vtt, "SUCCESS", "upload_text_track_success"},
		{"upload_second", "recordID=" + id + "&kind=captions&lang=pt-BR", true, vtt, "SUCCESS", "upload_text_track_success"},
		{"missing_record_id", "kind=subtitles&lang=en-US", true, vtt, "FAILED", "paramError"},
		{"missing_kind", "recordID=" + id + "&lang=en-US", true, vtt, "FAILED", "paramError"},
		{"bad_kind", "recordID=" + id + "&kind=karaoke&lang=en-US", true, vtt, "FAILED", "invalidKind"},
		{"bad_lang", "recordID=" + id + "&kind=subtitles&lang=e%21", true, vtt, "FAILED", "invalidLang"},
		{"empty_file", "recordID=" + id + "&kind=subtitles&lang=de", true, "", "FAILED", "empty_uploaded_text_track"},
		{"unknown_recording", "recordID=nope&kind=subtitles&lang=en-US", true, vtt, "FAILED", "noRecordings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := put(tt.query, tt.withFile, tt.file)
			if got["returncode"] != tt.code || got["messageKey"] != tt.key {
				t.Errorf("got %v, want %s/%s", got, tt.code, tt.key)
			}
		})
	}
	r := c.get("getRecordingTextTracks", "recordID="+id)
	var tracks struct {
		Response struct {
			ReturnCode string
			Tracks     []struct{ Href, Kind, Label, Lang, Source string }
		}
	}
	if err := json.Unmarshal([]byte(r.body), &tracks); err != nil {
		t.Fatalf("parse %q: %v", r.body, err)
	}
	if tracks.Response.ReturnCode != "SUCCESS" || len(tracks.Response.Tracks) != 2 {
		t.Fatalf("got %s, want 2 tracks", r.body)
	}
	tr := tracks.Response.Tracks[0]
	if tr.Kind != "subtitles" || tr.Lang != "en-US" || tr.Label != "English" || tr.Source != "upload" || !strings.HasPrefix(tr.Href, s.URL+"/textTrack/") {
		t.Errorf("got track %+v, want subtitles en-US English upload on %s", tr, s.URL)
	}
	// No file part deletes the track.
	if got := put("recordID="+id+"&kind=captions&lang=pt-BR", false, ""); got["returncode"] != "SUCCESS" {
		t.Errorf("got %v, want SUCCESS", got)
	}
	if rec, _ := s.Recording(id); len(rec.TextTracks) != 1 || string(rec.TextTracks[0].Data) != vtt {
		t.Errorf("got tracks %+v, want the en-US one", rec.TextTracks)
	}

	t.Run("get_errors", func(t *testing.T) {
		wantResult(t, c.get("getRecordingTextTracks", ""), "FAILED", "missingParamRecordID")
		r := c.get("getRecordingTextTracks", "recordID=nope")
		if want := `{"response":{"returncode":"FAILED","messageKey":"noRecordings","message":"No recording found"}}`; r.body != want {
			t.Errorf("got %s, want %s", r.body, want)
		}
		q := "recordID=" + url.QueryEscape(id) + "&checksum=bad"
		wantResult(t, c.do(http.MethodPost, "/bigbluebutton/api/putRecordingTextTrack?"+q, "", ""), "FAILED", "checksumError")
	})
}

func TestServer_RecordedMeetingProducesRecording(t *testing.T) {
	s, c := testServer(t)
	c.create(t, "rec", "record=true&meta_bbb-origin=Greenlight")
	if err := s.AddParticipants("rec", 2); err != nil {
		t.Fatalf("add participants: %v", err)
	}
	a := wantResult(t, c.get("getMeetingInfo", "meetingID=rec"), "SUCCESS", "")
	wantResult(t, c.get("end", "meetingID=rec"), "SUCCESS", "sentEndMeetingRequest")
	waitIdle(t, s)
	got := wantResult(t, c.get("getRecordings", "meetingID=rec"), "SUCCESS", "")
	if len(got.Recordings) != 1 {
		t.Fatalf("got %d recordings, want 1", len(got.Recordings))
	}
	r := got.Recordings[0]
	if r.RecordID != a.InternalMeetingID || r.State != "published" {
		t.Errorf("got %s/%s, want %s/published", r.RecordID, r.State, a.InternalMeetingID)
	}
	if want := s.URL + "/playback/presentation/2.3/" + a.InternalMeetingID; r.URL != want {
		t.Errorf("got playback URL %q, want %q", r.URL, want)
	}
	if !strings.Contains(r.Metadata.Inner, "<bbb-origin>Greenlight</bbb-origin>") {
		t.Errorf("got metadata %q, want bbb-origin", r.Metadata.Inner)
	}
	snap, _ := s.Recording(r.RecordID)
	if snap.Participants != 2 {
		t.Errorf("got %d participants, want 2", snap.Participants)
	}
}

func TestServer_RecordingDelay(t *testing.T) {
	s, c := testServer(t, func(s *fakebbb.Server) { s.RecordingDelay = 1 << 40 })
	c.create(t, "slow", "record=true")
	if err := s.EndMeeting("slow"); err != nil {
		t.Fatalf("end: %v", err)
	}
	wantResult(t, c.get("getRecordings", "meetingID=slow"), "SUCCESS", "noRecordings")
	a := wantResult(t, c.get("getRecordings", "meetingID=slow&state=processing"), "SUCCESS", "")
	if len(a.Recordings) != 1 {
		t.Errorf("got %d processing recordings, want 1", len(a.Recordings))
	}
	// Close drops the pending publication without waiting for it.
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	waitIdle(t, s)
}

func TestServer_AddRecording_Errors(t *testing.T) {
	s := &fakebbb.Server{}
	tests := []struct {
		name string
		rec  fakebbb.Recording
	}{
		{"no_meeting_id", fakebbb.Recording{}},
		{"bad_state", fakebbb.Recording{MeetingID: "m", State: "lost"}},
		{"bad_meta_key", fakebbb.Recording{MeetingID: "m", Metadata: map[string]string{"a_b": "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.AddRecording(tt.rec); err == nil {
				t.Errorf("got nil error, want one")
			}
		})
	}
	r, err := s.AddRecording(fakebbb.Recording{MeetingID: "m", RecordID: "r-1"})
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	if _, err := s.AddRecording(r); err == nil {
		t.Errorf("got nil error for a duplicate record ID, want one")
	}
}
