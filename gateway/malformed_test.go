package gateway_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

// serveRaw runs one request through the gateway handler without a
// network, so that requests net/http's client would refuse to send can be
// tried too.
func (h *harness) serveRaw(method, path, rawQuery, contentType string, body []byte) *httptest.ResponseRecorder {
	r := &http.Request{
		Method:     method,
		URL:        &url.URL{Path: path, RawQuery: rawQuery},
		Header:     http.Header{},
		Host:       "lb.example.org",
		RequestURI: path + "?" + rawQuery,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if body != nil {
		r.Body = httpBody(body)
		r.ContentLength = int64(len(body))
	} else {
		r.Body = http.NoBody
	}
	w := httptest.NewRecorder()
	h.gw.ServeHTTP(w, r)
	return w
}

type bodyReader struct{ *bytes.Reader }

func (bodyReader) Close() error { return nil }

func httpBody(b []byte) bodyReader { return bodyReader{bytes.NewReader(b)} }

// checkAnswer fails unless w is a well-formed answer: never a 500; 200
// with a BBB XML envelope, or a 302 with a Location, or a 405 with an
// Allow header and a BBB XML envelope, or a plain 404 for a path outside
// the API.
func checkAnswer(t *testing.T, w *httptest.ResponseRecorder, apiPath bool) {
	t.Helper()
	switch {
	case w.Code >= 500:
		t.Fatalf("got HTTP %d: %s", w.Code, w.Body)
	case w.Code == http.StatusFound:
		if w.Header().Get("Location") == "" {
			t.Fatalf("302 without Location")
		}
	case w.Code == http.StatusMethodNotAllowed:
		if w.Header().Get("Allow") == "" {
			t.Fatalf("405 without Allow")
		}
		if st, err := bbb.ParseStatus(w.Body.Bytes()); err != nil || st.OK() {
			t.Fatalf("405 answer is not BBB FAILED XML: %v: %q", err, w.Body)
		}
	case w.Code == http.StatusNotFound && !apiPath:
	case w.Code == http.StatusOK:
		if _, err := bbb.ParseStatus(w.Body.Bytes()); err != nil {
			t.Fatalf("answer is not BBB XML: %v: %q", err, w.Body)
		}
	default:
		t.Fatalf("got HTTP %d: %s", w.Code, w.Body)
	}
}

func TestMalformedRequests(t *testing.T) {
	h := newHarness(t, 2)
	h.create("mal-room")
	huge := strings.Repeat("x", 1<<20)
	signedQ := func(call, q string) string { return signed(call, q, bbb.SHA256, frontSecret) }
	tests := []struct {
		name   string
		method string
		path   string
		query  string
		ct     string
		body   []byte
	}{
		{name: "junk_call", path: "/bigbluebutton/api/doesNotExist", query: signedQ("doesNotExist", "a=b")},
		{name: "junk_nested_path", path: "/bigbluebutton/api/create/../../etc/passwd", query: "a=b"},
		{name: "double_slash", path: "/bigbluebutton/api//create", query: signedQ("/create", "meetingID=ab")},
		{name: "outside_api", path: "/bigbluebutton/apix/create"},
		{name: "root", path: "/"},
		{name: "index_junk_checksum", path: "/bigbluebutton/api/", query: "checksum=zz&%%%"},
		{name: "bad_escapes", path: "/bigbluebutton/api/create", query: signedQ("create", "meetingID=%zz%&name=%E0%A4%A&%=&&&=")},
		{name: "bad_escape_meeting_id", path: "/bigbluebutton/api/getMeetingInfo", query: signedQ("getMeetingInfo", "meetingID=%ZZroom")},
		{name: "semicolons", path: "/bigbluebutton/api/isMeetingRunning", query: signedQ("isMeetingRunning", "meetingID=a;b;c")},
		{name: "nul_byte", path: "/bigbluebutton/api/getMeetingInfo", query: signedQ("getMeetingInfo", "meetingID=ab%00cd")},
		{name: "invalid_utf8", path: "/bigbluebutton/api/create", query: signedQ("create", "meetingID=%FF%FE%FD&name=%C0%AF")},
		{name: "huge_param", path: "/bigbluebutton/api/getMeetingInfo", query: signedQ("getMeetingInfo", "meetingID="+huge)},
		{name: "huge_name", path: "/bigbluebutton/api/create", query: signedQ("create", "meetingID=huge-room&name="+huge)},
		{name: "huge_join", path: "/bigbluebutton/api/join", query: signedQ("join", "meetingID=mal-room&fullName="+huge[:8000]+"&role=VIEWER")},
		{name: "many_params", path: "/bigbluebutton/api/getMeetingInfo", query: signedQ("getMeetingInfo", strings.Repeat("meetingID=mal-room&", 5000))},
		{name: "duplicate_checksum", path: "/bigbluebutton/api/getMeetings", query: "checksum=a&checksum=b"},
		{name: "checksum_only_empty", path: "/bigbluebutton/api/getMeetings", query: "checksum="},
		{name: "method_put", method: http.MethodPut, path: "/bigbluebutton/api/create", query: signedQ("create", "meetingID=put-room&name=Put")},
		{name: "method_delete", method: http.MethodDelete, path: "/bigbluebutton/api/end", query: signedQ("end", "meetingID=mal-room")},
		{name: "method_head", method: http.MethodHead, path: "/bigbluebutton/api/getMeetings", query: signedQ("getMeetings", "")},
		{name: "post_join", method: http.MethodPost, path: "/bigbluebutton/api/join", query: signedQ("join", "meetingID=mal-room&fullName=A&redirect=false"), ct: "application/x-www-form-urlencoded", body: []byte("role=VIEWER")},
		{name: "post_json", method: http.MethodPost, path: "/bigbluebutton/api/create", query: signedQ("create", "meetingID=json-room&name=J"), ct: "application/json", body: []byte(`{"a":1}`)},
		{name: "post_no_content_type", method: http.MethodPost, path: "/bigbluebutton/api/create", query: signedQ("create", "meetingID=noct-room&name=N"), body: []byte("<modules/>")},
		{name: "post_bad_content_type", method: http.MethodPost, path: "/bigbluebutton/api/create", query: signedQ("create", "meetingID=badct-room&name=N"), ct: ";;;==", body: []byte("<modules/>")},
		{name: "post_empty_body", method: http.MethodPost, path: "/bigbluebutton/api/create", query: signedQ("create", "meetingID=empty-room&name=Empty"), ct: "application/xml", body: []byte{}},
		{name: "post_broken_xml", method: http.MethodPost, path: "/bigbluebutton/api/create", query: signedQ("create", "meetingID=broken-room&name=Broken"), ct: "application/xml", body: []byte("<modules><module")},
		{name: "post_form_bad_escapes", method: http.MethodPost, path: "/bigbluebutton/api/create", ct: "application/x-www-form-urlencoded", body: []byte("meetingID=%zz&name=%%&checksum=%")},
		{name: "post_form_empty", method: http.MethodPost, path: "/bigbluebutton/api/end", ct: "application/x-www-form-urlencoded", body: []byte("&&&")},
		{name: "insert_document_get", path: "/bigbluebutton/api/insertDocument", query: signedQ("insertDocument", "meetingID=mal-room")},
		{name: "insert_document_form", method: http.MethodPost, path: "/bigbluebutton/api/insertDocument", query: signedQ("insertDocument", "meetingID=mal-room"), ct: "application/x-www-form-urlencoded", body: []byte("a=b")},
		{name: "multipart_create", method: http.MethodPost, path: "/bigbluebutton/api/create", query: signedQ("create", "meetingID=mp-room&name=MP"), ct: "multipart/form-data; boundary=x", body: []byte("--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--x--\r\n")},
		{name: "join_bad_error_url", path: "/bigbluebutton/api/join", query: signedQ("join", "meetingID=nope-room&fullName=A&errorRedirectUrl=http%3A%2F%2F%0D%0Aevil")},
		{name: "join_error_url_ctl", path: "/bigbluebutton/api/join", query: "meetingID=nope-room&fullName=A&errorRedirectUrl=https%3A%2F%2Fok.example%2F%0Ax&checksum=00"},
		{name: "join_redirect_garbage", path: "/bigbluebutton/api/join", query: signedQ("join", "meetingID=mal-room&fullName=A&redirect=%ff")},
		{name: "meta_tag_garbage", path: "/bigbluebutton/api/create", query: signedQ("create", "meetingID=tag-room&name=T&meta_server-tag=%21%21%21")},
		{name: "hooks_junk", path: "/bigbluebutton/api/hooks/nope", query: "x=1"},
		{name: "recordings_junk", path: "/bigbluebutton/api/getRecordings", query: "checksum=xyz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			w := h.serveRaw(method, tt.path, tt.query, tt.ct, tt.body)
			if method == http.MethodHead {
				if w.Code >= 500 {
					t.Fatalf("got HTTP %d", w.Code)
				}
				return
			}
			checkAnswer(t, w, strings.HasPrefix(tt.path, "/bigbluebutton/api/") || tt.path == "/bigbluebutton/api")
			if loc := w.Header().Get("Location"); strings.ContainsAny(loc, "\r\n") {
				t.Errorf("Location with a line break: %q", loc)
			}
		})
	}
}

// FuzzGateway_Request feeds arbitrary requests, signed and unsigned,
// through the gateway: it must never answer 500 or anything but BBB XML,
// a redirect, or a 404 outside the API.
func FuzzGateway_Request(f *testing.F) {
	f.Add("getMeetingInfo", "meetingID=fuzz-room", "", []byte(nil), true)
	f.Add("create", "meetingID=fuzz-new&name=Fuzz+Room", "application/xml", []byte("<modules/>"), true)
	f.Add("join", "meetingID=fuzz-room&fullName=A&redirect=false", "", []byte(nil), true)
	f.Add("join", "meetingID=%zz&errorRedirectUrl=https%3A%2F%2Fa.example", "", []byte(nil), false)
	f.Add("end", "meetingID=a,b", "application/x-www-form-urlencoded", []byte("x=%%"), true)
	f.Add("isMeetingRunning", "meetingID=room1", "", []byte(nil), true)
	f.Add("insertDocument", "meetingID=fuzz-room", "text/xml; charset=utf-8", []byte("<?xml version='1.0'?><modules/>"), true)
	f.Add("getMeetings", "", "", []byte(nil), true)
	f.Add("sendChatMessage", "meetingID=fuzz-room&message=%F0%9F%98%80", "", []byte(nil), true)
	f.Add("create", "meetingID=fuzz-tag&name=T&meta_server-tag=none%21", "", []byte(nil), true)
	h := newHarness(f, 2, withConfig(nil))
	h.create("fuzz-room")
	calls := []string{"create", "join", "end", "isMeetingRunning", "getMeetingInfo", "getMeetings", "insertDocument", "sendChatMessage"}
	f.Fuzz(func(t *testing.T, call, query, contentType string, body []byte, sign bool) {
		known := false
		for _, c := range calls {
			known = known || c == call
		}
		if !known || len(query) > 4096 || len(body) > 4096 {
			t.Skip()
		}
		if sign {
			query = signed(call, query, bbb.SHA256, frontSecret)
		}
		method := http.MethodGet
		if body != nil {
			method = http.MethodPost
		}
		w := h.serveRaw(method, bbb.APIPath+call, query, contentType, body)
		checkAnswer(t, w, true)
	})
}
