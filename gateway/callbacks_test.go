package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/callback"
	"github.com/tinyscale/tinyscale/gateway"
)

// verifyFrontJWT checks a token as Greenlight and Moodle do: HS256 only,
// with the secret they share with tinyscale.
func verifyFrontJWT(t *testing.T, tok string, method jwt.SigningMethod) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(relaySecret), nil },
		jwt.WithValidMethods([]string{method.Alg()})); err != nil {
		t.Fatalf("front end cannot verify the relayed token: %v", err)
	}
	return claims
}

// signedParameters returns the signed_parameters JWT of a relayed
// recording-ready callback, checking its transport.
func signedParameters(t *testing.T, r relayReceived) string {
	t.Helper()
	if r.method != http.MethodPost {
		t.Errorf("got method %s, want POST", r.method)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("got Content-Type %q, want application/x-www-form-urlencoded", ct)
	}
	form, err := url.ParseQuery(string(r.body))
	if err != nil {
		t.Fatalf("body is not a form: %v", err)
	}
	return form.Get("signed_parameters")
}

func TestRecordingReady_Relay(t *testing.T) {
	h := newRelayHarness(t, 3)
	rc := newRelayReceiver(t)
	targets := map[string]string{}
	for i := range 3 {
		id := "ready-" + h.ids[i]
		targets[id] = rc.srv.URL + "/recording_ready?room=" + id
		h.createOn(i, id, "record", "true", "meta_bbb-recording-ready-url", targets[id], "meta_bbb-origin", "greenlight")
		m, err := h.bbbs[i].Meeting(id)
		if err != nil {
			t.Fatal(err)
		}
		got := m.Metadata["bbb-recording-ready-url"]
		if !strings.HasPrefix(got, h.srv.URL+callback.PathPrefix+callback.KindRecordingReady+"/") || strings.Contains(got, rc.srv.URL) {
			t.Errorf("%s: server got recording-ready URL %q, want a relay URL of tinyscale", id, got)
		}
		if m.Metadata["bbb-origin"] != "greenlight" {
			t.Errorf("%s: got bbb-origin %q, want greenlight", id, m.Metadata["bbb-origin"])
		}
		a := h.call(bbb.CallGetMeetingInfo, "meetingID", id)
		if v, _ := xmlText(a.body, "bbb-recording-ready-url"); v != bbb.Escape(targets[id]) {
			t.Errorf("%s: getMeetingInfo shows %q, want the client's URL %q", id, v, targets[id])
		}
	}
	for i := range 3 {
		if err := h.bbbs[i].EndMeeting("ready-" + h.ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	rc.wait(t, 3)

	// Clients reading recordings see their own URLs.
	recs, _, _ := h.recordings("meetingID", "ready-bbb1,ready-bbb2,ready-bbb3")
	if len(recs) != 3 {
		t.Fatalf("got %d recordings, want 3", len(recs))
	}
	for _, r := range recs {
		if got := r.Metadata["bbb-recording-ready-url"]; got != targets[r.MeetingID] {
			t.Errorf("getRecordings shows %q for %s, want %q", got, r.MeetingID, targets[r.MeetingID])
		}
	}

	h.settle()
	got := rc.requests()
	if len(got) != 3 {
		t.Fatalf("receiver got %d callbacks, want exactly 3", len(got))
	}
	seen := map[string]bool{}
	for _, r := range got {
		claims := verifyFrontJWT(t, signedParameters(t, r), jwt.SigningMethodHS256)
		mid, _ := claims["meeting_id"].(string)
		rid, _ := claims["record_id"].(string)
		if r.uri != "/recording_ready?room="+mid {
			t.Errorf("got request to %q, want the client's URL for %s", r.uri, mid)
		}
		if seen[mid] {
			t.Errorf("meeting %s delivered twice", mid)
		}
		seen[mid] = true
		i := h.index(strings.TrimPrefix(mid, "ready-"))
		if _, err := h.bbbs[i].Recording(rid); err != nil {
			t.Errorf("record_id %q is not a recording of %s: %v", rid, h.ids[i], err)
		}
	}
}

func (h *relayHarness) index(id string) int {
	for i, s := range h.ids {
		if s == id {
			return i
		}
	}
	h.t.Fatalf("no server %q", id)
	return -1
}

func TestRecordingReady_RetryThenOnce(t *testing.T) {
	h := newRelayHarness(t, 2)
	rc := newRelayReceiver(t, http.StatusInternalServerError, http.StatusBadGateway) // fails twice, then 200
	h.createOn(1, "flaky", "record", "true", "meta_bbb-recording-ready-url", rc.srv.URL+"/rr")
	if err := h.bbbs[1].EndMeeting("flaky"); err != nil {
		t.Fatal(err)
	}
	rc.wait(t, 3)

	// The server repeats its callback (or a second instance receives it):
	// accepted, not delivered again.
	recs := h.bbbs[1].Recordings()
	if len(recs) != 1 {
		t.Fatalf("got %d recordings, want 1", len(recs))
	}
	relay := recs[0].Metadata["bbb-recording-ready-url"]
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"meeting_id": "flaky", "record_id": recs[0].RecordID}).SignedString([]byte(h.secrets[1]))
	a := h.send(http.MethodPost, relay, "application/x-www-form-urlencoded", []byte("signed_parameters="+tok))
	if a.status != http.StatusOK {
		t.Errorf("repeated callback: got %s, want 200", a)
	}

	h.settle()
	got := rc.requests()
	if len(got) != 3 {
		t.Fatalf("receiver got %d requests, want 3 (two failures, one success)", len(got))
	}
	first := signedParameters(t, got[0])
	for i, r := range got {
		if sp := signedParameters(t, r); sp != first {
			t.Errorf("attempt %d carried another token", i+1)
		}
	}
	claims := verifyFrontJWT(t, first, jwt.SigningMethodHS256)
	if claims["meeting_id"] != "flaky" || claims["record_id"] != recs[0].RecordID {
		t.Errorf("got claims %v, want meeting_id flaky and record_id %s", claims, recs[0].RecordID)
	}
}

func TestRecordingReady_GoneIsFinal(t *testing.T) {
	h := newRelayHarness(t, 1)
	rc := newRelayReceiver(t, http.StatusGone)
	h.create("gone", "record", "true", "meta_bn-recording-ready-url", rc.srv.URL+"/bn")
	if err := h.bbbs[0].EndMeeting("gone"); err != nil {
		t.Fatal(err)
	}
	rc.wait(t, 1)
	h.settle()
	if n := len(rc.requests()); n != 1 {
		t.Errorf("got %d attempts after 410, want 1", n)
	}
}

// relayURLs creates a recorded meeting on server i with recording-ready and
// analytics URLs pointing at rc and returns the relay URLs the server got.
func (h *relayHarness) relayURLs(i int, meetingID string, rc *relayReceiver) (ready, analytics, ended string) {
	h.t.Helper()
	h.createOn(i, meetingID, "record", "true",
		"meta_bbb-recording-ready-url", rc.srv.URL+"/ready/"+meetingID,
		"meta_analytics-callback-url", rc.srv.URL+"/analytics/"+meetingID)
	m, err := h.bbbs[i].Meeting(meetingID)
	if err != nil {
		h.t.Fatal(err)
	}
	return m.Metadata["bbb-recording-ready-url"], m.Metadata["analytics-callback-url"], m.MeetingEndedURL
}

func TestCallbacks_Forged(t *testing.T) {
	h := newRelayHarness(t, 2, func(c *gateway.Config) { c.Relay.TokenTTL = time.Hour })
	rc := newRelayReceiver(t)
	ready, analytics, ended := h.relayURLs(0, "forge", rc)
	readyB, _, _ := h.relayURLs(0, "forge-b", rc)
	for _, u := range []string{ready, analytics, ended, readyB} {
		if !strings.HasPrefix(u, h.srv.URL+callback.PathPrefix) {
			t.Fatalf("got relay URL %q, want one under %s", u, h.srv.URL+callback.PathPrefix)
		}
	}
	jwtFor := func(m jwt.SigningMethod, claims jwt.MapClaims, secret string) string {
		s, err := jwt.NewWithClaims(m, claims).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	form := func(tok string) []byte { return []byte("signed_parameters=" + url.QueryEscape(tok)) }
	good := jwt.MapClaims{"meeting_id": "forge", "record_id": bbb.MeetingHash("forge") + "-1"}
	_, readyTok, _ := callback.ParseURL(ready)
	_, endedTok, _ := callback.ParseURL(ended)
	tampered := tamper(t, readyTok, rc.srv.URL, "http://evil.example")
	exp := jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()}

	tests := []struct {
		name       string
		method     string
		url        string
		header     http.Header
		body       []byte
		wantStatus int
	}{
		{"other_servers_secret", "POST", ready, nil, form(jwtFor(jwt.SigningMethodHS256, good, h.secrets[1])), 401},
		{"front_secret", "POST", ready, nil, form(jwtFor(jwt.SigningMethodHS256, good, relaySecret)), 401},
		{"hs512", "POST", ready, nil, form(jwtFor(jwt.SigningMethodHS512, good, h.secrets[0])), 401},
		{"unsigned", "POST", ready, nil, []byte("meeting_id=forge&record_id=x"), 401},
		{"empty_body", "POST", ready, nil, nil, 401},
		{"other_meeting_on_this_token", "POST", readyB, nil, form(jwtFor(jwt.SigningMethodHS256, good, h.secrets[0])), 403},
		{"tampered_target", "POST", h.srv.URL + callback.PathPrefix + "recording-ready/" + tampered, nil, form(jwtFor(jwt.SigningMethodHS256, good, h.secrets[0])), 403},
		{"garbage_token", "POST", h.srv.URL + callback.PathPrefix + "recording-ready/abc.def.ghi", nil, form(jwtFor(jwt.SigningMethodHS256, good, h.secrets[0])), 403},
		{"token_of_other_kind", "POST", h.srv.URL + callback.PathPrefix + "recording-ready/" + endedTok, nil, form(jwtFor(jwt.SigningMethodHS256, good, h.secrets[0])), 403},
		{"ended_token_as_analytics", "POST", h.srv.URL + callback.PathPrefix + "analytics/" + endedTok, http.Header{"Authorization": {"Bearer " + jwtFor(jwt.SigningMethodHS512, exp, h.secrets[0])}}, []byte("{}"), 403},
		{"unknown_kind", "POST", h.srv.URL + callback.PathPrefix + "other/" + readyTok, nil, form(jwtFor(jwt.SigningMethodHS256, good, h.secrets[0])), 404},
		{"no_token", "POST", h.srv.URL + callback.PathPrefix + "recording-ready/", nil, nil, 404},
		{"get_method", "GET", ready, nil, nil, 405},
		{"analytics_unsigned", "POST", analytics, nil, []byte(`{"meeting_id":"forge"}`), 401},
		{"analytics_other_secret", "POST", analytics, http.Header{"Authorization": {"Bearer " + jwtFor(jwt.SigningMethodHS512, exp, h.secrets[1])}}, []byte(`{"meeting_id":"forge"}`), 401},
		{"analytics_hs256", "POST", analytics, http.Header{"Authorization": {"Bearer " + jwtFor(jwt.SigningMethodHS256, exp, h.secrets[0])}}, []byte(`{"meeting_id":"forge"}`), 401},
		{"analytics_other_meeting", "POST", analytics, http.Header{"Authorization": {"Bearer " + jwtFor(jwt.SigningMethodHS512, exp, h.secrets[0])}}, []byte(`{"meeting_id":"forge-b"}`), 403},
		{"ended_tampered", "GET", h.srv.URL + callback.PathPrefix + "ended/" + tamper(t, endedTok, "forge", "forgf"), nil, nil, 403},
		{"hook_garbage", "POST", h.srv.URL + callback.PathPrefix + "hook/x.y.z", nil, []byte("domain=a"), 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, tt.url, strings.NewReader(string(tt.body)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tt.header {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("got HTTP %d, want %d", resp.StatusCode, tt.wantStatus)
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		h.now.Advance(2 * time.Hour)
		defer h.now.Advance(-2 * time.Hour)
		a := h.send(http.MethodPost, ready, "application/x-www-form-urlencoded", form(jwtFor(jwt.SigningMethodHS256, good, h.secrets[0])))
		if a.status != http.StatusForbidden {
			t.Errorf("got %s, want 403", a)
		}
	})

	if _, err := h.store.Meeting(context.Background(), "forge"); err != nil {
		t.Errorf("a refused ended call changed the meeting map: %v", err)
	}
	h.settle()
	if got := rc.requests(); len(got) != 0 {
		t.Errorf("receiver got %d requests from forged calls, want none: %+v", len(got), got)
	}
}

// tamper replaces old by new in a token's payload, keeping its signature.
func tamper(t *testing.T, tok, old, new string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	p, err := jwtSegment(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p, old) {
		t.Fatalf("payload %s does not contain %q", p, old)
	}
	parts[1] = jwtEncode(strings.Replace(p, old, new, 1))
	return strings.Join(parts, ".")
}

func TestCallbacks_TokenReachesOnlyItsTarget(t *testing.T) {
	h := newRelayHarness(t, 1)
	rcA, rcB := newRelayReceiver(t), newRelayReceiver(t)
	h.create("alpha", "record", "true", "meta_bbb-recording-ready-url", rcA.srv.URL+"/a")
	h.create("beta", "record", "true", "meta_bbb-recording-ready-url", rcB.srv.URL+"/b")
	ma, _ := h.bbbs[0].Meeting("alpha")
	relayA := ma.Metadata["bbb-recording-ready-url"]
	// beta's recording announced on alpha's relay URL: refused.
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"meeting_id": "beta", "record_id": bbb.MeetingHash("beta") + "-5"}).SignedString([]byte(h.secrets[0]))
	if a := h.send(http.MethodPost, relayA, "application/x-www-form-urlencoded", []byte("signed_parameters="+tok)); a.status != http.StatusForbidden {
		t.Errorf("got %s, want 403", a)
	}
	// alpha's own recording on alpha's relay URL goes to alpha's target only.
	tok, _ = jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"meeting_id": "alpha", "record_id": bbb.MeetingHash("alpha") + "-5"}).SignedString([]byte(h.secrets[0]))
	if a := h.send(http.MethodPost, relayA, "application/x-www-form-urlencoded", []byte("signed_parameters="+tok)); a.status != http.StatusAccepted {
		t.Errorf("got %s, want 202", a)
	}
	rcA.wait(t, 1)
	h.settle()
	if n := len(rcB.requests()); n != 0 {
		t.Errorf("beta's receiver got %d requests, want 0", n)
	}
	if got := rcA.requests(); len(got) != 1 || got[0].uri != "/a" {
		t.Errorf("alpha's receiver got %+v, want one POST to /a", got)
	}
}

func TestAnalyticsCallback_Relay(t *testing.T) {
	h := newRelayHarness(t, 2)
	rc := newRelayReceiver(t)
	target := rc.srv.URL + "/mod/bigbluebuttonbn/bbb_broker.php?action=meeting_events&x=1"
	h.createOn(1, "dash", "record", "true", "meetingKeepEvents", "true", "meta_analytics-callback-url", target)
	if err := h.bbbs[1].EndMeeting("dash"); err != nil {
		t.Fatal(err)
	}
	rc.wait(t, 1)
	h.settle()
	got := rc.requests()
	if len(got) != 1 {
		t.Fatalf("got %d analytics callbacks, want 1", len(got))
	}
	r := got[0]
	if r.method != http.MethodPost || r.uri != strings.TrimPrefix(target, rc.srv.URL) {
		t.Errorf("got %s %s, want POST to the client's URL", r.method, r.uri)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("got Content-Type %q, want application/json", ct)
	}
	bearer, ok := strings.CutPrefix(r.header.Get("Authorization"), "Bearer ")
	if !ok {
		t.Fatalf("got Authorization %q, want a Bearer token", r.header.Get("Authorization"))
	}
	verifyFrontJWT(t, bearer, jwt.SigningMethodHS512)
	var body struct {
		MeetingID  string `json:"meeting_id"`
		InternalID string `json:"internal_meeting_id"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.MeetingID != "dash" || body.InternalID == "" {
		t.Errorf("got body %s (%v), want the server's analytics JSON for dash", r.body, err)
	}
}

func TestMeetingEnded(t *testing.T) {
	h := newRelayHarness(t, 2)
	rcEnded, rcMeta := newRelayReceiver(t), newRelayReceiver(t)
	endedURL := rcEnded.srv.URL + "/ended?token=abc&x=1"
	metaURL := rcMeta.srv.URL + "/meeting_ended"
	h.createOn(1, "bye", "meetingEndedURL", endedURL, "meta_endCallbackUrl", metaURL)
	h.createOn(0, "plain")

	m, _ := h.bbbs[1].Meeting("bye")
	if !strings.HasPrefix(m.MeetingEndedURL, h.srv.URL+callback.PathPrefix+callback.KindEnded+"/") {
		t.Errorf("server got meetingEndedURL %q, want tinyscale's relay", m.MeetingEndedURL)
	}
	if m.Metadata["endcallbackurl"] != metaURL {
		t.Errorf("server got endCallbackUrl %q, want the client's URL unchanged", m.Metadata["endcallbackurl"])
	}
	if p, _ := h.bbbs[0].Meeting("plain"); !strings.HasPrefix(p.MeetingEndedURL, h.srv.URL+callback.PathPrefix+callback.KindEnded+"/") {
		t.Errorf("create without meetingEndedURL: server got %q, want tinyscale's relay added", p.MeetingEndedURL)
	}
	stored, err := h.store.Meeting(context.Background(), "bye")
	if err != nil {
		t.Fatal(err)
	}

	if err := h.bbbs[1].EndMeeting("bye"); err != nil {
		t.Fatal(err)
	}
	rcEnded.wait(t, 1)
	rcMeta.wait(t, 1)
	relayPoll(t, "meeting forgotten", func() bool {
		_, err := h.store.Meeting(context.Background(), "bye")
		return errors.Is(err, tinyscale.ErrNotFound)
	})
	// The meeting's recording will have its internal ID: indexed now.
	if sid, err := h.store.RecordingServer(context.Background(), stored.InternalID); stored.InternalID == "" || err != nil || sid != h.ids[1] {
		t.Errorf("recordings index for the ended meeting %q: got (%q, %v), want %s", stored.InternalID, sid, err, h.ids[1])
	}
	if _, err := h.store.Meeting(context.Background(), "plain"); err != nil {
		t.Errorf("another meeting was forgotten: %v", err)
	}
	h.settle()
	if got := rcEnded.requests(); len(got) != 1 || got[0].method != http.MethodGet || got[0].uri != "/ended?token=abc&x=1" {
		t.Errorf("client's meetingEndedURL got %+v, want one GET exactly as given", got)
	}
	got := rcMeta.requests()
	if len(got) != 1 || got[0].method != http.MethodGet {
		t.Fatalf("endCallbackUrl got %+v, want one GET from the server", got)
	}
	q, _ := url.ParseQuery(strings.TrimPrefix(got[0].uri, "/meeting_ended?"))
	if q.Get("meetingID") != "bye" || q.Get("recordingmarks") == "" {
		t.Errorf("endCallbackUrl got %q, want BBB's meetingID and recordingmarks", got[0].uri)
	}
}

func TestMeetingEnded_OtherServerKeepsMapping(t *testing.T) {
	h := newRelayHarness(t, 2)
	h.createOn(0, "moved")
	m, _ := h.bbbs[0].Meeting("moved")
	// The meeting has since moved to bbb2 (failover): a late ended call of
	// bbb1 must not forget it.
	if err := h.store.PutMeeting(context.Background(), tinyscale.Meeting{ID: "moved", ServerID: h.ids[1], CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	a := h.send(http.MethodGet, m.MeetingEndedURL, "", nil)
	if a.status != http.StatusOK {
		t.Errorf("got %s, want 200", a)
	}
	if got, err := h.store.Meeting(context.Background(), "moved"); err != nil || got.ServerID != h.ids[1] {
		t.Errorf("got (%+v, %v), want the meeting still mapped to %s", got, err, h.ids[1])
	}
}

func TestRecordingReady_Backpressure(t *testing.T) {
	h := newRelayHarness(t, 1, func(c *gateway.Config) { c.Relay.MaxPending = 1 })
	release := make(chan struct{})
	arrived := make(chan string, 4)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.URL.Path
		<-release
	}))
	defer target.Close()
	h.create("busy", "record", "true", "meta_bbb-recording-ready-url", target.URL+"/rr")
	m, _ := h.bbbs[0].Meeting("busy")
	relay := m.Metadata["bbb-recording-ready-url"]
	post := func(recordID string) int {
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"meeting_id": "busy", "record_id": recordID}).SignedString([]byte(h.secrets[0]))
		return h.send(http.MethodPost, relay, "application/x-www-form-urlencoded", []byte("signed_parameters="+tok)).status
	}
	if got := post("r1"); got != http.StatusAccepted {
		t.Fatalf("first callback: got HTTP %d, want 202", got)
	}
	<-arrived // the first delivery now holds the only slot
	if got := post("r2"); got != http.StatusServiceUnavailable {
		t.Errorf("second callback while full: got HTTP %d, want 503", got)
	}
	close(release)
	relayPoll(t, "slot freed", func() bool { return post("r2") == http.StatusAccepted })
	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("second recording never delivered after the server retried")
	}
}
