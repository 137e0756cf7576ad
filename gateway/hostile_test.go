package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/fakebbb"
	"github.com/tinyscale/tinyscale/gateway"
)

// hostileCalls are the calls the hostile tests throw requests at: every
// call tinyscale answers, one it does not, and the index.
var hostileCalls = []string{
	bbb.CallCreate, bbb.CallJoin, bbb.CallEnd, bbb.CallIsMeetingRunning, bbb.CallGetMeetingInfo,
	bbb.CallGetMeetings, bbb.CallInsertDocument, bbb.CallSendChatMessage, bbb.CallGetRecordings,
	bbb.CallPublishRecordings, bbb.CallUpdateRecordings, bbb.CallDeleteRecordings,
	bbb.CallGetRecordingTextTracks, bbb.CallPutRecordingTextTrack,
	bbb.CallHooksCreate, bbb.CallHooksList, bbb.CallHooksDestroy, "getSessions", "",
}

// checkHostileAnswer fails unless w is an answer a BBB client can take:
// never 5xx; 200 with BBB XML (or, for the text-track calls, BBB's JSON
// envelope), a 302 with a Location free of line breaks, or a 405 with
// FAILED XML; and no secret anywhere in it.
func checkHostileAnswer(t *testing.T, h *harness, call string, w *httptest.ResponseRecorder) {
	t.Helper()
	body := w.Body.Bytes()
	for _, s := range append([]string{frontSecret}, h.secret...) {
		if bytes.Contains(body, []byte(s)) || strings.Contains(fmt.Sprint(w.Header()), s) {
			t.Fatalf("answer carries a secret: HTTP %d %.300s", w.Code, body)
		}
	}
	switch w.Code {
	case http.StatusFound:
		loc := w.Header().Get("Location")
		if loc == "" || strings.ContainsAny(loc, "\r\n") {
			t.Fatalf("302 with Location %q", loc)
		}
		return
	case http.StatusMethodNotAllowed, http.StatusOK:
	default:
		t.Fatalf("got HTTP %d: %.300s", w.Code, body)
	}
	if w.Code == http.StatusOK && (call == bbb.CallGetRecordingTextTracks || call == bbb.CallPutRecordingTextTrack) && bytes.HasPrefix(body, []byte("{")) {
		var v struct {
			Response struct {
				ReturnCode string `json:"returncode"`
			} `json:"response"`
		}
		if err := json.Unmarshal(body, &v); err != nil || v.Response.ReturnCode == "" {
			t.Fatalf("answer is not BBB JSON: %v: %.300s", err, body)
		}
		return
	}
	st, err := bbb.ParseStatus(body)
	if err != nil {
		t.Fatalf("HTTP %d answer is not BBB XML: %v: %.300s", w.Code, err, body)
	}
	if w.Code == http.StatusMethodNotAllowed && st.OK() {
		t.Fatalf("405 with SUCCESS")
	}
}

// TestHostile_FullStack throws hostile requests at tinyscale in front of
// two fake BBB servers while the server holding the meeting and the
// recordings misbehaves in every way fakebbb can (HTTP 500, garbage XML,
// checksumError, dropped connections, hanging until tinyscale's
// timeouts). Every answer must be one a BBB client can take, nothing may
// leak a secret (the harness also checks the logs), and no goroutine may
// outlive the test (TestMain).
func TestHostile_FullStack(t *testing.T) {
	h := newHarness(t, 2, withConfig(func(c *gateway.Config) {
		c.BackendTimeout = 300 * time.Millisecond
		c.FanOutTimeout = 300 * time.Millisecond
		c.NegativeTTL = -1
	}))
	i := h.create("hostile-room")
	recs, err := h.bbbs[i].AddRecordings("hostile-room", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := h.bbbs[1-i].AddRecordings("hostile-other", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	recIDs := recs[0].RecordID + "," + recs[1].RecordID + "," + other[0].RecordID
	var many []string
	for k := range 300 {
		many = append(many, fmt.Sprintf("%040x-%d", k, 1700000000000+k))
	}
	manyIDs := strings.Join(append(many, recs[0].RecordID), ",")
	huge := strings.Repeat("x", 1<<20)
	sq := func(call, q string) string { return signed(call, q, bbb.SHA256, frontSecret) }
	multipart := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.vtt\"\r\nContent-Type: text/vtt\r\n\r\nWEBVTT\r\n--b--\r\n"
	type req struct {
		name, method, call, query, ct, body string
	}
	reqs := []req{
		{name: "create_existing", call: bbb.CallCreate, query: sq(bbb.CallCreate, "meetingID=hostile-room&name=Hostile+room")},
		{name: "create_new", call: bbb.CallCreate, query: sq(bbb.CallCreate, "meetingID=hostile-new&name=Hostile+new")},
		{name: "create_bad_xml", method: http.MethodPost, call: bbb.CallCreate, query: sq(bbb.CallCreate, "meetingID=hostile-xml&name=XML+room"), ct: "text/xml", body: "<modules><module name='presentation'><document url='http://a/b.pdf'"},
		{name: "create_xml_bomb", method: http.MethodPost, call: bbb.CallCreate, query: sq(bbb.CallCreate, "meetingID=hostile-bomb&name=Bomb+room"), ct: "application/xml", body: `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><modules>&b;</modules>`},
		{name: "create_unicode_ids", call: bbb.CallCreate, query: sq(bbb.CallCreate, "meetingID=%E2%9C%93+caf%C3%A9+%F0%9F%98%80&name=%00%01%02")},
		{name: "create_255_chars", call: bbb.CallCreate, query: sq(bbb.CallCreate, "meetingID="+strings.Repeat("%C3%A9", 255)+"&name=Long")},
		{name: "create_comma", call: bbb.CallCreate, query: sq(bbb.CallCreate, "meetingID=a%2Cb&name=Comma")},
		{name: "create_nul", call: bbb.CallCreate, query: sq(bbb.CallCreate, "meetingID=ab%00cd&name=Nul+room")},
		{name: "create_thousands_of_params", call: bbb.CallCreate, query: sq(bbb.CallCreate, "meetingID=hostile-params&name=P"+strings.Repeat("&meta_x=1", 4000))},
		{name: "create_huge_meta", call: bbb.CallCreate, query: sq(bbb.CallCreate, "meetingID=hostile-huge&name=H&meta_bbb-recording-ready-url=http%3A%2F%2Fa.example%2F"+huge[:100000])},
		{name: "create_meta_ssrf", call: bbb.CallCreate, query: sq(bbb.CallCreate, "meetingID=hostile-ssrf&name=S&meta_bbb-recording-ready-url=http%3A%2F%2F169.254.169.254%2Flatest&meetingEndedURL=file%3A%2F%2F%2Fetc%2Fpasswd")},
		{name: "form_create_body_only", method: http.MethodPost, call: bbb.CallCreate, ct: "application/x-www-form-urlencoded", body: "meetingID=hostile-form&name=Form&checksum=" + digest(bbb.SHA1, "create"+frontSecret)},
		{name: "form_garbage", method: http.MethodPost, call: bbb.CallEnd, ct: "application/x-www-form-urlencoded", body: "%%%&&=&checksum=%zz"},
		{name: "multipart_no_boundary", method: http.MethodPost, call: bbb.CallCreate, query: sq(bbb.CallCreate, "meetingID=hostile-mp&name=MP"), ct: "multipart/form-data", body: multipart},
		{name: "join_known", call: bbb.CallJoin, query: sq(bbb.CallJoin, "meetingID=hostile-room&fullName=A&role=VIEWER")},
		{name: "join_xml", call: bbb.CallJoin, query: sq(bbb.CallJoin, "meetingID=hostile-room&fullName=A&role=VIEWER&redirect=false")},
		{name: "join_crlf_error_url", call: bbb.CallJoin, query: "meetingID=nope-room&fullName=A&errorRedirectUrl=https%3A%2F%2Fa.example%2F%0D%0ASet-Cookie%3A+x%3D1&checksum=bad"},
		{name: "info", call: bbb.CallGetMeetingInfo, query: sq(bbb.CallGetMeetingInfo, "meetingID=hostile-room")},
		{name: "running", call: bbb.CallIsMeetingRunning, query: sq(bbb.CallIsMeetingRunning, "meetingID=hostile-room")},
		{name: "insert_document", method: http.MethodPost, call: bbb.CallInsertDocument, query: sq(bbb.CallInsertDocument, "meetingID=hostile-room"), ct: "application/xml", body: "<modules><module name=\"presentation\"><document url=\"http://a/b.pdf\"/></module></modules>"},
		{name: "insert_document_garbage", method: http.MethodPost, call: bbb.CallInsertDocument, query: sq(bbb.CallInsertDocument, "meetingID=hostile-room"), ct: "application/xml", body: "\x00\xff<"},
		{name: "chat", call: bbb.CallSendChatMessage, query: sq(bbb.CallSendChatMessage, "meetingID=hostile-room&message="+huge[:600])},
		{name: "meetings", call: bbb.CallGetMeetings, query: sq(bbb.CallGetMeetings, "")},
		{name: "recordings_all", call: bbb.CallGetRecordings, query: sq(bbb.CallGetRecordings, "")},
		{name: "recordings_paged", call: bbb.CallGetRecordings, query: sq(bbb.CallGetRecordings, "offset=-5&limit=999999999999&state=any&meta_x=%25")},
		{name: "recordings_many_ids", call: bbb.CallGetRecordings, query: sq(bbb.CallGetRecordings, "recordID="+manyIDs)},
		{name: "publish_spanning", call: bbb.CallPublishRecordings, query: sq(bbb.CallPublishRecordings, "recordID="+recIDs+"&publish=false")},
		{name: "publish_many", call: bbb.CallPublishRecordings, query: sq(bbb.CallPublishRecordings, "recordID="+manyIDs+"&publish=true")},
		{name: "update_spanning", call: bbb.CallUpdateRecordings, query: sq(bbb.CallUpdateRecordings, "recordID="+recIDs+"&meta_a=b")},
		{name: "delete_commas_only", call: bbb.CallDeleteRecordings, query: sq(bbb.CallDeleteRecordings, "recordID=,,,%2C%2C")},
		{name: "text_tracks", call: bbb.CallGetRecordingTextTracks, query: sq(bbb.CallGetRecordingTextTracks, "recordID="+recs[0].RecordID)},
		{name: "put_text_track", method: http.MethodPost, call: bbb.CallPutRecordingTextTrack, query: sq(bbb.CallPutRecordingTextTrack, "recordID="+recs[0].RecordID+"&kind=subtitles&lang=en"), ct: "multipart/form-data; boundary=b", body: multipart},
		{name: "put_text_track_broken_multipart", method: http.MethodPost, call: bbb.CallPutRecordingTextTrack, query: sq(bbb.CallPutRecordingTextTrack, "kind=subtitles&lang=en"), ct: "multipart/form-data; boundary=b", body: "--b\r\nContent-Disposition: form-data; name=\"recordID\"\r\n\r\n" + recs[0].RecordID},
		{name: "hooks_create", call: bbb.CallHooksCreate, query: sq(bbb.CallHooksCreate, "callbackURL=http%3A%2F%2F127.0.0.1%3A1%2Fhook&meetingID=hostile-room&getRaw=maybe")},
		{name: "hooks_list", call: bbb.CallHooksList, query: sq(bbb.CallHooksList, "meetingID=hostile-room")},
		{name: "hooks_destroy_junk", call: bbb.CallHooksDestroy, query: sq(bbb.CallHooksDestroy, "hookID=%00%FF")},
		{name: "unknown_call", call: "getSessions", query: sq("getSessions", "")},
		{name: "index_junk", call: "", query: "checksum=" + huge[:5000]},
		{name: "end_unknown", call: bbb.CallEnd, query: sq(bbb.CallEnd, "meetingID=hostile-nope")},
	}
	faults := []fakebbb.Fault{fakebbb.FaultNone, fakebbb.FaultError500, fakebbb.FaultBadXML, fakebbb.FaultChecksum, fakebbb.FaultDrop, fakebbb.FaultHang}
	for _, f := range faults {
		t.Run(string(f), func(t *testing.T) {
			if err := h.bbbs[i].SetFault(f); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = h.bbbs[i].SetFault(fakebbb.FaultNone) }()
			for _, rq := range reqs {
				t.Run(rq.name, func(t *testing.T) {
					method := rq.method
					if method == "" {
						method = http.MethodGet
					}
					var body []byte
					if rq.body != "" {
						body = []byte(rq.body)
					}
					w := h.serveNet(method, bbb.APIPath+rq.call, rq.query, rq.ct, body)
					checkHostileAnswer(t, h, rq.call, w)
				})
			}
		})
	}
}

// serveNet sends one request to tinyscale over the network (so that the
// server's own request handling is part of the test) and records the
// answer like httptest.ResponseRecorder.
func (h *harness) serveNet(method, path, rawQuery, contentType string, body []byte) *httptest.ResponseRecorder {
	h.t.Helper()
	target := h.srv.URL + path
	if rawQuery != "" {
		target += "?" + rawQuery
	}
	r := h.do(method, target, contentType, body)
	w := httptest.NewRecorder()
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body)
	return w
}

// FuzzGateway_Hostile feeds arbitrary requests for every call, signed and
// unsigned, with any method and body, through tinyscale while the server
// of the meeting answers normally or with HTTP 500, garbage, a
// checksumError or a dropped connection. Answers must always be ones a
// BBB client can take (checkHostileAnswer).
func FuzzGateway_Hostile(f *testing.F) {
	f.Add(uint8(8), uint8(0), "recordID=abc,def&state=any", "", []byte(nil), true, uint8(0))
	f.Add(uint8(13), uint8(1), "recordID=x&kind=subtitles&lang=en", "multipart/form-data; boundary=b", []byte("--b\r\n\r\n--b--"), true, uint8(2))
	f.Add(uint8(14), uint8(0), "callbackURL=http%3A%2F%2Fa.example%2F&meetingID=m", "", []byte(nil), true, uint8(1))
	f.Add(uint8(0), uint8(1), "", "application/x-www-form-urlencoded", []byte("meetingID=fz&name=Fuzz"), false, uint8(3))
	f.Add(uint8(1), uint8(0), "meetingID=hostile-room&fullName=A&redirect=false", "", []byte(nil), true, uint8(4))
	f.Add(uint8(9), uint8(0), "recordID=%2C%2C&publish=maybe", "", []byte(nil), true, uint8(0))
	f.Add(uint8(6), uint8(1), "meetingID=hostile-room", "text/xml", []byte("<modules/>"), true, uint8(2))
	f.Add(uint8(2), uint8(2), "meetingID=hostile-room", "", []byte("x"), true, uint8(0))
	h := newHarness(f, 2, withConfig(func(c *gateway.Config) {
		c.BackendTimeout = 2 * time.Second
		c.FanOutTimeout = 2 * time.Second
	}))
	i := h.create("hostile-room")
	if _, err := h.bbbs[i].AddRecordings("hostile-room", 1, nil); err != nil {
		f.Fatal(err)
	}
	methods := []string{http.MethodGet, http.MethodPost, http.MethodHead, http.MethodPut}
	faults := []fakebbb.Fault{fakebbb.FaultNone, fakebbb.FaultError500, fakebbb.FaultBadXML, fakebbb.FaultChecksum, fakebbb.FaultDrop}
	f.Fuzz(func(t *testing.T, callIdx, methodIdx uint8, query, contentType string, body []byte, sign bool, fault uint8) {
		if len(query) > 8192 || len(body) > 8192 || strings.ContainsAny(query, " #\x00\r\n\x7f") {
			t.Skip() // no client can send these in a request line
		}
		call := hostileCalls[int(callIdx)%len(hostileCalls)]
		method := methods[int(methodIdx)%len(methods)]
		if sign {
			query = signed(call, query, bbb.SHA256, frontSecret)
		}
		if err := h.bbbs[i].SetFault(faults[int(fault)%len(faults)]); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = h.bbbs[i].SetFault(fakebbb.FaultNone) }()
		w := h.serveRaw(method, bbb.APIPath+call, query, contentType, body)
		if method == http.MethodHead {
			if w.Code >= 500 {
				t.Fatalf("HEAD: got HTTP %d", w.Code)
			}
			return
		}
		checkHostileAnswer(t, h, call, w)
	})
}
