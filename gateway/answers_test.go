package gateway_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/fakebbb"
	"github.com/tinyscale/tinyscale/gateway"
)

// TestForward_NotABBBAnswer: a server (or a proxy in front of it) that
// answers a forwarded call with something other than a BBB answer is
// treated like one that cannot be reached: the client gets tinyscale's
// BBB-shaped answer for that case, never the other page, status or
// redirect. A server's checksumError (tinyscale's secret for it is wrong)
// reaches no client either. Before, getMeetingInfo, isMeetingRunning,
// end, join with redirect=false and the recording calls relayed
// whatever came back: an HTML error page, an empty 200, a 404, or a 302
// to wherever the server pointed, and the recording calls relayed a
// server's checksumError.
func TestForward_NotABBBAnswer(t *testing.T) {
	var mode atomic.Value
	mode.Store("")
	misbehave := func(call string, w http.ResponseWriter, r *http.Request) bool {
		m := mode.Load().(string)
		if m == "" || call == bbb.CallCreate || call == bbb.CallGetRecordings {
			return false
		}
		switch m {
		case "html_200":
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html><body>502 Bad Gateway from the proxy</body></html>")
		case "empty_200":
		case "truncated_200":
			w.Header().Set("Content-Type", "text/xml")
			_, _ = io.WriteString(w, "<response><returncode>SUCCESS</returncode><meetingName>Odd")
		case "json_200":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"error":"nope"}`)
		case "not_found":
			http.NotFound(w, r)
		case "redirect":
			http.Redirect(w, r, "https://elsewhere.example/login?next=x", http.StatusFound)
		case "forbidden":
			w.WriteHeader(http.StatusForbidden)
		case "xml_with_declaration":
			// A real answer with a BOM and an XML declaration: relayed.
			w.Header().Set("Content-Type", "text/xml")
			_, _ = io.WriteString(w, "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>\n<returncode>SUCCESS</returncode><running>true</running><published>true</published><tracks/></response>")
		case "checksum_error":
			w.Header().Set("Content-Type", "text/xml")
			_, _ = io.WriteString(w, "<response><returncode>FAILED</returncode><messageKey>checksumError</messageKey><message>You did not pass the checksum security check</message></response>")
		}
		return true
	}
	h := newHarness(t, 1, withIntercept(0, misbehave))
	h.create("odd-room")
	recs, err := h.bbbs[0].AddRecordings("odd-room", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	recID := recs[0].RecordID
	// Index the recording while the server still behaves.
	if r := h.get(bbb.CallGetRecordings, p("meetingID", "odd-room")); !strings.Contains(string(r.body), recID) {
		t.Fatalf("getRecordings: got %s, want %s", r, recID)
	}
	calls := []struct {
		name    string
		call    string
		params  []param
		wantKey string // messageKey of tinyscale's own answer; "" for running=false
	}{
		{name: "get_meeting_info", call: bbb.CallGetMeetingInfo, params: p("meetingID", "odd-room"), wantKey: "notFound"},
		{name: "is_meeting_running", call: bbb.CallIsMeetingRunning, params: p("meetingID", "odd-room")},
		{name: "end", call: bbb.CallEnd, params: p("meetingID", "odd-room"), wantKey: "serverUnavailable"},
		{name: "join_xml", call: bbb.CallJoin, params: p("meetingID", "odd-room", "fullName", "A", "role", "VIEWER", "redirect", "false"), wantKey: "serverUnavailable"},
		{name: "publish", call: bbb.CallPublishRecordings, params: p("recordID", recID, "publish", "false"), wantKey: "serverUnavailable"},
		{name: "text_tracks", call: bbb.CallGetRecordingTextTracks, params: p("recordID", recID), wantKey: "serverUnavailable"},
	}
	for _, m := range []string{"html_200", "empty_200", "truncated_200", "json_200", "not_found", "redirect", "forbidden", "checksum_error", "xml_with_declaration"} {
		for _, c := range calls {
			t.Run(m+"_"+c.name, func(t *testing.T) {
				mode.Store(m)
				defer mode.Store("")
				r := h.get(c.call, c.params)
				if r.status != http.StatusOK {
					t.Fatalf("got %s, want HTTP 200", r)
				}
				if loc := r.header.Get("Location"); loc != "" {
					t.Errorf("Location %q relayed", loc)
				}
				if m == "xml_with_declaration" {
					if !strings.Contains(string(r.body), "<returncode>SUCCESS</returncode>") {
						t.Errorf("a well-formed answer was not relayed: got %s", r)
					}
					return
				}
				st := r.st(t)
				want := c.wantKey
				if m == "checksum_error" {
					// tinyscale's own configuration is wrong: said so for every call.
					want = "serverUnavailable"
				}
				if want == "" {
					if !st.OK() || !strings.Contains(string(r.body), "<running>false</running>") {
						t.Errorf("got %s, want running=false", r)
					}
					return
				}
				if st.OK() || st.MessageKey != want {
					t.Errorf("got %s, want FAILED %s", r, want)
				}
			})
		}
	}
}

// TestRecordingCalls_ListSpanningServers_BadServer: a recordID list whose
// recordings lie on two servers, one of which tinyscale signs for with
// the wrong secret (it answers checksumError) while the other no longer
// has its recording. The client must not see checksumError (it would
// blame its own secret) nor notFound (the first recording may well
// exist): serverUnavailable. Before, the server's checksumError was
// relayed.
func TestRecordingCalls_ListSpanningServers_BadServer(t *testing.T) {
	h := newHarness(t, 2)
	a, err := h.bbbs[0].AddRecordings("span-a", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.bbbs[1].AddRecordings("span-b", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := a[0].RecordID + "," + b[0].RecordID
	if r := h.get(bbb.CallGetRecordings, p("recordID", ids)); strings.Count(string(r.body), "<recording>") != 2 {
		t.Fatalf("getRecordings: got %s, want both recordings", r)
	}
	// The second server loses its recording, the first rejects tinyscale.
	if _, err := h.backendClient(1).Get(context.Background(), bbb.CallDeleteRecordings, "recordID="+b[0].RecordID); err != nil {
		t.Fatal(err)
	}
	if err := h.bbbs[0].SetFault(fakebbb.FaultChecksum); err != nil {
		t.Fatal(err)
	}
	for _, call := range []string{bbb.CallPublishRecordings, bbb.CallUpdateRecordings, bbb.CallDeleteRecordings} {
		t.Run(call, func(t *testing.T) {
			r := h.get(call, p("recordID", ids, "publish", "true", "meta_x", "y"))
			if st := r.st(t); st.OK() || st.MessageKey != "serverUnavailable" {
				t.Errorf("got %s, want FAILED serverUnavailable", r)
			}
		})
	}
}

// gatedStore blocks Meetings (the whole-map read of a getMeetings
// learning run) until gate is closed, and records how many calls were
// in it at once.
type gatedStore struct {
	tinyscale.Store
	gate          chan struct{}
	inFlight, max atomic.Int32
}

func (s *gatedStore) Meetings(ctx context.Context) ([]tinyscale.Meeting, error) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.max.Load()
		if n <= m || s.max.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case <-s.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Store.Meetings(ctx)
}

// TestGetMeetings_OneLearningRunAtATime: each getMeetings that sees
// meetings learns those missing from the map in the background, which
// reads the whole map. Concurrent getMeetings (a polled call) must not
// pile up one such goroutine each; before, 20 concurrent calls started
// 20 runs.
func TestGetMeetings_OneLearningRunAtATime(t *testing.T) {
	var gs *gatedStore
	h := newHarness(t, 2, withConfig(func(c *gateway.Config) {
		gs = &gatedStore{Store: c.Store, gate: make(chan struct{})}
		c.Store = gs
	}))
	h.createDirect(0, "learn-me")
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := h.get(bbb.CallGetMeetings, nil); !strings.Contains(string(r.body), "learn-me") {
				t.Errorf("getMeetings: got %s, want learn-me", r)
			}
		}()
	}
	wg.Wait()
	waitFor(t, "a learning run", func() bool { return gs.inFlight.Load() > 0 })
	close(gs.gate)
	waitFor(t, "learn-me in the map", func() bool { return h.mapped("learn-me") == h.ids[0] })
	if got := gs.max.Load(); got != 1 {
		t.Errorf("got %d learning runs at once, want 1", got)
	}
}

// TestSendChatMessage_EndedMeeting: a client sees the same answer for a
// chat message to a meeting that does not run whether tinyscale still
// maps it (the server answers) or not (tinyscale answers): BBB 3.0's
// meetingNotFound. Before, tinyscale's own answer was notFound.
func TestSendChatMessage_EndedMeeting(t *testing.T) {
	h := newHarness(t, 2, withConfig(func(c *gateway.Config) { c.NegativeTTL = -1 }))
	i := h.create("chat-room")
	// The meeting ends on its server without tinyscale hearing of it.
	h.bbbs[i].Reset()
	mapped := h.get(bbb.CallSendChatMessage, p("meetingID", "chat-room", "message", "hi"))
	unknown := h.get(bbb.CallSendChatMessage, p("meetingID", "never-created", "message", "hi"))
	for name, r := range map[string]result{"mapped": mapped, "unknown": unknown} {
		if st := r.st(t); st.OK() || st.MessageKey != "meetingNotFound" {
			t.Errorf("%s: got %s, want FAILED meetingNotFound", name, r)
		}
	}
}

// TestCordoned_StaleMapping: the map still names a cordoned server for a
// meeting that ended there unnoticed (its meetingEndedURL call was lost).
// A cordoned server takes no new meetings, so the next create must place
// the meeting elsewhere instead of creating it anew on the cordoned
// server, as it did before (only disabled servers were checked).
func TestCordoned_StaleMapping(t *testing.T) {
	h := newHarness(t, 3)
	c := h.create("stale-room")
	h.setState(c, tinyscale.StateCordoned)
	h.bbbs[c].Reset() // the meeting is gone; tinyscale does not know
	i := h.create("stale-room")
	if i == c {
		t.Errorf("stale-room created anew on the cordoned server %s", h.ids[c])
	}
	if got := h.mapped("stale-room"); got != h.ids[i] {
		t.Errorf("store maps stale-room to %q, want %q", got, h.ids[i])
	}
	// A meeting that still runs on the cordoned server stays there.
	h.createDirect(c, "live-room")
	h.create("live-room")
	if got := h.serverOf("live-room"); got != c {
		t.Errorf("live-room moved to %d, want it kept on the cordoned %s", got, h.ids[c])
	}
}

// TestFailover_CheckFailsOnce: a create for a meeting on a disabled
// server first asks that server whether the meeting still runs; if that
// check fails (a timeout, a 500), tinyscale cannot tell and answers
// serverUnavailable, leaving the meeting where it is; the client's retry
// finds it there. Before, a failed check counted as "not running" and the
// meeting was started a second time on another server.
func TestFailover_CheckFailsOnce(t *testing.T) {
	var failNext atomic.Bool
	flaky := func(call string, w http.ResponseWriter, r *http.Request) bool {
		if call == bbb.CallGetMeetingInfo && failNext.CompareAndSwap(true, false) {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	h := newHarness(t, 3, withIntercept(0, flaky))
	h.createDirect(0, "flaky-room")
	h.create("flaky-room")
	h.setState(0, tinyscale.StateDisabled)
	failNext.Store(true)
	r := h.get(bbb.CallCreate, p("meetingID", "flaky-room", "name", "Room flaky-room"))
	if st := r.st(t); st.OK() || st.MessageKey != "serverUnavailable" {
		t.Errorf("create while the check fails: got %s, want FAILED serverUnavailable", r)
	}
	if got := h.serverOf("flaky-room"); got != 0 {
		t.Errorf("flaky-room runs on %d, want only %s", got, h.ids[0])
	}
	if got := h.create("flaky-room"); got != 0 {
		t.Errorf("retried create went to %s, want the meeting kept on %s", h.ids[got], h.ids[0])
	}
	if got := h.mapped("flaky-room"); got != h.ids[0] {
		t.Errorf("store maps flaky-room to %q, want %s", got, h.ids[0])
	}
}
