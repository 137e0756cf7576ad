package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/balancer"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/gateway"
)

func TestCreate_ChecksumAlgorithmsAndEncodings(t *testing.T) {
	h := newHarness(t, 3)
	tests := []struct {
		name string
		alg  string
		enc  encoding
		room string
	}{
		{"sha1_plus", bbb.SHA1, plus, "Physics 101"},
		{"sha256_plus", bbb.SHA256, plus, "Mathe für Anfänger"},
		{"sha384_pct20", bbb.SHA384, pct20, "Mathe für Anfänger"},
		{"sha512_pct20", bbb.SHA512, pct20, "日本語の 会議"},
		{"sha512_plus", bbb.SHA512, plus, "Ελληνικά & more"},
		{"sha1_pct20", bbb.SHA1, pct20, "Grüße, Welt!"},
		{"sha256_raw_utf8", bbb.SHA256, rawUTF8, "Ärger überall"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "enc-" + tt.name
			r := h.do(http.MethodGet, h.urlWith(bbb.CallCreate, p("meetingID", id, "name", tt.room, "welcome", tt.room+" – hi"), tt.alg, tt.enc), "", nil)
			if st := r.st(t); !st.OK() {
				t.Fatalf("create: got %s, want SUCCESS", r)
			}
			i := h.serverOf(id)
			if i < 0 {
				t.Fatalf("meeting runs nowhere")
			}
			info := h.do(http.MethodGet, h.urlWith(bbb.CallGetMeetingInfo, p("meetingID", id), tt.alg, tt.enc), "", nil)
			if got, _ := textOf(info.body, "meetingName"); got != tt.room {
				t.Errorf("meetingName: got %q, want %q", got, tt.room)
			}
			if got := h.mapped(id); got != h.ids[i] {
				t.Errorf("store maps %q to %q, want %q", id, got, h.ids[i])
			}
			join := h.do(http.MethodGet, h.urlWith(bbb.CallJoin, p("meetingID", id, "fullName", tt.room, "role", "MODERATOR"), tt.alg, tt.enc), "", nil)
			if join.status != http.StatusFound {
				t.Fatalf("join: got %s, want 302", join)
			}
			follow := h.do(http.MethodGet, join.header.Get("Location"), "", nil)
			if follow.status != http.StatusFound {
				t.Errorf("server rejected the re-signed join: got %s, want 302", follow)
			}
		})
	}
}

func TestCreate_Spread(t *testing.T) {
	tests := []struct {
		name   string
		policy balancer.Policy
	}{
		{"round_robin", &balancer.RoundRobin{}},
		{"least_load", &balancer.LeastLoaded{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 3, withPolicy(tt.policy))
			const n = 99
			ids := make(chan string)
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for id := range ids {
						r := h.get(bbb.CallCreate, p("meetingID", id, "name", "Spread "+id))
						if st, err := bbb.ParseStatus(r.body); err != nil || !st.OK() {
							t.Errorf("create %s: got %s, want SUCCESS", id, r)
						}
					}
				}()
			}
			for i := 0; i < n; i++ {
				ids <- fmt.Sprintf("spread-%03d", i)
			}
			close(ids)
			wg.Wait()
			for i, fb := range h.bbbs {
				if got := fb.MeetingCount(); got != n/3 {
					t.Errorf("%s: got %d meetings, want %d", h.ids[i], got, n/3)
				}
			}
		})
	}
}

func TestCreate_ConcurrentSameMeetingID(t *testing.T) {
	h := newHarness(t, 3)
	const n = 50
	var wg sync.WaitGroup
	results := make([]result, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = h.get(bbb.CallCreate, p("meetingID", "one-room", "name", "One room"))
		}()
	}
	close(start)
	wg.Wait()
	for i, r := range results {
		if st, err := bbb.ParseStatus(r.body); err != nil || !st.OK() {
			t.Errorf("create %d: got %s, want SUCCESS", i, r)
		}
	}
	total := 0
	for _, fb := range h.bbbs {
		total += fb.MeetingCount()
	}
	if total != 1 {
		t.Errorf("got %d meetings over all servers, want 1", total)
	}
	i := h.serverOf("one-room")
	if i < 0 {
		t.Fatalf("meeting runs nowhere")
	}
	if got := h.mapped("one-room"); got != h.ids[i] {
		t.Errorf("store maps meeting to %q, want %q", got, h.ids[i])
	}
	if got := h.bbbs[i].Calls(bbb.CallCreate); got != n {
		t.Errorf("%s got %d creates, want all %d", h.ids[i], got, n)
	}
}

func TestJoin_KnownMeeting(t *testing.T) {
	h := newHarness(t, 3)
	for _, id := range []string{"warmup-1", "warmup-2"} {
		h.create(id)
	}
	i := h.create("join-room")
	before := h.calls(bbb.CallJoin)
	fanBefore := h.calls(bbb.CallGetMeetingInfo)

	r := h.get(bbb.CallJoin, p("meetingID", "join-room", "fullName", "Ada Teacher", "role", "MODERATOR", "userID", "u-1"))
	if r.status != http.StatusFound {
		t.Fatalf("join: got %s, want 302", r)
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatalf("Location: %v", err)
	}
	want, _ := url.Parse(h.urls[i])
	if loc.Host != want.Host || loc.Path != bbb.APIPath+bbb.CallJoin {
		t.Errorf("Location: got %s, want the join URL of %s", loc, h.ids[i])
	}
	if got := h.calls(bbb.CallJoin); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("join calls to servers: got %v, want %v (no backend round trip)", got, before)
	}
	if got := h.calls(bbb.CallGetMeetingInfo); fmt.Sprint(got) != fmt.Sprint(fanBefore) {
		t.Errorf("getMeetingInfo calls: got %v, want %v", got, fanBefore)
	}

	// The browser follows: the server accepts tinyscale's signature.
	follow := h.do(http.MethodGet, loc.String(), "", nil)
	if follow.status != http.StatusFound || !strings.Contains(follow.header.Get("Location"), "sessionToken=") {
		t.Fatalf("following the join: got %s %v, want 302 to the client", follow, follow.header)
	}
	if client := h.do(http.MethodGet, follow.header.Get("Location"), "", nil); client.status != http.StatusOK {
		t.Fatalf("entering the client: got %s, want 200", client)
	}
	info := h.get(bbb.CallGetMeetingInfo, p("meetingID", "join-room"))
	if got, _ := textOf(info.body, "participantCount"); got != "1" {
		t.Errorf("participantCount: got %q, want 1", got)
	}
}

func TestJoin_RedirectFalse(t *testing.T) {
	h := newHarness(t, 3)
	h.create("xml-join")
	r := h.get(bbb.CallJoin, p("meetingID", "xml-join", "fullName", "Bob", "role", "VIEWER", "redirect", "false"))
	st := r.st(t)
	if !st.OK() || st.MessageKey != "successfullyJoined" {
		t.Fatalf("join redirect=false: got %s, want SUCCESS successfullyJoined", r)
	}
	if got, _ := textOf(r.body, "url"); !strings.Contains(got, "sessionToken=") {
		t.Errorf("url: got %q, want the client URL", got)
	}
	if len(r.header.Values("Set-Cookie")) == 0 {
		t.Errorf("Set-Cookie: got none, want the server's session cookie")
	}
}

func TestJoin_Errors(t *testing.T) {
	h := newHarness(t, 2)
	h.create("err-room")
	const target = "https://lms.example.org/bbb/error?course=7"
	tests := []struct {
		name     string
		params   []param
		badSum   bool
		wantKey  string
		redirect bool // a 302 to target, not XML
	}{
		{"unknown_redirect_false", p("meetingID", "nope-room", "fullName", "A", "role", "VIEWER", "redirect", "false"), false, "notFound", false},
		{"unknown_no_error_url", p("meetingID", "nope-room", "fullName", "A", "role", "VIEWER"), false, "notFound", false},
		{"unknown_error_url", p("meetingID", "nope-room", "fullName", "A", "role", "VIEWER", "errorRedirectUrl", target), false, "notFound", true},
		{"unknown_error_url_redirect_false", p("meetingID", "nope-room", "fullName", "A", "redirect", "false", "errorRedirectUrl", target), false, "notFound", false},
		{"unknown_error_url_redirect_true", p("meetingID", "nope-room", "fullName", "A", "redirect", "TRUE", "errorRedirectUrl", target), false, "notFound", true},
		{"missing_meeting_id", p("fullName", "A", "role", "VIEWER"), false, "missingParamMeetingID", false},
		{"missing_meeting_id_error_url", p("fullName", "A", "errorRedirectUrl", target), false, "missingParamMeetingID", true},
		{"short_meeting_id", p("meetingID", "x", "fullName", "A", "redirect", "false"), false, "validationError", false},
		{"missing_full_name", p("meetingID", "err-room", "role", "VIEWER", "redirect", "false"), false, "validationError", false},
		{"missing_full_name_error_url", p("meetingID", "err-room", "errorRedirectUrl", target), false, "validationError", true},
		{"bad_checksum", p("meetingID", "err-room", "fullName", "A", "redirect", "false"), true, "checksumError", false},
		{"bad_checksum_error_url", p("meetingID", "err-room", "fullName", "A", "errorRedirectUrl", target), true, "checksumError", true},
		{"error_url_not_http", p("meetingID", "nope-room", "fullName", "A", "errorRedirectUrl", "javascript:alert(1)"), false, "notFound", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := h.url(bbb.CallJoin, tt.params)
			if tt.badSum {
				u = h.srv.URL + bbb.APIPath + "join?" + encodeQuery(tt.params, plus) + "&checksum=" + strings.Repeat("0", 40)
			}
			r := h.do(http.MethodGet, u, "", nil)
			if !tt.redirect {
				st := r.st(t)
				if r.status != http.StatusOK || st.OK() || st.MessageKey != tt.wantKey {
					t.Fatalf("got %s, want FAILED %s", r, tt.wantKey)
				}
				return
			}
			if r.status != http.StatusFound {
				t.Fatalf("got %s, want 302", r)
			}
			loc := r.header.Get("Location")
			if !strings.HasPrefix(loc, target+"&errors=") {
				t.Fatalf("Location: got %q, want %q&errors=…", loc, target)
			}
			lu, err := url.Parse(loc)
			if err != nil {
				t.Fatalf("Location: %v", err)
			}
			var errs []struct{ Key, Message string }
			if err := json.Unmarshal([]byte(lu.Query().Get("errors")), &errs); err != nil {
				t.Fatalf("errors param: %v (%q)", err, lu.Query().Get("errors"))
			}
			if len(errs) != 1 || errs[0].Key != tt.wantKey || errs[0].Message == "" {
				t.Errorf("errors: got %+v, want one %s", errs, tt.wantKey)
			}
			if got := lu.Query().Get("course"); got != "7" {
				t.Errorf("existing query: got course=%q, want 7", got)
			}
		})
	}
}

func TestChecksum_Wrong(t *testing.T) {
	h := newHarness(t, 2)
	h.create("sum-room")
	calls := []string{bbb.CallCreate, bbb.CallEnd, bbb.CallIsMeetingRunning, bbb.CallGetMeetingInfo, bbb.CallGetMeetings, bbb.CallSendChatMessage}
	for _, call := range calls {
		for _, variant := range []string{"wrong", "missing", "other_secret", "bad_length"} {
			t.Run(call+"_"+variant, func(t *testing.T) {
				q := encodeQuery(p("meetingID", "sum-room", "name", "Sum"), plus)
				var u string
				switch variant {
				case "wrong":
					u = q + "&checksum=" + digest(bbb.SHA1, call+q+"nope")
				case "missing":
					u = q
				case "other_secret":
					u = signed(call, q, bbb.SHA256, h.secret[0])
				case "bad_length":
					u = q + "&checksum=" + digest(bbb.SHA256, call+q+frontSecret)[:50]
				}
				before := h.calls(call)
				r := h.do(http.MethodGet, h.srv.URL+bbb.APIPath+call+"?"+u, "", nil)
				if st := r.st(t); r.status != http.StatusOK || st.MessageKey != "checksumError" {
					t.Errorf("got %s, want FAILED checksumError", r)
				}
				if got := h.calls(call); fmt.Sprint(got) != fmt.Sprint(before) {
					t.Errorf("servers were called: got %v, want %v", got, before)
				}
			})
		}
	}
}

func TestMeetingCalls_Validation(t *testing.T) {
	h := newHarness(t, 2)
	calls := []string{bbb.CallCreate, bbb.CallEnd, bbb.CallIsMeetingRunning, bbb.CallGetMeetingInfo, bbb.CallSendChatMessage, bbb.CallInsertDocument}
	ids := []struct {
		name, id, key string
	}{
		{"missing", "", "missingParamMeetingID"},
		{"too_short", "a", "validationError"},
		{"too_long", strings.Repeat("x", 257), "validationError"},
		{"comma", "a,b", "validationError"},
	}
	for _, call := range calls {
		for _, tt := range ids {
			t.Run(call+"_"+tt.name, func(t *testing.T) {
				ps := p("name", "Room", "message", "hi")
				if tt.id != "" {
					ps = append(ps, param{"meetingID", tt.id})
				}
				var r result
				if call == bbb.CallInsertDocument {
					// insertDocument is POST only, with its XML body.
					r = h.do(http.MethodPost, h.url(call, ps), "application/xml", []byte("<modules/>"))
				} else {
					r = h.get(call, ps)
				}
				if st := r.st(t); st.OK() || st.MessageKey != tt.key {
					t.Errorf("got %s, want FAILED %s", r, tt.key)
				}
			})
		}
	}
}

func TestMeetingCalls_UnknownMeeting(t *testing.T) {
	h := newHarness(t, 3)
	tests := []struct {
		call    string
		method  string
		ct      string
		body    string
		wantKey string // "" for SUCCESS running=false
	}{
		{bbb.CallIsMeetingRunning, http.MethodGet, "", "", ""},
		{bbb.CallGetMeetingInfo, http.MethodGet, "", "", "notFound"},
		{bbb.CallEnd, http.MethodGet, "", "", "notFound"},
		// BBB 3.0 answers sendChatMessage for a meeting that does not
		// run with its own key (as a server does for a meeting tinyscale
		// still maps, see TestSendChatMessage_EndedMeeting).
		{bbb.CallSendChatMessage, http.MethodGet, "", "", "meetingNotFound"},
		{bbb.CallInsertDocument, http.MethodPost, "application/xml", `<modules><module name="presentation"><document url="https://example.org/a.pdf"/></module></modules>`, "notFound"},
	}
	for _, tt := range tests {
		t.Run(tt.call, func(t *testing.T) {
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			r := h.do(tt.method, h.url(tt.call, p("meetingID", "ghost-"+tt.call, "message", "hello")), tt.ct, body)
			st := r.st(t)
			if tt.wantKey == "" {
				running, _ := textOf(r.body, "running")
				if !st.OK() || running != "false" {
					t.Errorf("got %s, want SUCCESS running=false", r)
				}
				return
			}
			if st.OK() || st.MessageKey != tt.wantKey {
				t.Errorf("got %s, want FAILED %s", r, tt.wantKey)
			}
		})
	}
}

func TestMeetingCalls_KnownMeeting(t *testing.T) {
	h := newHarness(t, 3)
	i := h.create("known-room", "meta_bbb-origin", "Greenlight")
	if err := h.bbbs[i].AddParticipants("known-room", 2); err != nil {
		t.Fatal(err)
	}
	doc := `<modules><module name="presentation"><document url="https://files.example.org/slides.pdf" filename="slides.pdf"/></module></modules>`
	tests := []struct {
		name    string
		call    string
		method  string
		ct      string
		body    string
		params  []param
		check   func(t *testing.T, r result)
		wantKey string
	}{
		{name: "is_meeting_running", call: bbb.CallIsMeetingRunning, params: p("meetingID", "known-room"), check: func(t *testing.T, r result) {
			if got, _ := textOf(r.body, "running"); got != "true" {
				t.Errorf("running: got %q, want true", got)
			}
		}},
		{name: "get_meeting_info", call: bbb.CallGetMeetingInfo, params: p("meetingID", "known-room"), check: func(t *testing.T, r result) {
			if got, _ := textOf(r.body, "bbb-origin"); got != "Greenlight" {
				t.Errorf("metadata bbb-origin: got %q, want Greenlight", got)
			}
			if got, _ := textOf(r.body, "participantCount"); got != "2" {
				t.Errorf("participantCount: got %q, want 2", got)
			}
		}},
		{name: "send_chat_message", call: bbb.CallSendChatMessage, params: p("meetingID", "known-room", "message", "Hallo Welt", "userName", "Bot")},
		{name: "insert_document", call: bbb.CallInsertDocument, method: http.MethodPost, ct: "application/xml", body: doc, params: p("meetingID", "known-room")},
		{name: "insert_document_no_body", call: bbb.CallInsertDocument, method: http.MethodPost, params: p("meetingID", "known-room"), wantKey: "validationError"},
		{name: "end", call: bbb.CallEnd, params: p("meetingID", "known-room"), check: func(t *testing.T, r result) {
			if st := r.st(t); st.MessageKey != "sentEndMeetingRequest" {
				t.Errorf("messageKey: got %q, want sentEndMeetingRequest", st.MessageKey)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			before := h.bbbs[i].Calls(tt.call)
			r := h.do(method, h.url(tt.call, tt.params), tt.ct, body)
			st := r.st(t)
			if tt.wantKey != "" {
				if st.OK() || st.MessageKey != tt.wantKey {
					t.Fatalf("got %s, want FAILED %s", r, tt.wantKey)
				}
				return
			}
			if !st.OK() {
				t.Fatalf("got %s, want SUCCESS", r)
			}
			if got := h.bbbs[i].Calls(tt.call); got != before+1 {
				t.Errorf("%s calls on %s: got %d, want %d", tt.call, h.ids[i], got, before+1)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
	if got := h.bbbs[i].MeetingCount(); got != 0 {
		t.Errorf("after end: got %d meetings, want 0", got)
	}
}

func TestCreate_AfterEnd(t *testing.T) {
	h := newHarness(t, 3)
	h.create("again-room")
	if r := h.get(bbb.CallEnd, p("meetingID", "again-room")); !r.st(t).OK() {
		t.Fatalf("end: got %s", r)
	}
	// Re-created at once, before or after the server's end callback:
	// it runs on exactly one server (serverOf checks) and is reachable.
	j := h.create("again-room")
	h.waitIdle()
	if r := h.get(bbb.CallGetMeetingInfo, p("meetingID", "again-room")); !r.st(t).OK() {
		t.Errorf("getMeetingInfo after re-create: got %s, want SUCCESS", r)
	}
	if got := h.serverOf("again-room"); got != j {
		t.Errorf("meeting runs on %d, want %d", got, j)
	}
	r := h.get(bbb.CallJoin, p("meetingID", "again-room", "fullName", "A", "role", "VIEWER"))
	if r.status != http.StatusFound || !strings.HasPrefix(r.header.Get("Location"), h.urls[j]+"/") {
		t.Errorf("join after re-create: got %s, want 302 to %s", r, h.ids[j])
	}
}

func TestCreate_PostBody(t *testing.T) {
	h := newHarness(t, 3)
	const modules = `<modules><module name="presentation"><document url="https://files.example.org/a.pdf" filename="a.pdf"/></module></modules>`
	tests := []struct {
		name string
		ct   string
		body string
	}{
		{"application_xml", "application/xml", modules},
		{"text_xml", "text/xml", modules},
		{"declaration", "application/xml", `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + modules},
		{"moodle_single_quotes", "text/xml; charset=UTF-8", "<?xml version='1.0' encoding='UTF-8'?><modules><module name='presentation'><document url='https://moodle.example.org/f.pdf' /></module></modules>"},
		{"charset_upper", "Application/XML;charset=utf-8", "\ufeff" + modules + "\r\n"},
		{"base64_document", "application/xml", `<modules><module name="presentation"><document name="n.pdf">JVBERi0xLjQKJcfsj6IK</document></module></modules>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "post-" + tt.name
			r := h.do(http.MethodPost, h.url(bbb.CallCreate, p("meetingID", id, "name", "Post "+tt.name)), tt.ct, []byte(tt.body))
			if st := r.st(t); !st.OK() {
				t.Fatalf("create: got %s, want SUCCESS", r)
			}
			i := h.serverOf(id)
			if i < 0 {
				t.Fatalf("meeting runs nowhere")
			}
			bodies := h.bbbs[i].CreateBodies(id)
			if len(bodies) != 1 {
				t.Fatalf("server got %d bodies, want 1", len(bodies))
			}
			if string(bodies[0].Data) != tt.body {
				t.Errorf("body: got %q, want %q byte for byte", bodies[0].Data, tt.body)
			}
			if bodies[0].ContentType != tt.ct {
				t.Errorf("Content-Type: got %q, want %q", bodies[0].ContentType, tt.ct)
			}
		})
	}
	t.Run("form_encoded", func(t *testing.T) {
		form := "meetingID=form-room&name=Form+Room+%C3%BC"
		body := form + "&checksum=" + digest(bbb.SHA1, bbb.CallCreate+frontSecret)
		r := h.do(http.MethodPost, h.srv.URL+bbb.APIPath+bbb.CallCreate, "application/x-www-form-urlencoded", []byte(body))
		if st := r.st(t); !st.OK() {
			t.Fatalf("create: got %s, want SUCCESS", r)
		}
		info := h.get(bbb.CallGetMeetingInfo, p("meetingID", "form-room"))
		if got, _ := textOf(info.body, "meetingName"); got != "Form Room ü" {
			t.Errorf("meetingName: got %q, want %q", got, "Form Room ü")
		}
	})
	t.Run("bad_content_type", func(t *testing.T) {
		r := h.do(http.MethodPost, h.url(bbb.CallCreate, p("meetingID", "ct-room", "name", "CT")), "application/json", []byte(`{}`))
		if st := r.st(t); st.MessageKey != "unsupportedContentType" {
			t.Errorf("got %s, want FAILED unsupportedContentType", r)
		}
	})
}

func TestLookup_ExactMeetingID(t *testing.T) {
	h := newHarness(t, 3)
	h.createDirect(1, "room10")
	h.createDirect(2, "room1x")

	r := h.get(bbb.CallGetMeetingInfo, p("meetingID", "room1"))
	if st := r.st(t); st.OK() || st.MessageKey != "notFound" {
		t.Errorf("room1: got %s, want FAILED notFound", r)
	}
	if got := h.mapped("room1"); got != "" {
		t.Errorf("room1 mapped to %q, want unmapped", got)
	}
	r = h.get(bbb.CallGetMeetingInfo, p("meetingID", "room10"))
	if got, _ := textOf(r.body, "meetingID"); !r.st(t).OK() || got != "room10" {
		t.Errorf("room10: got %s, want SUCCESS for room10", r)
	}
	if got := h.mapped("room10"); got != h.ids[1] {
		t.Errorf("room10 mapped to %q, want %q", got, h.ids[1])
	}
	// A create of room1 places a new meeting; room10 stays where it is.
	h.create("room1")
	if got := h.serverOf("room10"); got != 1 {
		t.Errorf("room10 on %d, want 1", got)
	}
}

func TestLookup_DirectMeetingThenNoFanOut(t *testing.T) {
	h := newHarness(t, 3)
	h.createDirect(2, "made-on-backend")
	before := h.calls(bbb.CallGetMeetingInfo)
	r := h.get(bbb.CallGetMeetingInfo, p("meetingID", "made-on-backend"))
	if !r.st(t).OK() {
		t.Fatalf("getMeetingInfo: got %s, want SUCCESS", r)
	}
	after := h.calls(bbb.CallGetMeetingInfo)
	for i := range after {
		want := before[i] + 1 // the lookup
		if i == 2 {
			want++ // and the forwarded call
		}
		if after[i] != want {
			t.Errorf("%s getMeetingInfo calls: got %d, want %d", h.ids[i], after[i], want)
		}
	}
	for k := 0; k < 3; k++ {
		if r := h.get(bbb.CallGetMeetingInfo, p("meetingID", "made-on-backend")); !r.st(t).OK() {
			t.Fatalf("getMeetingInfo again: got %s", r)
		}
	}
	again := h.calls(bbb.CallGetMeetingInfo)
	if again[0] != after[0] || again[1] != after[1] || again[2] != after[2]+3 {
		t.Errorf("calls after the lookup: got %v, want only %s asked (%v + 3)", again, h.ids[2], after)
	}
	joins := h.calls(bbb.CallJoin)
	j := h.get(bbb.CallJoin, p("meetingID", "made-on-backend", "fullName", "Direct", "role", "VIEWER"))
	if j.status != http.StatusFound || !strings.HasPrefix(j.header.Get("Location"), h.urls[2]+"/") {
		t.Errorf("join: got %s (Location %q), want 302 to %s", j, j.header.Get("Location"), h.ids[2])
	}
	if got := h.calls(bbb.CallJoin); fmt.Sprint(got) != fmt.Sprint(joins) {
		t.Errorf("join calls: got %v, want %v", got, joins)
	}
}

func TestLookup_NegativeCache(t *testing.T) {
	h := newHarness(t, 3, withConfig(func(c *gateway.Config) { c.NegativeTTL = 5 * time.Second }))
	before := h.calls(bbb.CallGetMeetingInfo)
	for k := 0; k < 5; k++ {
		r := h.get(bbb.CallGetMeetingInfo, p("meetingID", "polled-room"))
		if st := r.st(t); st.MessageKey != "notFound" {
			t.Fatalf("poll %d: got %s, want notFound", k, r)
		}
		r = h.get(bbb.CallIsMeetingRunning, p("meetingID", "polled-room"))
		if got, _ := textOf(r.body, "running"); got != "false" {
			t.Fatalf("isMeetingRunning %d: got %s", k, r)
		}
	}
	after := h.calls(bbb.CallGetMeetingInfo)
	for i := range after {
		if after[i] != before[i]+1 {
			t.Errorf("%s: got %d lookups, want 1 within the negative TTL", h.ids[i], after[i]-before[i])
		}
	}
	// The meeting now starts directly on a server; after the TTL a poll finds it.
	h.createDirect(0, "polled-room")
	h.clock.Advance(6 * time.Second)
	if r := h.get(bbb.CallGetMeetingInfo, p("meetingID", "polled-room")); !r.st(t).OK() {
		t.Errorf("after TTL: got %s, want SUCCESS", r)
	}
	// A create through tinyscale is visible at once, negative entry or not.
	for k := 0; k < 2; k++ {
		h.get(bbb.CallGetMeetingInfo, p("meetingID", "fresh-room"))
	}
	h.create("fresh-room")
	if r := h.get(bbb.CallGetMeetingInfo, p("meetingID", "fresh-room")); !r.st(t).OK() {
		t.Errorf("after create: got %s, want SUCCESS", r)
	}
}

func TestGetMeetings(t *testing.T) {
	t.Run("empty", func(t *testing.T) {
		h := newHarness(t, 3)
		r := h.get(bbb.CallGetMeetings, nil)
		st := r.st(t)
		if !st.OK() || st.MessageKey != "noMeetings" {
			t.Errorf("got %s, want SUCCESS noMeetings", r)
		}
	})
	t.Run("merged_and_learned", func(t *testing.T) {
		h := newHarness(t, 3)
		for k := 0; k < 5; k++ {
			h.create(fmt.Sprintf("listed-%d", k))
		}
		h.createDirect(1, "listed-direct")
		r := h.get(bbb.CallGetMeetings, nil)
		entries, err := bbb.ParseMeetings(r.body)
		if err != nil {
			t.Fatalf("parse: %v: %s", err, r)
		}
		if len(entries) != 6 {
			t.Errorf("got %d meetings, want 6", len(entries))
		}
		waitFor(t, "listed-direct learned", func() bool { return h.mapped("listed-direct") == h.ids[1] })
	})
	t.Run("server_dies_mid_run", func(t *testing.T) {
		h := newHarness(t, 3)
		for k := 0; k < 6; k++ {
			h.create(fmt.Sprintf("dying-%d", k))
		}
		h.closeServer(1)
		r := h.get(bbb.CallGetMeetings, nil)
		entries, err := bbb.ParseMeetings(r.body)
		if err != nil || !r.st(t).OK() {
			t.Fatalf("got %s (%v), want SUCCESS", r, err)
		}
		if len(entries) != 4 {
			t.Errorf("got %d meetings, want the 4 of the live servers", len(entries))
		}
	})
	t.Run("hung_and_broken_servers_skipped", func(t *testing.T) {
		h := newHarness(t, 4, withConfig(func(c *gateway.Config) { c.FanOutTimeout = 300 * time.Millisecond }))
		for k := 0; k < 8; k++ {
			h.create(fmt.Sprintf("hung-%d", k))
		}
		if err := h.bbbs[0].SetFault("hang"); err != nil {
			t.Fatal(err)
		}
		if err := h.bbbs[1].SetFault("badxml"); err != nil {
			t.Fatal(err)
		}
		if err := h.bbbs[2].SetFault("error500"); err != nil {
			t.Fatal(err)
		}
		r := h.get(bbb.CallGetMeetings, nil)
		entries, err := bbb.ParseMeetings(r.body)
		if err != nil || !r.st(t).OK() {
			t.Fatalf("got %s (%v), want SUCCESS", r, err)
		}
		if len(entries) != 2 {
			t.Errorf("got %d meetings, want the 2 of the healthy server", len(entries))
		}
	})
}

func TestCreate_ServerDownAtStartup(t *testing.T) {
	h := newHarness(t, 3, withDown(1))
	for k := 0; k < 12; k++ {
		i := h.create(fmt.Sprintf("startup-%d", k))
		if i == 1 {
			t.Errorf("meeting placed on the dead server")
		}
	}
	if r := h.get(bbb.CallGetMeetings, nil); !r.st(t).OK() {
		t.Errorf("getMeetings: got %s, want SUCCESS", r)
	}
}

func TestCreate_ServerFails(t *testing.T) {
	h := newHarness(t, 1)
	if err := h.bbbs[0].SetFault("error500"); err != nil {
		t.Fatal(err)
	}
	r := h.get(bbb.CallCreate, p("meetingID", "fail-room", "name", "Fail"))
	if st := r.st(t); r.status != http.StatusOK || st.MessageKey != "serverUnavailable" {
		t.Fatalf("got %s, want FAILED serverUnavailable", r)
	}
	if got := h.mapped("fail-room"); got != "" {
		t.Errorf("claim kept on failure: mapped to %q", got)
	}
	if err := h.bbbs[0].SetFault("none"); err != nil {
		t.Fatal(err)
	}
	h.create("fail-room")

	// A create the server rejects (no name) leaves no claim behind.
	r = h.get(bbb.CallCreate, p("meetingID", "nameless-room"))
	if st := r.st(t); st.OK() {
		t.Fatalf("create without name: got %s, want FAILED", r)
	}
	if got := h.mapped("nameless-room"); got != "" {
		t.Errorf("claim kept after FAILED create: mapped to %q", got)
	}
}

func TestFailover(t *testing.T) {
	for _, how := range []string{"down", "disabled"} {
		t.Run(how, func(t *testing.T) {
			h := newHarness(t, 3)
			old := h.create("fo-room")
			if how == "down" {
				h.setHealth(old, false)
				// Reads answer as for a meeting that cannot be reached.
				if r := h.get(bbb.CallGetMeetingInfo, p("meetingID", "fo-room")); r.st(t).MessageKey != "notFound" {
					t.Errorf("getMeetingInfo: got %s, want notFound", r)
				}
				if r := h.get(bbb.CallIsMeetingRunning, p("meetingID", "fo-room")); !strings.Contains(string(r.body), "<running>false</running>") {
					t.Errorf("isMeetingRunning: got %s, want running=false", r)
				}
				if r := h.get(bbb.CallJoin, p("meetingID", "fo-room", "fullName", "A", "redirect", "false")); r.st(t).MessageKey != "notFound" {
					t.Errorf("join: got %s, want notFound", r)
				}
			} else {
				// A disabled server drains: its running meeting goes on, can
				// be joined, and a create for it still goes there.
				h.setState(old, tinyscale.StateDisabled)
				j := h.get(bbb.CallJoin, p("meetingID", "fo-room", "fullName", "A", "role", "VIEWER"))
				if j.status != http.StatusFound || !strings.HasPrefix(j.header.Get("Location"), h.urls[old]+"/") {
					t.Errorf("join on the disabled server: got %s, want 302 to %s", j, h.ids[old])
				}
				if got := h.create("fo-room"); got != old {
					t.Errorf("create of a meeting still running on the disabled server went to %s", h.ids[got])
				}
				// Once it has ended there, the next create places it anew.
				if err := h.bbbs[old].EndMeeting("fo-room"); err != nil {
					t.Fatal(err)
				}
			}
			// A create moves it to a healthy server.
			r := h.get(bbb.CallCreate, p("meetingID", "fo-room", "name", "Failover"))
			if !r.st(t).OK() {
				t.Fatalf("create: got %s, want SUCCESS", r)
			}
			got := h.mapped("fo-room")
			if got == "" || got == h.ids[old] {
				t.Fatalf("after failover mapped to %q, want a server other than %s", got, h.ids[old])
			}
			n := h.index(got)
			if c := h.bbbs[n].MeetingCount(); c != 1 {
				t.Errorf("%s: got %d meetings, want 1", got, c)
			}
			j := h.get(bbb.CallJoin, p("meetingID", "fo-room", "fullName", "A", "role", "VIEWER"))
			if j.status != http.StatusFound || !strings.HasPrefix(j.header.Get("Location"), h.urls[n]+"/") {
				t.Errorf("join after failover: got %s (Location %q), want 302 to %s", j, j.header.Get("Location"), got)
			}
		})
	}
}

func TestCordoned_KeepsMeetingsTakesNoNew(t *testing.T) {
	h := newHarness(t, 3)
	c := h.create("cordon-room")
	h.setState(c, tinyscale.StateCordoned)
	j := h.get(bbb.CallJoin, p("meetingID", "cordon-room", "fullName", "A", "role", "VIEWER"))
	if j.status != http.StatusFound || !strings.HasPrefix(j.header.Get("Location"), h.urls[c]+"/") {
		t.Errorf("join: got %s, want 302 to the cordoned server", j)
	}
	if got := h.create("cordon-room"); got != c {
		t.Errorf("create of existing meeting: went to %s, want %s", h.ids[got], h.ids[c])
	}
	for k := 0; k < 9; k++ {
		if got := h.create(fmt.Sprintf("new-%d", k)); got == c {
			t.Errorf("new meeting placed on the cordoned server")
		}
	}
}

func TestCreate_Tags(t *testing.T) {
	h := newHarness(t, 3, withTags(1, "gpu"), withTags(2, "gpu", "eu"))
	tests := []struct {
		name    string
		tag     string
		want    []int // allowed servers
		wantKey string
	}{
		{"no_tag_untagged", "", []int{0}, ""},
		{"prefer", "gpu", []int{1, 2}, ""},
		{"prefer_second_tag", "eu", []int{2}, ""},
		{"fallback_untagged", "arm", []int{0}, ""},
		{"required", "eu!", []int{2}, ""},
		{"required_missing", "arm!", nil, "serverTagUnavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k := 0; k < 3; k++ {
				id := fmt.Sprintf("tag-%s-%d", tt.name, k)
				ps := p("meetingID", id, "name", "Tagged")
				if tt.tag != "" {
					ps = append(ps, param{bbb.MetaServerTag, tt.tag})
				}
				r := h.get(bbb.CallCreate, ps)
				st := r.st(t)
				if tt.wantKey != "" {
					if st.OK() || st.MessageKey != tt.wantKey {
						t.Fatalf("got %s, want FAILED %s", r, tt.wantKey)
					}
					if got := h.mapped(id); got != "" {
						t.Errorf("mapped to %q after failure", got)
					}
					continue
				}
				if !st.OK() {
					t.Fatalf("got %s, want SUCCESS", r)
				}
				i := h.serverOf(id)
				ok := false
				for _, w := range tt.want {
					ok = ok || i == w
				}
				if !ok {
					t.Errorf("placed on server %d, want one of %v", i, tt.want)
				}
			}
		})
	}
}

func TestCreate_NoServer(t *testing.T) {
	h := newHarness(t, 2)
	h.setHealth(0, false)
	h.setHealth(1, false)
	r := h.get(bbb.CallCreate, p("meetingID", "nowhere", "name", "Nowhere"))
	if st := r.st(t); r.status != http.StatusOK || st.OK() || st.MessageKey == "" {
		t.Errorf("got %s, want FAILED", r)
	}
}

func TestBreakout_FoundAndJoined(t *testing.T) {
	h := newHarness(t, 3)
	for k := 0; k < 2; k++ {
		h.create(fmt.Sprintf("other-%d", k))
	}
	i := h.create("parent-room")
	rooms, err := h.bbbs[i].CreateBreakouts("parent-room", 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range rooms {
		r := h.get(bbb.CallGetMeetingInfo, p("meetingID", id))
		if got, _ := textOf(r.body, "isBreakout"); !r.st(t).OK() || got != "true" {
			t.Errorf("breakout %s: got %s, want SUCCESS isBreakout=true", id, r)
		}
		j := h.get(bbb.CallJoin, p("meetingID", id, "fullName", "Student", "role", "VIEWER"))
		if j.status != http.StatusFound || !strings.HasPrefix(j.header.Get("Location"), h.urls[i]+"/") {
			t.Fatalf("join breakout: got %s, want 302 to the parent's server", j)
		}
		if f := h.do(http.MethodGet, j.header.Get("Location"), "", nil); f.status != http.StatusFound {
			t.Errorf("following breakout join: got %s, want 302", f)
		}
	}
	// A breakout create sent through tinyscale goes to the parent's server.
	info := h.get(bbb.CallGetMeetingInfo, p("meetingID", "parent-room"))
	internal, _ := textOf(info.body, "internalMeetingID")
	r := h.get(bbb.CallCreate, p("meetingID", "manual-breakout", "name", "Manual", "isBreakout", "true", "parentMeetingID", internal, "sequence", "3"))
	if !r.st(t).OK() {
		t.Fatalf("breakout create: got %s", r)
	}
	if got := h.serverOf("manual-breakout"); got != i {
		t.Errorf("breakout placed on %d, want the parent's %d", got, i)
	}
}

func TestReadCalls_HungServer(t *testing.T) {
	h := newHarness(t, 2, withConfig(func(c *gateway.Config) { c.BackendTimeout = 300 * time.Millisecond }))
	i := h.create("hang-room")
	if err := h.bbbs[i].SetFault("hang"); err != nil {
		t.Fatal(err)
	}
	if r := h.get(bbb.CallGetMeetingInfo, p("meetingID", "hang-room")); r.st(t).MessageKey != "notFound" {
		t.Errorf("getMeetingInfo: got %s, want notFound", r)
	}
	if r := h.get(bbb.CallIsMeetingRunning, p("meetingID", "hang-room")); !strings.Contains(string(r.body), "<running>false</running>") {
		t.Errorf("isMeetingRunning: got %s, want running=false", r)
	}
	if r := h.get(bbb.CallEnd, p("meetingID", "hang-room")); r.st(t).MessageKey != "serverUnavailable" {
		t.Errorf("end: got %s, want serverUnavailable", r)
	}
	if r := h.get(bbb.CallJoin, p("meetingID", "hang-room", "fullName", "A", "redirect", "false")); r.st(t).OK() {
		t.Errorf("join redirect=false: got %s, want FAILED", r)
	}
}

func TestStoreMapping_InternalID(t *testing.T) {
	h := newHarness(t, 2)
	h.create("internal-room")
	m, err := h.store.Meeting(context.Background(), "internal-room")
	if err != nil {
		t.Fatal(err)
	}
	info := h.get(bbb.CallGetMeetingInfo, p("meetingID", "internal-room"))
	want, _ := textOf(info.body, "internalMeetingID")
	if m.InternalID == "" || m.InternalID != want {
		t.Errorf("stored InternalID: got %q, want %q", m.InternalID, want)
	}
	if !strings.HasPrefix(m.InternalID, bbb.MeetingHash("internal-room")+"-") {
		t.Errorf("InternalID %q does not start with sha1(meetingID)", m.InternalID)
	}
}

// A server whose secret is configured wrongly in tinyscale answers
// checksumError. Clients must never see that key (they would blame their
// own secret); creates go to another server.
func TestBackendChecksumError(t *testing.T) {
	h := newHarness(t, 3)
	i := h.create("wrong-secret-room")
	if err := h.bbbs[i].SetFault("checksum"); err != nil {
		t.Fatal(err)
	}
	for _, call := range []string{bbb.CallGetMeetingInfo, bbb.CallEnd, bbb.CallSendChatMessage} {
		r := h.get(call, p("meetingID", "wrong-secret-room", "message", "hi"))
		if st := r.st(t); st.MessageKey != "serverUnavailable" {
			t.Errorf("%s: got %s, want FAILED serverUnavailable", call, r)
		}
	}
	for k := 0; k < 6; k++ {
		id := fmt.Sprintf("avoid-%d", k)
		if got := h.create(id); got == i {
			t.Errorf("%s placed on the server with the wrong secret", id)
		}
	}
	if got := h.mapped("avoid-0"); got == h.ids[i] || got == "" {
		t.Errorf("avoid-0 mapped to %q", got)
	}
}

// Several tinyscale instances share one store: concurrent creates of one
// meetingID through any of them still leave exactly one meeting.
func TestCreate_ConcurrentSameMeetingID_Instances(t *testing.T) {
	h := newHarness(t, 3)
	instances := []*harness{h, h.instance(), h.instance()}
	const n = 30
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]result, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = instances[i%len(instances)].get(bbb.CallCreate, p("meetingID", "shared-room", "name", "Shared"))
		}()
	}
	close(start)
	wg.Wait()
	for i, r := range results {
		if st, err := bbb.ParseStatus(r.body); err != nil || !st.OK() {
			t.Errorf("create %d: got %s, want SUCCESS", i, r)
		}
	}
	total := 0
	for _, fb := range h.bbbs {
		total += fb.MeetingCount()
	}
	if total != 1 {
		t.Errorf("got %d meetings over all servers, want 1", total)
	}
	i := h.serverOf("shared-room")
	for k, in := range instances {
		r := in.get(bbb.CallJoin, p("meetingID", "shared-room", "fullName", "A", "role", "VIEWER"))
		if r.status != http.StatusFound || !strings.HasPrefix(r.header.Get("Location"), h.urls[i]+"/") {
			t.Errorf("join through instance %d: got %s, want 302 to %s", k, r, h.ids[i])
		}
	}
}
