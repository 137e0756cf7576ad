package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/fakebbb"
	"github.com/tinyscale/tinyscale/gateway"
)

// addRecordings gives server i one recording for each meeting ID.
func (h *relayHarness) addRecordings(i int, meta map[string]string, meetingIDs ...string) []string {
	h.t.Helper()
	var ids []string
	for _, m := range meetingIDs {
		r, err := h.bbbs[i].AddRecording(fakebbb.Recording{MeetingID: m, Metadata: meta})
		if err != nil {
			h.t.Fatal(err)
		}
		ids = append(ids, r.RecordID)
	}
	return ids
}

// recordings calls getRecordings and returns the answer's recordings and
// totalElements (-1 if absent).
func (h *relayHarness) recordings(kv ...string) ([]bbb.Recording, int, relayAnswer) {
	h.t.Helper()
	a := h.call(bbb.CallGetRecordings, kv...)
	if st := h.status(a); !st.OK() {
		h.t.Fatalf("getRecordings: %s", a)
	}
	recs, err := bbb.ParseRecordings(a.body)
	if err != nil {
		h.t.Fatalf("getRecordings: %v: %s", err, a)
	}
	total := -1
	if s, ok := xmlText(a.body, "totalElements"); ok {
		total, _ = strconv.Atoi(s)
	}
	return recs, total, a
}

// xmlText returns the text of the first <name> element.
func xmlText(body []byte, name string) (string, bool) {
	open, end := "<"+name+">", "</"+name+">"
	i := bytes.Index(body, []byte(open))
	if i < 0 {
		return "", false
	}
	rest := body[i+len(open):]
	j := bytes.Index(rest, []byte(end))
	if j < 0 {
		return "", false
	}
	return string(rest[:j]), true
}

func recordIDs(recs []bbb.Recording) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.RecordID
	}
	return out
}

func sortedIDs(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestGetRecordings_PagedUnion(t *testing.T) {
	h := newRelayHarness(t, 3)
	var want []string
	for i := range 3 {
		var ms []string
		for k := range 10 {
			ms = append(ms, fmt.Sprintf("room-%d-%d", i, k))
		}
		want = append(want, h.addRecordings(i, nil, ms...)...)
	}

	var got []string
	for offset := 0; offset <= 30; offset += 10 {
		recs, total, _ := h.recordings("offset", strconv.Itoa(offset), "limit", "10")
		if total != 30 {
			t.Errorf("offset %d: got totalElements %d, want 30", offset, total)
		}
		wantLen := 10
		if offset == 30 {
			wantLen = 0
		}
		if len(recs) != wantLen {
			t.Errorf("offset %d: got %d recordings, want %d", offset, len(recs), wantLen)
		}
		got = append(got, recordIDs(recs)...)
	}
	if !slices.Equal(sortedIDs(got), sortedIDs(want)) {
		t.Errorf("pages: got %d IDs %v, want exactly the %d recordings %v", len(got), got, len(want), want)
	}

	t.Run("index_learned", func(t *testing.T) {
		for i, fb := range h.bbbs {
			for _, r := range fb.Recordings() {
				sid, err := h.store.RecordingServer(context.Background(), r.RecordID)
				if err != nil || sid != h.ids[i] {
					t.Errorf("recordings index for %s: got (%q, %v), want %s", r.RecordID, sid, err, h.ids[i])
				}
			}
		}
	})

	t.Run("unpaged_has_no_total", func(t *testing.T) {
		recs, total, _ := h.recordings()
		if len(recs) != 30 || total != -1 {
			t.Errorf("got %d recordings and totalElements %d, want 30 and none", len(recs), total)
		}
	})

	t.Run("stable_order", func(t *testing.T) {
		a, _, _ := h.recordings("limit", "100")
		b, _, _ := h.recordings("limit", "100")
		if !slices.Equal(recordIDs(a), recordIDs(b)) {
			t.Errorf("two identical calls gave different orders")
		}
		if !slices.IsSortedFunc(a, func(x, y bbb.Recording) int {
			if x.StartTime != y.StartTime {
				return int(x.StartTime - y.StartTime)
			}
			return strings.Compare(x.RecordID, y.RecordID)
		}) {
			t.Errorf("got order %v, want by start time then recordID", recordIDs(a))
		}
	})
}

func TestGetRecordings_ServerWithMoreThanOnePage(t *testing.T) {
	h := newRelayHarness(t, 2)
	var ms []string
	for k := range 130 {
		ms = append(ms, fmt.Sprintf("big-%03d", k))
	}
	want := h.addRecordings(0, nil, ms...)
	want = append(want, h.addRecordings(1, nil, "small-1", "small-2")...)
	var got []string
	for offset := 0; offset < 132; offset += 50 {
		recs, total, _ := h.recordings("offset", strconv.Itoa(offset), "limit", "50")
		if total != 132 {
			t.Errorf("offset %d: got totalElements %d, want 132", offset, total)
		}
		got = append(got, recordIDs(recs)...)
	}
	if !slices.Equal(sortedIDs(got), sortedIDs(want)) {
		t.Errorf("got %d IDs, want the %d recordings exactly once", len(got), len(want))
	}
}

func TestGetRecordings_ManyIDs(t *testing.T) {
	h := newRelayHarness(t, 3)
	var meetings, recIDs []string
	for k := range 30 {
		m := fmt.Sprintf("course-%02d", k)
		meetings = append(meetings, m)
		recIDs = append(recIDs, h.addRecordings(k%3, nil, m)...)
	}
	// A meeting whose ID extends another's must not match by accident.
	h.addRecordings(1, nil, "course-0")

	tests := []struct {
		name string
		kv   []string
		want []string
	}{
		{"greenlight_25_meetingIDs", []string{"meetingID", strings.Join(meetings[:25], ",")}, recIDs[:25]},
		{"moodle_25_recordIDs", []string{"recordID", strings.Join(recIDs[5:], ",")}, recIDs[5:]},
		{"moodle_25_recordIDs_paged", []string{"recordID", strings.Join(recIDs[5:], ","), "limit", "25"}, recIDs[5:]},
		{"one_meeting", []string{"meetingID", "course-07"}, recIDs[7:8]},
		{"recordID_prefix", []string{"recordID", recIDs[3][:41]}, recIDs[3:4]},
		{"unknown", []string{"meetingID", "nobody"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, _, _ := h.recordings(tt.kv...)
			if got := recordIDs(recs); !slices.Equal(sortedIDs(got), sortedIDs(tt.want)) {
				t.Errorf("got %d recordings %v, want %d %v", len(got), got, len(tt.want), tt.want)
			}
		})
	}
}

func TestGetRecordings_Filters(t *testing.T) {
	h := newRelayHarness(t, 3)
	a1b1 := h.addRecordings(0, map[string]string{"a": "1", "b": "1", "gl-listed": "true"}, "m1")
	a1b2 := h.addRecordings(1, map[string]string{"a": "1", "b": "2"}, "m2")
	a2b1 := h.addRecordings(2, map[string]string{"a": "2", "b": "1", "bbb-context": "course 42"}, "m3")
	unpub, err := h.bbbs[2].AddRecording(fakebbb.Recording{MeetingID: "m4", State: fakebbb.StateUnpublished})
	if err != nil {
		t.Fatal(err)
	}
	proc, err := h.bbbs[1].AddRecording(fakebbb.Recording{MeetingID: "m5", State: fakebbb.StateProcessing})
	if err != nil {
		t.Fatal(err)
	}

	all := slices.Concat(a1b1, a1b2, a2b1)
	tests := []struct {
		name string
		kv   []string
		want []string
	}{
		{"default_states", nil, append(slices.Clone(all), unpub.RecordID)},
		{"state_published", []string{"state", "published"}, all},
		{"state_any", []string{"state", "any"}, append(slices.Clone(all), unpub.RecordID, proc.RecordID)},
		{"meta_a", []string{"meta_a", "1"}, slices.Concat(a1b1, a1b2)},
		{"meta_pair_and", []string{"meta_a", "1", "meta_b", "1"}, a1b1},
		{"meta_pair_no_single_match", []string{"meta_a", "2", "meta_b", "2"}, nil},
		{"meta_wildcard", []string{"meta_bbb-context", "%42"}, a2b1},
		{"meta_key_case", []string{"meta_GL-Listed", "true"}, a1b1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, _, a := h.recordings(tt.kv...)
			if got := recordIDs(recs); !slices.Equal(sortedIDs(got), sortedIDs(tt.want)) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if len(tt.want) == 0 {
				if st := h.status(a); st.MessageKey != "noRecordings" {
					t.Errorf("got messageKey %q, want noRecordings", st.MessageKey)
				}
			}
		})
	}
}

func TestGetRecordings_ServerDown(t *testing.T) {
	tests := []struct {
		name  string
		fault fakebbb.Fault
	}{
		{"error500", fakebbb.FaultError500},
		{"bad_xml", fakebbb.FaultBadXML},
		{"dropped", fakebbb.FaultDrop},
		{"wrong_secret", fakebbb.FaultChecksum},
		{"hung", fakebbb.FaultHang},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newRelayHarness(t, 3, func(c *gateway.Config) { c.FanOutTimeout = 200 * time.Millisecond })
			want := h.addRecordings(0, nil, "a1", "a2")
			h.addRecordings(1, nil, "b1")
			want = append(want, h.addRecordings(2, nil, "c1")...)
			if err := h.bbbs[1].SetFault(tt.fault); err != nil {
				t.Fatal(err)
			}
			recs, total, _ := h.recordings("limit", "10")
			if got := recordIDs(recs); !slices.Equal(sortedIDs(got), sortedIDs(want)) {
				t.Errorf("got %v, want the other servers' %v", got, want)
			}
			if total != len(want) {
				t.Errorf("got totalElements %d, want %d", total, len(want))
			}
		})
	}
	t.Run("all_down", func(t *testing.T) {
		h := newRelayHarness(t, 2)
		for _, fb := range h.bbbs {
			_ = fb.SetFault(fakebbb.FaultError500)
		}
		a := h.call(bbb.CallGetRecordings)
		if st := h.status(a); st.OK() || a.status != http.StatusOK {
			t.Errorf("got %s, want HTTP 200 FAILED", a)
		}
	})
}

func TestRecordingCalls_Routing(t *testing.T) {
	h := newRelayHarness(t, 3)
	var ids []string
	for i := range 3 {
		ids = append(ids, h.addRecordings(i, map[string]string{"k": "v"}, fmt.Sprintf("route-%d", i))...)
	}
	state := func(id string) string {
		for _, fb := range h.bbbs {
			if r, err := fb.Recording(id); err == nil {
				return r.State
			}
		}
		return "missing"
	}
	meta := func(id, k string) string {
		for _, fb := range h.bbbs {
			if r, err := fb.Recording(id); err == nil {
				return r.Metadata[k]
			}
		}
		return "missing"
	}

	t.Run("publish_one_unknown_to_index", func(t *testing.T) {
		// Nothing is indexed yet: tinyscale must find the server itself.
		a := h.call(bbb.CallPublishRecordings, "recordID", ids[2], "publish", "false")
		if st := h.status(a); !st.OK() {
			t.Fatalf("got %s, want SUCCESS", a)
		}
		if v, _ := xmlText(a.body, "published"); v != "false" {
			t.Errorf("got published %q, want false", v)
		}
		if got := state(ids[2]); got != fakebbb.StateUnpublished {
			t.Errorf("got state %q, want unpublished", got)
		}
		if sid, err := h.store.RecordingServer(context.Background(), ids[2]); err != nil || sid != h.ids[2] {
			t.Errorf("index: got (%q, %v), want %s", sid, err, h.ids[2])
		}
	})
	t.Run("publish_list_spanning_servers", func(t *testing.T) {
		a := h.call(bbb.CallPublishRecordings, "recordID", strings.Join(ids, ","), "publish", "false")
		if st := h.status(a); !st.OK() {
			t.Fatalf("got %s, want SUCCESS", a)
		}
		for _, id := range ids {
			if got := state(id); got != fakebbb.StateUnpublished {
				t.Errorf("%s: got state %q, want unpublished", id, got)
			}
		}
		a = h.call(bbb.CallPublishRecordings, "recordID", strings.Join(ids, ","), "publish", "true")
		if st := h.status(a); !st.OK() {
			t.Fatalf("got %s, want SUCCESS", a)
		}
		for _, id := range ids {
			if got := state(id); got != fakebbb.StatePublished {
				t.Errorf("%s: got state %q, want published", id, got)
			}
		}
	})
	t.Run("publish_list_with_unknown_id", func(t *testing.T) {
		a := h.call(bbb.CallPublishRecordings, "recordID", ids[0]+","+bbb.MeetingHash("nope")+"-1,"+ids[1], "publish", "false")
		if st := h.status(a); !st.OK() {
			t.Fatalf("got %s, want SUCCESS (some exist)", a)
		}
		if state(ids[0]) != fakebbb.StateUnpublished || state(ids[1]) != fakebbb.StateUnpublished {
			t.Errorf("got states %q %q, want both unpublished", state(ids[0]), state(ids[1]))
		}
	})
	t.Run("update_spanning_servers", func(t *testing.T) {
		a := h.call(bbb.CallUpdateRecordings, "recordID", ids[0]+","+ids[2], "meta_k", "new")
		if st := h.status(a); !st.OK() {
			t.Fatalf("got %s, want SUCCESS", a)
		}
		if meta(ids[0], "k") != "new" || meta(ids[2], "k") != "new" || meta(ids[1], "k") != "v" {
			t.Errorf("got k = %q %q %q, want new v new", meta(ids[0], "k"), meta(ids[1], "k"), meta(ids[2], "k"))
		}
	})
	t.Run("update_by_form_post", func(t *testing.T) {
		body := []byte("recordID=" + ids[1] + "&meta_k=posted")
		a := h.send(http.MethodPost, h.apiURL(bbb.CallUpdateRecordings, ""), "application/x-www-form-urlencoded", body)
		if st := h.status(a); !st.OK() {
			t.Fatalf("got %s, want SUCCESS", a)
		}
		if got := meta(ids[1], "k"); got != "posted" {
			t.Errorf("got k = %q, want posted", got)
		}
	})
	t.Run("delete_spanning_servers", func(t *testing.T) {
		a := h.call(bbb.CallDeleteRecordings, "recordID", ids[1]+","+ids[2])
		if st := h.status(a); !st.OK() {
			t.Fatalf("got %s, want SUCCESS", a)
		}
		if v, _ := xmlText(a.body, "deleted"); v != "true" {
			t.Errorf("got deleted %q, want true", v)
		}
		if state(ids[1]) != fakebbb.StateDeleted || state(ids[2]) != fakebbb.StateDeleted || state(ids[0]) == fakebbb.StateDeleted {
			t.Errorf("got states %q %q %q, want only the last two deleted", state(ids[0]), state(ids[1]), state(ids[2]))
		}
	})

	errTests := []struct {
		name, call string
		kv         []string
		wantKey    string
	}{
		{"publish_missing_recordID", bbb.CallPublishRecordings, []string{"publish", "true"}, "missingParamRecordID"},
		{"publish_missing_publish", bbb.CallPublishRecordings, []string{"recordID", "x"}, "missingParamPublish"},
		{"publish_unknown", bbb.CallPublishRecordings, []string{"recordID", bbb.MeetingHash("none") + "-1", "publish", "true"}, "notFound"},
		{"publish_unknown_list", bbb.CallPublishRecordings, []string{"recordID", "a,b,c", "publish", "true"}, "notFound"},
		{"delete_missing_recordID", bbb.CallDeleteRecordings, []string{"recordID", ""}, "missingParamRecordID"},
		{"update_missing_recordID", bbb.CallUpdateRecordings, nil, "missingParamRecordID"},
		{"update_unknown", bbb.CallUpdateRecordings, []string{"recordID", "zzz"}, "notFound"},
		{"delete_only_commas", bbb.CallDeleteRecordings, []string{"recordID", ",,"}, "missingParamRecordID"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			a := h.call(tt.call, tt.kv...)
			st := h.status(a)
			if st.OK() || st.MessageKey != tt.wantKey || a.status != http.StatusOK {
				t.Errorf("got %s, want HTTP 200 FAILED %s", a, tt.wantKey)
			}
		})
	}
}

func TestRecordingCalls_OneServerDown(t *testing.T) {
	h := newRelayHarness(t, 2)
	a := h.addRecordings(0, nil, "up-1")
	b := h.addRecordings(1, nil, "down-1")
	h.recordings() // index both
	_ = h.bbbs[1].SetFault(fakebbb.FaultError500)
	ans := h.call(bbb.CallPublishRecordings, "recordID", a[0]+","+b[0], "publish", "false")
	if st := h.status(ans); !st.OK() {
		t.Errorf("got %s, want SUCCESS from the server that is up", ans)
	}
	ans = h.call(bbb.CallDeleteRecordings, "recordID", b[0])
	if st := h.status(ans); st.OK() || ans.status != http.StatusOK {
		t.Errorf("got %s, want HTTP 200 FAILED for the server that is down", ans)
	}
}

// multipartTrack builds a putRecordingTextTrack body.
func multipartTrack(t *testing.T, fields map[string]string, file []byte) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, k := range sortedIDs(relayMapKeys(fields)) {
		_ = mw.WriteField(k, fields[k])
	}
	if file != nil {
		fw, err := mw.CreateFormFile("file", "captions.vtt")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write(file)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

func relayMapKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func jsonStatus(t *testing.T, a relayAnswer) (returncode, key string) {
	t.Helper()
	var v struct {
		Response struct {
			ReturnCode string `json:"returncode"`
			MessageKey string `json:"messageKey"`
		} `json:"response"`
	}
	if err := json.Unmarshal(a.body, &v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, a)
	}
	return v.Response.ReturnCode, v.Response.MessageKey
}

func TestTextTracks(t *testing.T) {
	h := newRelayHarness(t, 3)
	ids := h.addRecordings(2, nil, "captioned")
	id := ids[0]
	vtt := []byte("WEBVTT\n\n00:00.000 --> 00:01.000\nHallo Welt – ünïcödé\r\n\x00\xff binary tail")

	t.Run("put_multipart_arrives_intact", func(t *testing.T) {
		body, ct := multipartTrack(t, map[string]string{"note": "x"}, vtt)
		a := h.send(http.MethodPost, h.apiURL(bbb.CallPutRecordingTextTrack, relayQuery("recordID", id, "kind", "subtitles", "lang", "de-DE", "label", "Deutsch")), ct, body)
		if rc, key := jsonStatus(t, a); rc != "SUCCESS" {
			t.Fatalf("got %s %s: %s, want SUCCESS", rc, key, a)
		}
		r, err := h.bbbs[2].Recording(id)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.TextTracks) != 1 || !bytes.Equal(r.TextTracks[0].Data, vtt) || r.TextTracks[0].Label != "Deutsch" {
			t.Errorf("got tracks %+v, want the uploaded file byte for byte", r.TextTracks)
		}
	})
	t.Run("recordID_in_multipart_field", func(t *testing.T) {
		body, ct := multipartTrack(t, map[string]string{"recordID": id, "kind": "captions", "lang": "en"}, []byte("WEBVTT\n"))
		a := h.send(http.MethodPost, h.apiURL(bbb.CallPutRecordingTextTrack, ""), ct, body)
		if rc, key := jsonStatus(t, a); rc != "SUCCESS" {
			t.Fatalf("got %s %s: %s, want SUCCESS", rc, key, a)
		}
	})
	t.Run("get_tracks", func(t *testing.T) {
		a := h.call(bbb.CallGetRecordingTextTracks, "recordID", id)
		if rc, _ := jsonStatus(t, a); rc != "SUCCESS" || !strings.Contains(string(a.body), `"de-DE"`) {
			t.Errorf("got %s, want SUCCESS with the de-DE track", a)
		}
		if ct := a.header.Get("Content-Type"); !strings.Contains(ct, "json") {
			t.Errorf("got Content-Type %q, want JSON", ct)
		}
	})

	errTests := []struct {
		name    string
		call    string
		kv      []string
		json    bool
		wantKey string
	}{
		{"get_missing_recordID_is_xml", bbb.CallGetRecordingTextTracks, nil, false, "missingParamRecordID"},
		{"get_unknown_is_json", bbb.CallGetRecordingTextTracks, []string{"recordID", "nope"}, true, "noRecordings"},
		{"put_missing_recordID_is_json", bbb.CallPutRecordingTextTrack, []string{"kind", "subtitles"}, true, "paramError"},
		{"put_unknown_is_json", bbb.CallPutRecordingTextTrack, []string{"recordID", "nope", "kind", "subtitles", "lang", "en"}, true, "noRecordings"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			var a relayAnswer
			if tt.call == bbb.CallPutRecordingTextTrack {
				body, ct := multipartTrack(t, nil, []byte("WEBVTT\n"))
				a = h.send(http.MethodPost, h.apiURL(tt.call, relayQuery(tt.kv...)), ct, body)
			} else {
				a = h.call(tt.call, tt.kv...)
			}
			if tt.json {
				if rc, key := jsonStatus(t, a); rc != "FAILED" || key != tt.wantKey {
					t.Errorf("got %s, want JSON FAILED %s", a, tt.wantKey)
				}
				return
			}
			if st := h.status(a); st.OK() || st.MessageKey != tt.wantKey {
				t.Errorf("got %s, want XML FAILED %s", a, tt.wantKey)
			}
		})
	}
}
