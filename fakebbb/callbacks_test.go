package fakebbb_test

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tinyscale/tinyscale/fakebbb"
)

func startReceiver(t *testing.T) (*receiver, string) {
	t.Helper()
	rc := newReceiver()
	ts := httptest.NewServer(rc)
	t.Cleanup(ts.Close)
	return rc, ts.URL
}

func TestServer_EndCallbacks(t *testing.T) {
	tests := []struct {
		name      string
		endURL    string // meta_endCallbackUrl path and query on the receiver
		record    bool
		wantQuery url.Values
	}{
		{"plain", "/ended", false, url.Values{"recordingmarks": {"false"}, "meetingID": {"room 1"}}},
		{"existing_query_kept", "/ended?token=abc", true, url.Values{"token": {"abc"}, "recordingmarks": {"true"}, "meetingID": {"room 1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c := testServer(t)
			rc, base := startReceiver(t)
			q := "meta_endCallbackUrl=" + url.QueryEscape(base+tt.endURL) + "&meetingEndedURL=" + url.QueryEscape(base+"/lb/ended?m=1")
			if tt.record {
				q += "&record=true"
			}
			c.create(t, "room 1", q)
			wantResult(t, c.get("end", "meetingID=room+1"), "SUCCESS", "sentEndMeetingRequest")
			got := map[string]received{}
			for range 2 {
				r := rc.next(t)
				got[r.url.Path] = r
			}
			end, ok := got["/ended"]
			if !ok || end.method != http.MethodGet {
				t.Fatalf("got %+v, want a GET /ended", got)
			}
			if q := end.url.Query(); len(q) != len(tt.wantQuery) {
				t.Errorf("got query %v, want %v", q, tt.wantQuery)
			}
			for k, v := range tt.wantQuery {
				if end.url.Query().Get(k) != v[0] {
					t.Errorf("query %s: got %q, want %q", k, end.url.Query().Get(k), v[0])
				}
			}
			lb, ok := got["/lb/ended"]
			if !ok || lb.url.RawQuery != "m=1" {
				t.Errorf("got %+v, want GET /lb/ended?m=1 as given", lb)
			}
		})
	}
}

func TestServer_EndCallback_Retries(t *testing.T) {
	s, c := testServer(t)
	rc, base := startReceiver(t)
	rc.status = func(n int) int {
		if n == 0 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	c.create(t, "retry", "meta_endCallbackUrl="+url.QueryEscape(base+"/ended"))
	if err := s.EndMeeting("retry"); err != nil {
		t.Fatalf("end: %v", err)
	}
	rc.next(t)
	rc.next(t)
	waitIdle(t, s)
	if n := rc.count(); n != 2 {
		t.Errorf("got %d attempts, want 2", n)
	}
}

func TestServer_BreakoutsSendNoEndCallback(t *testing.T) {
	s, c := testServer(t)
	rc, base := startReceiver(t)
	c.create(t, "parent", "meta_endCallbackUrl="+url.QueryEscape(base+"/ended"))
	if _, err := s.CreateBreakouts("parent", 2); err != nil {
		t.Fatalf("breakouts: %v", err)
	}
	if err := s.EndMeeting("parent"); err != nil {
		t.Fatalf("end: %v", err)
	}
	waitIdle(t, s)
	if n := rc.count(); n != 1 {
		t.Errorf("got %d end callbacks, want 1 (the parent's)", n)
	}
}

func TestServer_RecordingReadyCallback(t *testing.T) {
	tests := []struct {
		name string
		meta string
	}{
		{"bbb", "meta_bbb-recording-ready-url"},
		{"bn_fallback", "meta_bn-recording-ready-url"},
		{"canvas_fallback", "meta_canvas-recording-ready-url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := testServer(t)
			rc, base := startReceiver(t)
			a := c.create(t, "ready", "record=true&"+tt.meta+"="+url.QueryEscape(base+"/ready"))
			if err := s.EndMeeting("ready"); err != nil {
				t.Fatalf("end: %v", err)
			}
			r := rc.next(t)
			if r.method != http.MethodPost || r.header.Get("Content-Type") != "application/x-www-form-urlencoded" {
				t.Fatalf("got %s %q, want a form POST", r.method, r.header.Get("Content-Type"))
			}
			form, err := url.ParseQuery(r.body)
			if err != nil {
				t.Fatalf("parse body %q: %v", r.body, err)
			}
			claims := jwt.MapClaims{}
			_, err = jwt.ParseWithClaims(form.Get("signed_parameters"), claims, func(*jwt.Token) (any, error) {
				return []byte(testSecret), nil
			}, jwt.WithValidMethods([]string{"HS256"}))
			if err != nil {
				t.Fatalf("verify JWT: %v", err)
			}
			if claims["meeting_id"] != "ready" || claims["record_id"] != a.InternalMeetingID {
				t.Errorf("got claims %v, want meeting_id ready, record_id %s", claims, a.InternalMeetingID)
			}
			if _, has := claims["exp"]; has {
				t.Errorf("got exp claim, want none")
			}
			// The recording is published by the time the callback arrives.
			rec, err := s.Recording(a.InternalMeetingID)
			if err != nil || rec.State != fakebbb.StatePublished {
				t.Errorf("got %+v, %v; want a published recording", rec, err)
			}
		})
	}
}

func TestServer_RecordingReady_SingleAttempt(t *testing.T) {
	s, c := testServer(t)
	rc, base := startReceiver(t)
	rc.status = func(int) int { return http.StatusInternalServerError }
	c.create(t, "once", "record=true&meta_bbb-recording-ready-url="+url.QueryEscape(base+"/ready"))
	if err := s.EndMeeting("once"); err != nil {
		t.Fatalf("end: %v", err)
	}
	rc.next(t)
	waitIdle(t, s)
	if n := rc.count(); n != 1 {
		t.Errorf("got %d attempts, want 1", n)
	}
}

func TestServer_AnalyticsCallback(t *testing.T) {
	s, c := testServer(t)
	rc, base := startReceiver(t)
	a := c.create(t, "stats", "meetingKeepEvents=true&meta_analytics-callback-url="+url.QueryEscape(base+"/analytics"))
	if err := s.AddParticipants("stats", 1); err != nil {
		t.Fatalf("add participants: %v", err)
	}
	if err := s.EndMeeting("stats"); err != nil {
		t.Fatalf("end: %v", err)
	}
	r := rc.next(t)
	if r.method != http.MethodPost || r.header.Get("Content-Type") != "application/json" || r.header.Get("User-Agent") != "BigBlueButton Analytics Callback" {
		t.Fatalf("got %s %v, want a JSON POST from the analytics script", r.method, r.header)
	}
	tok, ok := strings.CutPrefix(r.header.Get("Authorization"), "Bearer ")
	if !ok {
		t.Fatalf("got Authorization %q, want Bearer", r.header.Get("Authorization"))
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(testSecret), nil },
		jwt.WithValidMethods([]string{"HS512"}), jwt.WithExpirationRequired()); err != nil {
		t.Fatalf("verify JWT: %v", err)
	}
	var body struct {
		Version           string `json:"version"`
		MeetingID         string `json:"meeting_id"`
		InternalMeetingID string `json:"internal_meeting_id"`
		Data              struct {
			Attendees []map[string]any `json:"attendees"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatalf("parse %q: %v", r.body, err)
	}
	if body.Version != "1.0" || body.MeetingID != "stats" || body.InternalMeetingID != a.InternalMeetingID || len(body.Data.Attendees) != 1 {
		t.Errorf("got %+v, want version 1.0 for stats with one attendee", body)
	}
}

// webhookEvents verifies a webhook delivery's checksum and returns its events.
func webhookEvents(t *testing.T, r received, callbackURL, alg string) (string, []map[string]any) {
	t.Helper()
	q := r.url.Query()
	cs := q.Get("checksum")
	var want string
	switch alg {
	case "sha256":
		h := sha256.Sum256([]byte(callbackURL + r.body + testSecret))
		want = hex.EncodeToString(h[:])
	default:
		h := sha1.Sum([]byte(callbackURL + r.body + testSecret))
		want = hex.EncodeToString(h[:])
	}
	if cs != want {
		t.Errorf("got checksum %q, want %q", cs, want)
	}
	if !strings.HasPrefix(r.body, "domain=") || !strings.Contains(r.body, "&event=") || !strings.Contains(r.body, "&timestamp=") {
		t.Errorf("got body %q, want domain=…&event=…&timestamp=…", r.body)
	}
	form, err := url.ParseQuery(r.body)
	if err != nil {
		t.Fatalf("parse body: %v", err)
	}
	var evs []map[string]any
	if err := json.Unmarshal([]byte(form.Get("event")), &evs); err != nil {
		t.Fatalf("parse event %q: %v", form.Get("event"), err)
	}
	return form.Get("domain"), evs
}

func eventID(ev map[string]any) string {
	data, _ := ev["data"].(map[string]any)
	id, _ := data["id"].(string)
	return id
}

func TestServer_Webhooks(t *testing.T) {
	s, c := testServer(t)
	rc, base := startReceiver(t)
	global := base + "/global"
	filtered := base + "/filtered?token=1"
	wantResult(t, c.get("hooks/create", "callbackURL="+url.QueryEscape(global)), "SUCCESS", "")
	wantResult(t, c.get("hooks/create", "callbackURL="+url.QueryEscape(filtered)+"&meetingID=hooked&eventID=meeting-created,Meeting-Ended"), "SUCCESS", "")

	c.create(t, "other", "")
	c.create(t, "hooked", "record=true")
	if err := s.AddParticipants("hooked", 1); err != nil {
		t.Fatalf("add participants: %v", err)
	}
	if err := s.EndMeeting("hooked"); err != nil {
		t.Fatalf("end: %v", err)
	}
	waitIdle(t, s)

	byPath := map[string][]string{}
	for range rc.count() {
		r := rc.next(t)
		cb := global
		if r.url.Path == "/filtered" {
			cb = filtered
			if r.url.Query().Get("token") != "1" {
				t.Errorf("got query %q, want the registered token kept", r.url.RawQuery)
			}
		}
		domain, evs := webhookEvents(t, r, cb, "sha1")
		if want := strings.TrimPrefix(s.URL, "http://"); domain != want {
			t.Errorf("got domain %q, want %q", domain, want)
		}
		for _, ev := range evs {
			byPath[r.url.Path] = append(byPath[r.url.Path], eventID(ev))
		}
	}
	wantGlobal := "meeting-created,meeting-created,user-joined,user-left,meeting-ended,rap-publish-ended"
	if got := strings.Join(byPath["/global"], ","); got != wantGlobal {
		t.Errorf("global hook got %s, want %s", got, wantGlobal)
	}
	if got := strings.Join(byPath["/filtered"], ","); got != "meeting-created,meeting-ended" {
		t.Errorf("filtered hook got %s, want meeting-created,meeting-ended", got)
	}
}

func TestServer_Webhooks_RetryAndAlgorithm(t *testing.T) {
	s, c := testServer(t, func(s *fakebbb.Server) { s.HookChecksumAlgorithm = "sha256" })
	rc, base := startReceiver(t)
	rc.status = func(n int) int {
		switch n {
		case 0:
			return http.StatusBadGateway
		case 1:
			return http.StatusUnauthorized // counts as delivered
		}
		return http.StatusOK
	}
	wantResult(t, c.get("hooks/create", "callbackURL="+url.QueryEscape(base+"/cb")), "SUCCESS", "")
	c.create(t, "m1", "")
	first, second := rc.next(t), rc.next(t)
	waitIdle(t, s)
	if n := rc.count(); n != 2 {
		t.Errorf("got %d deliveries, want 2 (one retry, 401 accepted)", n)
	}
	if first.body != second.body {
		t.Errorf("got a changed body on retry: %q then %q", first.body, second.body)
	}
	webhookEvents(t, second, base+"/cb", "sha256")
}

func TestServer_HooksAPI(t *testing.T) {
	s, c := testServer(t)
	tests := []struct {
		name, call, query, code, key, hookID string
	}{
		{"create", "hooks/create", "callbackURL=http%3A%2F%2Fa.example%2F1", "SUCCESS", "", "1"},
		{"create_meeting_hook", "hooks/create", "callbackURL=http%3A%2F%2Fa.example%2F2&meetingID=m1&getRaw=true", "SUCCESS", "", "2"},
		{"duplicate", "hooks/create", "callbackURL=http%3A%2F%2Fa.example%2F1&meetingID=zz", "SUCCESS", "duplicateWarning", "1"},
		{"missing_callback", "hooks/create", "meetingID=m1", "FAILED", "missingParamCallbackURL", ""},
		{"bad_get_raw", "hooks/create", "callbackURL=http%3A%2F%2Fa.example%2F3&getRaw=maybe", "FAILED", "createHookError", ""},
		{"destroy_missing_id", "hooks/destroy", "", "FAILED", "missingParamHookID", ""},
		{"destroy_unknown", "hooks/destroy", "hookID=99", "FAILED", "destroyMissingHook", ""},
		{"destroy_not_number", "hooks/destroy", "hookID=x", "FAILED", "destroyMissingHook", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := wantResult(t, c.get(tt.call, tt.query), tt.code, tt.key)
			if a.HookID != tt.hookID {
				t.Errorf("got hookID %q, want %q", a.HookID, tt.hookID)
			}
		})
	}
	t.Run("list_all", func(t *testing.T) {
		a := wantResult(t, c.get("hooks/list", ""), "SUCCESS", "")
		if len(a.Hooks) != 2 || a.Hooks[1].MeetingID != "m1" || a.Hooks[0].CallbackURL != "http://a.example/1" {
			t.Errorf("got %+v, want two hooks", a.Hooks)
		}
	})
	t.Run("list_meeting", func(t *testing.T) {
		a := wantResult(t, c.get("hooks/list", "meetingID=other"), "SUCCESS", "")
		if len(a.Hooks) != 1 || a.Hooks[0].HookID != "1" {
			t.Errorf("got %+v, want only the global hook", a.Hooks)
		}
	})
	t.Run("upper_case_checksum_rejected", func(t *testing.T) {
		q := "callbackURL=http%3A%2F%2Fa.example%2F9"
		cs := strings.ToUpper(sum("sha1", "hooks/create", q, testSecret))
		a := wantResult(t, c.do(http.MethodGet, "/bigbluebutton/api/hooks/create?"+q+"&checksum="+cs, "", ""), "FAILED", "checksumError")
		if a.Message != "You did not pass the checksum security check." {
			t.Errorf("got message %q, want bbb-webhooks' wording", a.Message)
		}
	})
	t.Run("sha1_accepted", func(t *testing.T) {
		q := "callbackURL=http%3A%2F%2Fa.example%2F9"
		wantResult(t, c.do(http.MethodGet, "/bigbluebutton/api/hooks/create?"+q+"&checksum="+sum("sha1", "hooks/create", q, testSecret), "", ""), "SUCCESS", "")
	})
	t.Run("destroy", func(t *testing.T) {
		wantResult(t, c.get("hooks/destroy", "hookID=2"), "SUCCESS", "")
		if hs := s.Hooks(); len(hs) != 2 || hs[0].ID != 1 || hs[1].ID != 3 {
			t.Errorf("got %+v, want hooks 1 and 3", hs)
		}
	})
	t.Run("ping", func(t *testing.T) {
		r := c.do(http.MethodGet, "/bigbluebutton/api/hooks/ping", "", "")
		if r.body != "bbb-webhooks API up!" {
			t.Errorf("got %q, want the ping text", r.body)
		}
	})
}

func TestServer_Close_StopsCallbacks(t *testing.T) {
	s, c := testServer(t)
	block := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(ts.Close)
	t.Cleanup(func() { close(block) })
	wantResult(t, c.get("hooks/create", "callbackURL="+url.QueryEscape(ts.URL)), "SUCCESS", "")
	c.create(t, "m1", "")
	done := make(chan struct{})
	go func() {
		_ = s.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return while a callback was in flight")
	}
	// Work scheduled after Close is dropped.
	c.create(t, "m2", "")
	waitIdle(t, s)
}
