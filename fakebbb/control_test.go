package fakebbb_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/fakebbb"
)

func TestServer_Faults(t *testing.T) {
	tests := []struct {
		name  string
		fault fakebbb.Fault
		check func(t *testing.T, c *client)
	}{
		{"error500", fakebbb.FaultError500, func(t *testing.T, c *client) {
			if r := c.get("getMeetings", ""); r.status != http.StatusInternalServerError {
				t.Errorf("got status %d, want 500", r.status)
			}
		}},
		{"badxml", fakebbb.FaultBadXML, func(t *testing.T, c *client) {
			r := c.get("getMeetings", "")
			if r.status != http.StatusOK {
				t.Errorf("got status %d, want 200", r.status)
			}
			var v struct{}
			if err := xmlUnmarshal(r.body, &v); err == nil {
				t.Errorf("got well-formed XML %q, want garbage", r.body)
			}
		}},
		{"checksum", fakebbb.FaultChecksum, func(t *testing.T, c *client) {
			wantResult(t, c.get("getMeetings", ""), "FAILED", "checksumError")
			wantResult(t, c.do(http.MethodGet, "/bigbluebutton/api/", "", ""), "SUCCESS", "")
		}},
		{"drop", fakebbb.FaultDrop, func(t *testing.T, c *client) {
			_, err := c.hc.Get(c.base + "/bigbluebutton/api/getMeetings?" + signQuery("getMeetings", "", testSecret))
			if err == nil {
				t.Errorf("got an answer, want a dropped connection")
			}
		}},
		{"hang", fakebbb.FaultHang, func(t *testing.T, c *client) {
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/bigbluebutton/api/getMeetings?"+signQuery("getMeetings", "", testSecret), nil)
			errc := make(chan error, 1)
			go func() {
				resp, err := c.hc.Do(req)
				if err == nil {
					resp.Body.Close()
				}
				errc <- err
			}()
			// The call must not be answered; cancelling it ends it.
			select {
			case err := <-errc:
				t.Fatalf("got an answer (err %v) from a hanging server", err)
			case <-time.After(50 * time.Millisecond):
			}
			cancel()
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want context.Canceled", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := testServer(t)
			if err := s.SetFault(tt.fault); err != nil {
				t.Fatalf("set fault: %v", err)
			}
			tt.check(t, c)
			if err := s.SetFault(fakebbb.FaultNone); err != nil {
				t.Fatalf("clear fault: %v", err)
			}
			wantResult(t, c.get("getMeetings", ""), "SUCCESS", "noMeetings")
		})
	}
	t.Run("per_call", func(t *testing.T) {
		s, c := testServer(t)
		if err := s.SetCallFault("getMeetings", fakebbb.FaultError500); err != nil {
			t.Fatalf("set fault: %v", err)
		}
		if r := c.get("getMeetings", ""); r.status != http.StatusInternalServerError {
			t.Errorf("got status %d, want 500", r.status)
		}
		wantRunning(t, c, "other", "false")
	})
	t.Run("unknown", func(t *testing.T) {
		s := &fakebbb.Server{}
		if err := s.SetFault("explode"); err == nil {
			t.Errorf("got nil error, want one")
		}
	})
}

func xmlUnmarshal(s string, v any) error {
	return xmlDecode(strings.NewReader(s), v)
}

func TestServer_Latency(t *testing.T) {
	s, c := testServer(t, func(s *fakebbb.Server) { s.Latency = time.Millisecond })
	wantResult(t, c.get("getMeetings", ""), "SUCCESS", "noMeetings")
	s.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/bigbluebutton/api/getMeetings?"+signQuery("getMeetings", "", testSecret), nil)
	if resp, err := c.hc.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("got an answer before the latency passed")
	}
	s.SetLatency(0)
	wantResult(t, c.get("getMeetings", ""), "SUCCESS", "noMeetings")
}

func TestServer_Intercept(t *testing.T) {
	_, c := testServer(t, func(s *fakebbb.Server) {
		s.Intercept = func(call string, w http.ResponseWriter, r *http.Request) bool {
			if call != "getMeetings" {
				return false
			}
			w.WriteHeader(http.StatusTeapot)
			return true
		}
	})
	if r := c.get("getMeetings", ""); r.status != http.StatusTeapot {
		t.Errorf("got status %d, want 418", r.status)
	}
	wantRunning(t, c, "x1", "false")
}

func TestServer_Calls(t *testing.T) {
	s, c := testServer(t)
	c.do(http.MethodGet, "/bigbluebutton/api", "", "")
	c.create(t, "calls", "")
	c.get("join", "meetingID=calls&fullName=A&role=VIEWER")
	c.get("join", "meetingID=calls&fullName=B&checksum=bad")
	c.get("hooks/list", "")
	tests := []struct {
		name, call string
		want       int
	}{
		{"index", "", 1},
		{"create", "create", 1},
		{"join", "join", 2},
		{"hooks_list", "hooks/list", 1},
		{"none", "getMeetingInfo", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Calls(tt.call); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// control sends a control request and decodes the JSON answer.
func (c *client) control(t *testing.T, method, path string, wantStatus int, v any) {
	t.Helper()
	req, _ := http.NewRequest(method, c.base+path, nil)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: got status %d, want %d (body %s)", method, path, resp.StatusCode, wantStatus, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("got Content-Type %q, want application/json", ct)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
	}
}

func TestServer_ControlEndpoints(t *testing.T) {
	s, c := testServer(t)
	c.create(t, "ctl room", "record=true")

	var m fakebbb.Meeting
	c.control(t, http.MethodPost, "/fakebbb/meetings/ctl%20room/participants?n=3", http.StatusOK, &m)
	if m.Participants != 3 {
		t.Errorf("got %d participants, want 3", m.Participants)
	}
	c.control(t, http.MethodPost, "/fakebbb/meetings/ctl%20room/participants?n=-1", http.StatusOK, &m)
	if m.Participants != 2 {
		t.Errorf("got %d participants, want 2", m.Participants)
	}
	var br map[string][]string
	c.control(t, http.MethodPost, "/fakebbb/meetings/ctl%20room/breakouts?n=2", http.StatusOK, &br)
	if len(br["breakouts"]) != 2 {
		t.Errorf("got %v, want 2 breakouts", br)
	}
	var recs map[string][]fakebbb.Recording
	c.control(t, http.MethodPost, "/fakebbb/recordings?meetingID=old+room&n=2&meta_bbb-origin=Moodle", http.StatusOK, &recs)
	if len(recs["recordings"]) != 2 || recs["recordings"][0].Metadata["bbb-origin"] != "Moodle" {
		t.Errorf("got %+v, want 2 recordings with metadata", recs)
	}
	c.control(t, http.MethodPost, "/fakebbb/latency?d=1ms", http.StatusOK, nil)
	c.control(t, http.MethodPost, "/fakebbb/fault?mode=error500&call=getMeetings", http.StatusOK, nil)
	if r := c.get("getMeetings", ""); r.status != http.StatusInternalServerError {
		t.Errorf("got status %d after setting the fault, want 500", r.status)
	}
	c.control(t, http.MethodPost, "/fakebbb/fault?mode=none&call=getMeetings", http.StatusOK, nil)

	var st fakebbb.State
	c.control(t, http.MethodGet, "/fakebbb/state", http.StatusOK, &st)
	if len(st.Meetings) != 3 || len(st.Recordings) != 2 || st.Calls["create"] != 1 || st.Latency != "1ms" {
		t.Errorf("got state %+v, want 3 meetings, 2 recordings, 1 create, 1ms", st)
	}

	c.control(t, http.MethodPost, "/fakebbb/meetings/ctl%20room/end", http.StatusOK, nil)
	waitIdle(t, s)
	if n := s.MeetingCount(); n != 0 {
		t.Errorf("got %d meetings after end, want 0", n)
	}
	if n := len(s.Recordings()); n != 3 {
		t.Errorf("got %d recordings after ending a recorded meeting, want 3", n)
	}

	errorsTests := []struct {
		name, method, path string
		status             int
	}{
		{"unknown_meeting", http.MethodPost, "/fakebbb/meetings/nope/end", http.StatusNotFound},
		{"bad_n", http.MethodPost, "/fakebbb/meetings/nope/participants?n=x", http.StatusBadRequest},
		{"bad_fault", http.MethodPost, "/fakebbb/fault?mode=explode", http.StatusBadRequest},
		{"bad_latency", http.MethodPost, "/fakebbb/latency?d=soon", http.StatusBadRequest},
		{"recordings_without_meeting", http.MethodPost, "/fakebbb/recordings", http.StatusBadRequest},
		{"unknown_endpoint", http.MethodGet, "/fakebbb/nothing", http.StatusNotFound},
		{"wrong_method", http.MethodGet, "/fakebbb/reset", http.StatusMethodNotAllowed},
	}
	for _, tt := range errorsTests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, c.base+tt.path, nil)
			resp, err := c.hc.Do(req)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("got status %d, want %d", resp.StatusCode, tt.status)
			}
		})
	}

	c.control(t, http.MethodPost, "/fakebbb/reset", http.StatusOK, nil)
	if n := len(s.Recordings()); n != 0 || s.Calls("create") != 0 {
		t.Errorf("got %d recordings, %d creates after reset, want 0", n, s.Calls("create"))
	}
}

func TestServer_ZeroValue(t *testing.T) {
	// A zero Server works as a handler: no secret, URL from the request.
	var s fakebbb.Server
	defer s.Close()
	r := httptestDo(&s, http.MethodGet, "/bigbluebutton/api/create?meetingID=zero&name=Zero")
	if !strings.Contains(r, "<returncode>SUCCESS</returncode>") {
		t.Errorf("got %s, want SUCCESS", r)
	}
	if n := s.MeetingCount(); n != 1 {
		t.Errorf("got %d meetings, want 1", n)
	}
}
