package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/gateway"
)

// TestMethods: each call accepts the methods bbb-web 3.0 maps it to
// (UrlMappings.groovy; bbb-webhooks: GET only), HEAD wherever GET is. A
// call made with another method is answered 405 with an Allow header and
// FAILED XML, and reaches no server. Before, a POST join was answered
// with a redirect into the meeting (BBB removed POST join in
// 2.6.18/2.7.8), a PUT create created a meeting, and a GET insertDocument
// or a POST publishRecordings went to the server.
func TestMethods(t *testing.T) {
	h := newHarness(t, 2)
	h.create("method-room")
	tests := []struct {
		name       string
		method     string
		call       string
		params     []param
		ct         string
		body       string
		wantStatus int
		wantAllow  string
	}{
		{name: "post_join", method: http.MethodPost, call: bbb.CallJoin, params: p("meetingID", "method-room", "fullName", "A", "role", "VIEWER"), wantStatus: http.StatusMethodNotAllowed, wantAllow: "GET, HEAD"},
		{name: "post_join_form", method: http.MethodPost, call: bbb.CallJoin, params: p("meetingID", "method-room", "fullName", "A"), ct: "application/x-www-form-urlencoded", body: "role=VIEWER", wantStatus: http.StatusMethodNotAllowed, wantAllow: "GET, HEAD"},
		{name: "put_create", method: http.MethodPut, call: bbb.CallCreate, params: p("meetingID", "put-room", "name", "Put room"), wantStatus: http.StatusMethodNotAllowed, wantAllow: "GET, HEAD, POST"},
		{name: "delete_end", method: http.MethodDelete, call: bbb.CallEnd, params: p("meetingID", "method-room"), wantStatus: http.StatusMethodNotAllowed, wantAllow: "GET, HEAD, POST"},
		{name: "get_insert_document", method: http.MethodGet, call: bbb.CallInsertDocument, params: p("meetingID", "method-room"), wantStatus: http.StatusMethodNotAllowed, wantAllow: "POST"},
		{name: "get_put_text_track", method: http.MethodGet, call: bbb.CallPutRecordingTextTrack, params: p("recordID", "r1", "kind", "subtitles", "lang", "en"), wantStatus: http.StatusMethodNotAllowed, wantAllow: "POST"},
		{name: "post_publish", method: http.MethodPost, call: bbb.CallPublishRecordings, params: p("recordID", "r1", "publish", "true"), wantStatus: http.StatusMethodNotAllowed, wantAllow: "GET, HEAD"},
		{name: "post_delete_recordings", method: http.MethodPost, call: bbb.CallDeleteRecordings, params: p("recordID", "r1"), wantStatus: http.StatusMethodNotAllowed, wantAllow: "GET, HEAD"},
		{name: "post_send_chat", method: http.MethodPost, call: bbb.CallSendChatMessage, params: p("meetingID", "method-room", "message", "hi"), wantStatus: http.StatusMethodNotAllowed, wantAllow: "GET, HEAD"},
		{name: "post_hooks_list", method: http.MethodPost, call: bbb.CallHooksList, wantStatus: http.StatusMethodNotAllowed, wantAllow: "GET, HEAD"},
		{name: "options_get_meetings", method: http.MethodOptions, call: bbb.CallGetMeetings, wantStatus: http.StatusMethodNotAllowed, wantAllow: "GET, HEAD, POST"},
		{name: "head_get_meetings", method: http.MethodHead, call: bbb.CallGetMeetings, wantStatus: http.StatusOK},
		{name: "head_join", method: http.MethodHead, call: bbb.CallJoin, params: p("meetingID", "method-room", "fullName", "A", "role", "VIEWER"), wantStatus: http.StatusFound},
		{name: "post_get_meeting_info", method: http.MethodPost, call: bbb.CallGetMeetingInfo, params: p("meetingID", "method-room"), wantStatus: http.StatusOK},
		{name: "post_end_form", method: http.MethodPost, call: bbb.CallEnd, ct: "application/x-www-form-urlencoded", body: "meetingID=nope-room", wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := h.url(tt.call, tt.params)
			if tt.body != "" && tt.ct == "application/x-www-form-urlencoded" && tt.params == nil {
				// All parameters in the body, signed over the empty query.
				target = h.srv.URL + bbb.APIPath + tt.call
				tt.body += "&checksum=" + digest(bbb.SHA1, tt.call+frontSecret)
			}
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			before := fmt.Sprint(h.calls(tt.call))
			r := h.do(tt.method, target, tt.ct, body)
			if r.status != tt.wantStatus {
				t.Fatalf("got %s, want HTTP %d", r, tt.wantStatus)
			}
			if tt.wantStatus != http.StatusMethodNotAllowed {
				return
			}
			if got := r.header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow: got %q, want %q", got, tt.wantAllow)
			}
			if st := r.st(t); st.OK() || st.MessageKey != "unsupportedRequest" {
				t.Errorf("got %s, want FAILED unsupportedRequest", r)
			}
			if got := fmt.Sprint(h.calls(tt.call)); got != before {
				t.Errorf("servers got %s calls %s, want %s", tt.call, got, before)
			}
		})
	}
	if i := h.serverOf("put-room"); i >= 0 {
		t.Errorf("PUT create created put-room on %s", h.ids[i])
	}
	// The index answers whatever the method, and a call tinyscale does not
	// know is unsupportedRequest whatever the method.
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut} {
		if r := h.do(m, h.srv.URL+"/bigbluebutton/api/", "", nil); r.status != http.StatusOK || !r.st(t).OK() {
			t.Errorf("%s index: got %s, want SUCCESS", m, r)
		}
		if r := h.do(m, h.url("getDefaultConfigXML", nil), "", nil); r.status != http.StatusOK || r.st(t).MessageKey != "unsupportedRequest" {
			t.Errorf("%s unknown call: got %s, want unsupportedRequest", m, r)
		}
	}
}

// countingBody is a request body that counts the bytes read from it.
type countingBody struct {
	r io.Reader
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (countingBody) Close() error { return nil }

// TestBody_ReadOnlyWhenSigned: a request body is buffered only once the
// checksum in the query is verified; only a form body without a checksum
// in the query (which may carry the checksum itself) is read unsigned,
// and at most gateway.MaxFormBody of it. Before, every POST, PUT or
// DELETE body of any call, even an unknown one, was read into memory up
// to Config.MaxBody (64 MiB) before the checksum was looked at.
func TestBody_ReadOnlyWhenSigned(t *testing.T) {
	h := newHarness(t, 1)
	big := strings.Repeat("<!-- padding -->", 4<<20/16) // 4 MiB
	sq := func(call, q string) string { return signed(call, q, bbb.SHA256, frontSecret) }
	tests := []struct {
		name     string
		call     string
		query    string
		ct       string
		body     string
		wantKey  string
		maxRead  int64
		wantRead bool
	}{
		{name: "xml_unsigned", call: bbb.CallCreate, query: "meetingID=big-room&name=Big", ct: "application/xml", body: big, wantKey: "checksumError", maxRead: 0},
		{name: "xml_wrong_checksum", call: bbb.CallCreate, query: "meetingID=big-room&name=Big&checksum=" + strings.Repeat("0", 40), ct: "application/xml", body: big, wantKey: "checksumError", maxRead: 0},
		{name: "multipart_unsigned_text_track", call: bbb.CallPutRecordingTextTrack, query: "recordID=r1&kind=subtitles&lang=en", ct: "multipart/form-data; boundary=x", body: big, wantKey: "paramError", maxRead: 0},
		{name: "form_wrong_checksum_in_query", call: bbb.CallEnd, query: "checksum=" + strings.Repeat("0", 64), ct: "application/x-www-form-urlencoded", body: "meetingID=big-room&x=" + big, wantKey: "checksumError", maxRead: 0},
		{name: "form_unsigned_too_large", call: bbb.CallEnd, ct: "application/x-www-form-urlencoded", body: "meetingID=big-room&x=" + big, wantKey: "validationError", maxRead: gateway.MaxFormBody + 1<<16},
		{name: "xml_signed_read", call: bbb.CallCreate, query: sq(bbb.CallCreate, "meetingID=big-room&name=Big+room"), ct: "application/xml", body: "<modules>" + big + "</modules>", wantKey: "", maxRead: 1 << 30, wantRead: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int64
			r := httptest.NewRequest(http.MethodPost, bbb.APIPath+tt.call+"?"+tt.query, nil)
			r.Body = countingBody{r: strings.NewReader(tt.body), n: &n}
			r.ContentLength = int64(len(tt.body))
			r.Header.Set("Content-Type", tt.ct)
			w := httptest.NewRecorder()
			h.gw.ServeHTTP(w, r)
			var key string
			if tt.call == bbb.CallPutRecordingTextTrack {
				key = map[bool]string{true: "paramError"}[strings.Contains(w.Body.String(), `"paramError"`)]
			} else {
				st, err := bbb.ParseStatus(w.Body.Bytes())
				if err != nil {
					t.Fatalf("answer is not BBB XML: %v: %.200s", err, w.Body)
				}
				key = st.MessageKey
			}
			if w.Code != http.StatusOK || key != tt.wantKey {
				t.Errorf("got HTTP %d %.300s, want messageKey %q", w.Code, w.Body, tt.wantKey)
			}
			if got := n.Load(); got > tt.maxRead || (tt.wantRead && got != int64(len(tt.body))) {
				t.Errorf("read %d body bytes, want at most %d (all: %v)", got, tt.maxRead, tt.wantRead)
			}
		})
	}
	if bodies := h.bbbs[0].CreateBodies("big-room"); len(bodies) != 1 {
		t.Errorf("server got %d create bodies for big-room, want 1 (the signed one)", len(bodies))
	}
}

// TestChecksumFailure_ParamsNotParsed: an unsigned request costs no more
// than its checksum check; its parameters are not decoded (before, a
// query of thousands of escaped parameters was decoded in full, one
// allocation each, before the checksum was looked at). join is the
// exception: its error redirect needs errorRedirectUrl and redirect.
func TestChecksumFailure_ParamsNotParsed(t *testing.T) {
	h := newHarness(t, 1)
	query := strings.Repeat("meta_x=%41%42&", 5000) + "checksum=" + strings.Repeat("0", 40)
	for _, call := range []string{bbb.CallGetMeetingInfo, bbb.CallCreate, bbb.CallGetRecordings, bbb.CallHooksList} {
		t.Run(call, func(t *testing.T) {
			var w *httptest.ResponseRecorder
			allocs := testing.AllocsPerRun(5, func() { w = h.serveRaw(http.MethodGet, bbb.APIPath+call, query, "", nil) })
			if st, err := bbb.ParseStatus(w.Body.Bytes()); err != nil || st.MessageKey != "checksumError" {
				t.Fatalf("got HTTP %d %s, want checksumError", w.Code, w.Body)
			}
			if allocs > 200 {
				t.Errorf("got %v allocations for an unsigned request, want its parameters left undecoded (< 200)", allocs)
			}
		})
	}
}

// brokenBody fails after a few bytes, like a client that goes away.
type brokenBody struct{ n int }

func (b *brokenBody) Read(p []byte) (int, error) {
	if b.n > 0 {
		b.n--
		p[0] = 'x'
		return 1, nil
	}
	return 0, io.ErrUnexpectedEOF
}

func (*brokenBody) Close() error { return nil }

// TestBody_Unreadable: a body that breaks off is not reported as too
// large (before, every read error said "The request body is too large.").
func TestBody_Unreadable(t *testing.T) {
	h := newHarness(t, 1)
	r := httptest.NewRequest(http.MethodPost, bbb.APIPath+bbb.CallCreate+"?"+signed(bbb.CallCreate, "meetingID=broken-body&name=Broken", bbb.SHA256, frontSecret), nil)
	r.Body = &brokenBody{n: 10}
	r.ContentLength = 1000
	r.Header.Set("Content-Type", "application/xml")
	w := httptest.NewRecorder()
	h.gw.ServeHTTP(w, r)
	st, err := bbb.ParseStatus(w.Body.Bytes())
	if err != nil || w.Code != http.StatusOK || st.MessageKey != "validationError" || strings.Contains(st.Message, "too large") {
		t.Errorf("got HTTP %d %s, want FAILED validationError about an unreadable body", w.Code, w.Body)
	}
	if h.serverOf("broken-body") >= 0 {
		t.Errorf("a create with a broken body reached a server")
	}
}

// TestChecksum_AlgorithmRestriction: with Config.Algorithms
// (TINYSCALE_ALGORITHMS) set, only checksums of those algorithms pass,
// whatever case the operator wrote them in; the others are checksumError
// (bbb-web's supportedChecksumAlgorithms). Before, a name in upper case
// matched nothing, so every request failed, and an unknown name was
// accepted silently.
func TestChecksum_AlgorithmRestriction(t *testing.T) {
	h := newHarness(t, 1, withConfig(func(c *gateway.Config) { c.Algorithms = []string{"SHA256", " sha512"} }))
	if r := h.do(http.MethodGet, h.urlWith(bbb.CallCreate, p("meetingID", "alg-room", "name", "Alg room"), bbb.SHA256, plus), "", nil); !r.st(t).OK() {
		t.Fatalf("create: got %s", r)
	}
	for _, alg := range bbb.AllAlgorithms {
		t.Run(alg, func(t *testing.T) {
			r := h.do(http.MethodGet, h.urlWith(bbb.CallGetMeetingInfo, p("meetingID", "alg-room"), alg, plus), "", nil)
			st := r.st(t)
			if want := alg == bbb.SHA256 || alg == bbb.SHA512; want != st.OK() || (!want && st.MessageKey != "checksumError") {
				t.Errorf("got %s, want accepted=%v", r, want)
			}
		})
	}
	cfg := h.cfg
	cfg.Algorithms = []string{"sha256", "md5"}
	if _, err := gateway.New(cfg); err == nil {
		t.Errorf("New with algorithm md5: got nil error")
	}
}
