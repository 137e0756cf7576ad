package fakebbb_test

import (
	"bytes"
	"flag"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/fakebbb"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// okTransport answers every callback with 200 without any network.
type okTransport struct{}

func (okTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}, Request: r}, nil
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatalf("write %s: %v", path, err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s (run with -update to create it): %v", path, err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\ngot:  %s\nwant: %s", name, got, want)
	}
}

// TestGolden walks a deterministic server (fixed seed, clock and URL)
// through the main calls and compares every answer byte for byte.
func TestGolden(t *testing.T) {
	clk := &clock{t: time.Date(2024, 5, 31, 16, 8, 37, 171e6, time.UTC)}
	s := &fakebbb.Server{
		Secret:     testSecret,
		URL:        "https://bbb.example.org",
		Seed:       42,
		Now:        clk.Now,
		HTTPClient: &http.Client{Transport: okTransport{}},
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { _ = s.Close() })
	c := newClient(t, ts.URL, testSecret)

	step := func(name string, r result) {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("%s: got status %d, want 200 (body %s)", name, r.status, r.body)
		}
		golden(t, name, r.body)
	}

	step("index.xml", c.do(http.MethodGet, "/bigbluebutton/api", "", ""))
	step("get_meetings_empty.xml", c.get("getMeetings", ""))
	step("create.xml", c.get("create", "meetingID=room-42&name=Physics+101&attendeePW=ap-secret&moderatorPW=mp-secret"+
		"&record=true&meta_bbb-origin=Greenlight&meta_endCallbackUrl="+url.QueryEscape("https://gl.example.org/meeting_ended")))
	step("create_duplicate.xml", c.get("create", "meetingID=room-42&name=Physics+101"))
	step("create_id_not_unique.xml", c.get("create", "meetingID=room-42&name=Physics+101&attendeePW=x1&moderatorPW=x2"))
	r := c.get("join", "meetingID=room-42&fullName=Ada+Teacher&role=MODERATOR&userID=u-1001&redirect=false"+
		"&userdata-bbb_override_default_locale=de")
	step("join.xml", r)
	u, _ := url.Parse(parse(t, r).URL)
	c.do(http.MethodGet, "/html5client/join?"+u.RawQuery, "", "")
	if err := s.AddParticipants("room-42", 1); err != nil {
		t.Fatalf("add participants: %v", err)
	}
	step("get_meeting_info.xml", c.get("getMeetingInfo", "meetingID=room-42"))
	step("is_meeting_running.xml", c.get("isMeetingRunning", "meetingID=room-42"))
	ids, err := s.CreateBreakouts("room-42", 1)
	if err != nil {
		t.Fatalf("breakouts: %v", err)
	}
	step("get_meeting_info_breakout.xml", c.get("getMeetingInfo", "meetingID="+ids[0]))
	step("get_meetings.xml", c.get("getMeetings", ""))
	step("get_sessions.xml", c.get("getSessions", ""))
	step("send_chat_message.xml", c.get("sendChatMessage", "meetingID=room-42&message=Hello"))
	step("insert_document.xml", c.do(http.MethodPost, "/bigbluebutton/api/insertDocument?"+signQuery("insertDocument", "meetingID=room-42", testSecret),
		"application/xml", `<modules><module name="presentation"><document url="https://files.example.org/a.pdf"/></module></modules>`))

	clk.Set(clk.Now().Add(time.Hour))
	step("end.xml", c.get("end", "meetingID=room-42"))
	waitIdle(t, s)
	step("get_sessions_empty.xml", c.get("getSessions", ""))
	step("get_recordings.xml", c.get("getRecordings", "meetingID=room-42"))
	if _, err := s.AddRecording(fakebbb.Recording{MeetingID: "room-42", Metadata: map[string]string{"bbb-origin": "Greenlight"}}); err != nil {
		t.Fatalf("add recording: %v", err)
	}
	step("get_recordings_paginated.xml", c.get("getRecordings", "meetingID=room-42&limit=1&offset=1"))
	step("get_recordings_empty.xml", c.get("getRecordings", "meetingID=nope"))
	rid := parse(t, c.get("getRecordings", "meetingID=room-42&limit=1")).Recordings[0].RecordID
	step("publish_recordings.xml", c.get("publishRecordings", "recordID="+rid+"&publish=false"))
	step("update_recordings.xml", c.get("updateRecordings", "recordID="+rid+"&meta_gl-listed=true"))
	step("recordings_not_found.xml", c.get("deleteRecordings", "recordID=nope"))

	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.SetBoundary("fakebbb-golden-boundary")
	fw, _ := mw.CreateFormFile("file", "en.vtt")
	_, _ = fw.Write([]byte("WEBVTT\n"))
	_ = mw.Close()
	step("put_recording_text_track.json", c.do(http.MethodPost, "/bigbluebutton/api/putRecordingTextTrack?"+
		signQuery("putRecordingTextTrack", "recordID="+rid+"&kind=subtitles&lang=en-US&label=English", testSecret), mw.FormDataContentType(), b.String()))
	step("get_recording_text_tracks.json", c.get("getRecordingTextTracks", "recordID="+rid))
	step("delete_recordings.xml", c.get("deleteRecordings", "recordID="+rid))

	step("hooks_create.xml", c.get("hooks/create", "callbackURL="+url.QueryEscape("https://hooks.example.org/all")))
	step("hooks_create_meeting.xml", c.get("hooks/create", "callbackURL="+url.QueryEscape("https://hooks.example.org/one")+"&meetingID=room-42&eventID=meeting-created,user-joined"))
	step("hooks_create_duplicate.xml", c.get("hooks/create", "callbackURL="+url.QueryEscape("https://hooks.example.org/all")))
	step("hooks_list.xml", c.get("hooks/list", ""))
	step("hooks_destroy.xml", c.get("hooks/destroy", "hookID=1"))
	step("hooks_destroy_missing.xml", c.get("hooks/destroy", "hookID=1"))

	step("error_checksum.xml", c.do(http.MethodGet, "/bigbluebutton/api/getMeetings?checksum=0000", "", ""))
	step("error_unsupported_request.xml", c.get("getDefaultConfigXML", ""))
}
