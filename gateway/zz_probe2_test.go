package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/gateway"
)

func TestZZProbeBackend(t *testing.T) {
	var mode atomic.Value
	mode.Store("")
	ic := func(call string, w http.ResponseWriter, r *http.Request) bool {
		m := mode.Load().(string)
		if m == "" || call == "create" {
			return false
		}
		switch m {
		case "garbage":
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>oops</html>")
		case "404":
			http.NotFound(w, r)
		case "302":
			http.Redirect(w, r, "http://evil.example/x?checksum=abc", http.StatusFound)
		case "403":
			w.WriteHeader(403)
		case "empty":
		case "json":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"a":1}`)
		case "huge":
			w.Header().Set("Content-Type", "text/xml")
			io.WriteString(w, "<response><returncode>SUCCESS</returncode><x>")
			io.WriteString(w, strings.Repeat("y", 10<<20))
			io.WriteString(w, "</x></response>")
		case "trickle":
			w.Header().Set("Content-Type", "text/xml")
			for i := 0; i < 100; i++ {
				io.WriteString(w, "<")
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return true
				case <-time.After(50 * time.Millisecond):
				}
			}
		}
		return true
	}
	h := newHarness(t, 1, withIntercept(0, ic), withConfig(func(c *gateway.Config) { c.BackendTimeout = 700 * time.Millisecond; c.FanOutTimeout = 700 * time.Millisecond }))
	h.create("bk-room")
	for _, m := range []string{"garbage", "404", "302", "403", "empty", "json", "huge", "trickle"} {
		mode.Store(m)
		for _, call := range []string{bbb.CallGetMeetingInfo, bbb.CallIsMeetingRunning, bbb.CallEnd, bbb.CallGetMeetings, bbb.CallGetRecordings} {
			start := time.Now()
			r := h.get(call, p("meetingID", "bk-room"))
			body := string(r.body)
			if len(body) > 200 {
				body = body[:200]
			}
			t.Logf("%s %s: %d ct=%q loc=%q %v body=%s", m, call, r.status, r.header.Get("Content-Type"), r.header.Get("Location"), time.Since(start).Round(time.Millisecond), body)
		}
		r := h.get(bbb.CallJoin, p("meetingID", "bk-room", "fullName", "A", "role", "VIEWER", "redirect", "false"))
		t.Logf("%s join: %d %.200s", m, r.status, r.body)
	}
	mode.Store("")
}
