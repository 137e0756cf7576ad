package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

// BenchmarkJoin_KnownMeeting measures the hot path of a join for a meeting
// in the map: verify the checksum, one store lookup, re-sign for the
// server, answer 302. No server is called.
func BenchmarkJoin_KnownMeeting(b *testing.B) {
	h := newHarness(b, 3)
	h.create("bench-room")
	target := h.url(bbb.CallJoin, p("meetingID", "bench-room", "fullName", "Ada Lovelace", "role", "MODERATOR",
		"userID", "u-1001", "createTime", "1717171717171", "userdata-bbb_override_default_locale", "de"))
	req := httptest.NewRequest(http.MethodGet, target, nil)
	joins := h.calls(bbb.CallJoin)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.gw.ServeHTTP(w, req)
		if w.Code != http.StatusFound {
			b.Fatalf("join: got HTTP %d %s, want 302", w.Code, w.Body)
		}
	}
	b.StopTimer()
	if got := h.calls(bbb.CallJoin); got[0] != joins[0] || got[1] != joins[1] || got[2] != joins[2] {
		b.Errorf("servers got join calls: %v, want %v", got, joins)
	}
}

// BenchmarkGetMeetingInfo_KnownMeeting measures the polled call: store
// lookup plus one proxied call to the server.
func BenchmarkGetMeetingInfo_KnownMeeting(b *testing.B) {
	h := newHarness(b, 3)
	h.create("bench-info")
	target := h.url(bbb.CallGetMeetingInfo, p("meetingID", "bench-info"))
	req := httptest.NewRequest(http.MethodGet, target, nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.gw.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("getMeetingInfo: got HTTP %d", w.Code)
		}
	}
}
