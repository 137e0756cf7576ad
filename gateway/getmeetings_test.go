package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/gateway"
)

// holdGetMeetings makes a fake server hold its getMeetings answers, once
// held is set, until release is closed (or the caller gives up), counting
// them in arrived and the given-up ones in canceled.
type holdGetMeetings struct {
	held              atomic.Bool
	release           chan struct{}
	arrived, canceled atomic.Int32
}

func newHold() *holdGetMeetings {
	h := &holdGetMeetings{release: make(chan struct{})}
	h.held.Store(true)
	return h
}

func (h *holdGetMeetings) intercept(call string, w http.ResponseWriter, r *http.Request) bool {
	if call != bbb.CallGetMeetings || !h.held.Load() {
		return false
	}
	h.arrived.Add(1)
	select {
	case <-h.release:
		return false // answer normally
	case <-r.Context().Done():
		h.canceled.Add(1)
		return true
	}
}

// TestGetMeetings_SharedFanOut: getMeetings that arrive while a fan-out
// is in flight wait for it instead of starting their own; the next
// getMeetings after it starts a new one (nothing is cached).
func TestGetMeetings_SharedFanOut(t *testing.T) {
	hold := newHold()
	hold.held.Store(false)
	h := newHarness(t, 3, withIntercept(0, hold.intercept))
	for k := range 3 {
		h.create(fmt.Sprintf("shared-%d", k))
	}
	hold.held.Store(true)
	before := h.calls(bbb.CallGetMeetings)

	const n = 8
	var wg sync.WaitGroup
	bodies := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bodies[i] = string(h.get(bbb.CallGetMeetings, nil).body)
		}()
	}
	waitFor(t, "8 getMeetings waiting for one fan-out", func() bool { return gateway.RoundWaiters(h.gw) == n })
	close(hold.release)
	wg.Wait()
	for i, b := range bodies {
		if b != bodies[0] || strings.Count(b, "<meeting>") != 3 {
			t.Errorf("answer %d: got %s, want the 3 meetings, as answer 0: %s", i, b, bodies[0])
		}
	}
	after := h.calls(bbb.CallGetMeetings)
	for i := range after {
		if got := after[i] - before[i]; got != 1 {
			t.Errorf("%s: got %d getMeetings calls for %d concurrent requests, want 1", h.ids[i], got, n)
		}
	}

	// The next one asks the servers again.
	r := h.get(bbb.CallGetMeetings, nil)
	if strings.Count(string(r.body), "<meeting>") != 3 {
		t.Errorf("next getMeetings: got %s, want the 3 meetings", r)
	}
	again := h.calls(bbb.CallGetMeetings)
	for i := range again {
		if got := again[i] - after[i]; got != 1 {
			t.Errorf("%s: got %d getMeetings calls for the next request, want 1", h.ids[i], got)
		}
	}
}

// TestGetMeetings_ClientGone: when the only client waiting for a fan-out
// goes away, the fan-out is canceled (the servers' requests end), and the
// next getMeetings starts afresh.
func TestGetMeetings_ClientGone(t *testing.T) {
	hold := newHold()
	h := newHarness(t, 2, withIntercept(0, hold.intercept))
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url(bbb.CallGetMeetings, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		resp, err := h.http.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	waitFor(t, "the fan-out to reach the held server", func() bool { return hold.arrived.Load() == 1 })
	cancel()
	if err := <-errc; err == nil {
		t.Errorf("canceled request: got an answer, want an error")
	}
	waitFor(t, "the held server's request to be canceled", func() bool { return hold.canceled.Load() == 1 })
	waitFor(t, "no fan-out in flight", func() bool { return gateway.RoundWaiters(h.gw) == 0 })

	close(hold.release)
	h.create("after-cancel")
	if r := h.get(bbb.CallGetMeetings, nil); !strings.Contains(string(r.body), "after-cancel") {
		t.Errorf("getMeetings after the cancel: got %s, want after-cancel listed", r)
	}
}

// countingStore counts whole-map reads.
type countingStore struct {
	tinyscale.Store
	reads atomic.Int32
}

func (s *countingStore) Meetings(ctx context.Context) ([]tinyscale.Meeting, error) {
	s.reads.Add(1)
	return s.Store.Meetings(ctx)
}

// TestGetMeetings_LearnReadsMapOnlyForNewMeetings: the background learning
// of a getMeetings reads the whole map only when a server lists a meeting
// that an earlier run did not find in it; a getMeetings polled while the
// servers' meetings stay the same costs no store read.
func TestGetMeetings_LearnReadsMapOnlyForNewMeetings(t *testing.T) {
	var cs *countingStore
	h := newHarness(t, 2, withConfig(func(c *gateway.Config) {
		cs = &countingStore{Store: c.Store}
		c.Store = cs
	}))
	learned := func() {
		t.Helper()
		waitFor(t, "the learning run to end", func() bool { return !gateway.Learning(h.gw) })
	}
	h.create("mapped")
	h.createDirect(1, "direct-1")
	h.get(bbb.CallGetMeetings, nil)
	waitFor(t, "direct-1 learned", func() bool { return h.mapped("direct-1") == h.ids[1] })
	learned()
	if got := cs.reads.Load(); got != 1 {
		t.Errorf("first getMeetings: got %d map reads, want 1", got)
	}
	for range 3 {
		h.get(bbb.CallGetMeetings, nil)
		learned()
	}
	if got := cs.reads.Load(); got != 1 {
		t.Errorf("unchanged meetings: got %d map reads in all, want still 1", got)
	}
	h.createDirect(0, "direct-2")
	h.get(bbb.CallGetMeetings, nil)
	waitFor(t, "direct-2 learned", func() bool { return h.mapped("direct-2") == h.ids[0] })
	learned()
	if got := cs.reads.Load(); got != 2 {
		t.Errorf("after a new meeting: got %d map reads in all, want 2", got)
	}
}

// TestGetMeetings_LearnsManyAtOnce: many meetings created directly on the
// servers are learned by one getMeetings (the bolt store claims them in
// batches), each on its server, and a meeting the map already holds on
// another server stays there.
func TestGetMeetings_LearnsManyAtOnce(t *testing.T) {
	h := newHarness(t, 3)
	h.create("kept")
	owner := h.mapped("kept")
	var ids []string
	for k := range 30 {
		id := fmt.Sprintf("bulk-%02d", k)
		h.createDirect(k%3, id)
		ids = append(ids, id)
	}
	h.get(bbb.CallGetMeetings, nil)
	for k, id := range ids {
		waitFor(t, id+" learned", func() bool { return h.mapped(id) == h.ids[k%3] })
	}
	if got := h.mapped("kept"); got != owner {
		t.Errorf("kept: mapped to %s, want %s", got, owner)
	}
}

// TestGetMeetings_LookupDuringLearning: a call for a meeting that the
// last getMeetings listed, made while that getMeetings' learning run is
// still going, is routed from the listing: no server is asked where the
// meeting runs. Before, every such call fanned out to all servers, which,
// with many meetings and polling clients, kept the servers (and the
// learning run) busy.
func TestGetMeetings_LookupDuringLearning(t *testing.T) {
	var gs *gatedStore
	h := newHarness(t, 3, withConfig(func(c *gateway.Config) {
		gs = &gatedStore{Store: c.Store, gate: make(chan struct{})}
		c.Store = gs
	}))
	h.createDirect(1, "pending-room")
	h.get(bbb.CallGetMeetings, nil)
	waitFor(t, "the learning run to read the map", func() bool { return gs.inFlight.Load() > 0 })
	before := h.calls(bbb.CallGetMeetingInfo)
	if r := h.get(bbb.CallGetMeetingInfo, p("meetingID", "pending-room")); !r.st(t).OK() {
		t.Errorf("getMeetingInfo: got %s, want SUCCESS", r)
	}
	after := h.calls(bbb.CallGetMeetingInfo)
	for i, want := range []int{0, 1, 0} { // only the forwarded call
		if got := after[i] - before[i]; got != want {
			t.Errorf("%s: got %d getMeetingInfo calls, want %d", h.ids[i], got, want)
		}
	}
	if got := h.mapped("pending-room"); got != h.ids[1] {
		t.Errorf("pending-room mapped to %q, want %s", got, h.ids[1])
	}
	close(gs.gate)
	waitFor(t, "the learning run to end", func() bool { return !gateway.Learning(h.gw) })
}

// TestGetMeetings_ConcurrentAnswersIntact: concurrent getMeetings over
// many shared fan-outs all get the whole answer, written element by
// element from the servers' bodies.
func TestGetMeetings_ConcurrentAnswersIntact(t *testing.T) {
	h := newHarness(t, 3)
	for k := range 9 {
		h.create(fmt.Sprintf("pool-%d-%s", k, strings.Repeat("x", k*25)))
	}
	want := string(h.get(bbb.CallGetMeetings, nil).body)
	if strings.Count(want, "<meeting>") != 9 {
		t.Fatalf("got %s, want 9 meetings", want)
	}
	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 15 {
				if got := string(h.get(bbb.CallGetMeetings, nil).body); got != want {
					t.Errorf("got %s, want %s", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestGetMeetings_CallbackURLsRestored: the merged answer, written
// element by element, shows each client's own callback URLs in the
// metadata, not tinyscale's relay URLs that the servers hold.
func TestGetMeetings_CallbackURLsRestored(t *testing.T) {
	h := newHarness(t, 2)
	const ready = "https://gl.example.org/recording_ready?room=a&b=1"
	h.create("rec-room", "record", "true", "meta_bbb-recording-ready-url", ready, "meta_bbb-origin", "greenlight")
	h.create("plain-room")
	onServer := false
	for _, fb := range h.bbbs {
		for _, m := range fb.Meetings() {
			if m.ID == "rec-room" && strings.Contains(fmt.Sprint(m.Metadata), "/tinyscale/callback/") {
				onServer = true
			}
		}
	}
	if !onServer {
		t.Fatalf("the server does not hold a relay URL for rec-room; the test proves nothing")
	}
	r := h.get(bbb.CallGetMeetings, nil)
	entries, err := bbb.ParseMeetings(r.body)
	if err != nil || len(entries) != 2 {
		t.Fatalf("got %s (%v), want 2 meetings", r, err)
	}
	for _, e := range entries {
		if e.MeetingID == "rec-room" && e.Metadata["bbb-recording-ready-url"] != ready {
			t.Errorf("rec-room metadata: got %v, want bbb-recording-ready-url %s", e.Metadata, ready)
		}
	}
	if strings.Contains(string(r.body), "/tinyscale/callback/") {
		t.Errorf("answer shows a relay URL: %s", r)
	}
}
