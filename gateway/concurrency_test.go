package gateway_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

// TestCreate_ConcurrentDifferentPasswords: concurrent creates of one
// meetingID with two sets of passwords leave exactly one meeting, and
// every client gets what one BBB server would answer: the winning set
// SUCCESS (the first create, then duplicateWarning), the other set
// idNotUnique, which Greenlight takes as "already running".
func TestCreate_ConcurrentDifferentPasswords(t *testing.T) {
	h := newHarness(t, 3)
	const n = 40
	var wg sync.WaitGroup
	start := make(chan struct{})
	res := make([]result, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res[i] = h.get(bbb.CallCreate, p("meetingID", "pw-room", "name", "Password room",
				"attendeePW", fmt.Sprintf("ap-%d", i%2), "moderatorPW", "mp-shared"))
		}()
	}
	close(start)
	wg.Wait()
	srv := h.serverOf("pw-room")
	if srv < 0 {
		t.Fatalf("pw-room runs nowhere")
	}
	m, err := h.bbbs[srv].Meeting("pw-room")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, fb := range h.bbbs {
		total += fb.MeetingCount()
	}
	if total != 1 {
		t.Errorf("got %d meetings over all servers, want 1", total)
	}
	fresh := 0
	for i, r := range res {
		st := r.st(t)
		winner := fmt.Sprintf("ap-%d", i%2) == m.AttendeePW
		switch {
		case winner && st.OK() && st.MessageKey == "":
			fresh++
		case winner && st.OK() && st.MessageKey == "duplicateWarning":
		case !winner && !st.OK() && st.MessageKey == "idNotUnique":
		default:
			t.Errorf("create %d (winning passwords: %v): got %s", i, winner, r)
		}
	}
	if fresh != 1 {
		t.Errorf("got %d fresh creates, want 1", fresh)
	}
	if got := h.mapped("pw-room"); got != h.ids[srv] {
		t.Errorf("store maps pw-room to %q, want %q", got, h.ids[srv])
	}
}

// TestCreateEnd_Race: creates and ends of one meeting racing each other
// never leave it on two servers, and a create afterwards always finds it
// (or places it) on exactly one server that the map names.
func TestCreateEnd_Race(t *testing.T) {
	h := newHarness(t, 3)
	for round := range 5 {
		id := fmt.Sprintf("race-%d", round)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				var r result
				if i%3 == 2 {
					r = h.get(bbb.CallEnd, p("meetingID", id))
				} else {
					r = h.get(bbb.CallCreate, p("meetingID", id, "name", "Race room"))
				}
				if r.status != http.StatusOK {
					t.Errorf("%s: got %s", id, r)
				}
				_ = r.st(t)
			}()
		}
		close(start)
		wg.Wait()
		h.waitIdle()
		h.serverOf(id) // fails the test if it runs on two servers
		i := h.create(id)
		if got := h.mapped(id); got != h.ids[i] {
			t.Errorf("%s runs on %s, store maps it to %q", id, h.ids[i], got)
		}
	}
}

// TestJoin_DuringFailover: joins keep coming while the meeting's server
// goes down and a create moves the meeting. Every join is answered with
// a redirect to one of the two servers or a FAILED answer, never a
// server error; once the create has moved it, joins go to the new server.
func TestJoin_DuringFailover(t *testing.T) {
	h := newHarness(t, 3)
	old := h.create("fo-join")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := h.get(bbb.CallJoin, p("meetingID", "fo-join", "fullName", "A", "role", "VIEWER"))
				switch r.status {
				case http.StatusFound:
					if !strings.HasPrefix(r.header.Get("Location"), "http://127.0.0.1:") {
						t.Errorf("join: redirect to %q", r.header.Get("Location"))
					}
				case http.StatusOK:
					if r.st(t).OK() {
						t.Errorf("join: got %s", r)
					}
				default:
					t.Errorf("join: got %s", r)
				}
			}
		}()
	}
	h.setHealth(old, false)
	r := h.get(bbb.CallCreate, p("meetingID", "fo-join", "name", "Failover join"))
	close(stop)
	wg.Wait()
	if !r.st(t).OK() {
		t.Fatalf("failover create: got %s", r)
	}
	moved := h.index(h.mapped("fo-join"))
	if moved < 0 || moved == old {
		t.Fatalf("after failover mapped to %q", h.mapped("fo-join"))
	}
	j := h.get(bbb.CallJoin, p("meetingID", "fo-join", "fullName", "A", "role", "VIEWER"))
	if j.status != http.StatusFound || !strings.HasPrefix(j.header.Get("Location"), h.urls[moved]+"/") {
		t.Errorf("join after failover: got %s (Location %q), want a redirect to %s", j, j.header.Get("Location"), h.ids[moved])
	}
}

// TestGetMeetings_ServersDying: getMeetings keeps answering SUCCESS with
// what the live servers report while servers die under it.
func TestGetMeetings_ServersDying(t *testing.T) {
	h := newHarness(t, 3)
	for k := range 6 {
		h.create(fmt.Sprintf("dying-%d", k))
	}
	survivor := h.serverOf("dying-0")
	var doomed []int
	for i := range h.bbbs {
		if i != survivor {
			doomed = append(doomed, i)
		}
	}
	var wg sync.WaitGroup
	for k := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := h.get(bbb.CallGetMeetings, nil)
			if st := r.st(t); r.status != http.StatusOK || !st.OK() {
				t.Errorf("getMeetings: got %s", r)
			}
		}()
		switch k {
		case 10:
			h.closeServer(doomed[0])
		case 20:
			h.closeServer(doomed[1])
		}
	}
	wg.Wait()
	r := h.get(bbb.CallGetMeetings, nil)
	if !strings.Contains(string(r.body), "<meetingID>dying-0</meetingID>") {
		t.Errorf("getMeetings after the deaths: got %s, want the survivor's dying-0", r)
	}
}
