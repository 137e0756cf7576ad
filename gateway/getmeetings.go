package gateway

import (
	"bufio"
	"context"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/bbb"
)

// getMeetings asks every server in parallel (each bounded by
// Config.FanOutTimeout) and merges their meetings. A server that fails,
// times out or answers garbage is skipped and logged; the call succeeds
// with what the others answered, and with BBB's empty answer if none has
// a meeting. Meetings missing from the map are learned in the background.
//
// Concurrent getMeetings share one fan-out (see meetingsRound): a call
// that arrives while one is in flight gets its answer. Nothing is kept
// once a fan-out has been answered, so every answer is at most one
// fan-out old. The answer is written element by element, from the
// servers' bodies, rather than built in memory first.
func (g *Gateway) getMeetings(ctx context.Context, x *exchange) error {
	r, err := g.sharedMeetings(ctx)
	if err != nil {
		return err
	}
	x.result, x.written = "SUCCESS", true
	bbb.WriteXML(x.w, nil) // the headers and status of every XML answer
	// The elements are small (about 1 kB); written one by one, each
	// would be a system call.
	w := bufio.NewWriterSize(x.w, answerBuffer)
	if bbb.WriteMeetingsXML(w, r.raws) == nil {
		_ = w.Flush()
	}
	return nil
}

// answerBuffer is the write buffer of a getMeetings answer.
const answerBuffer = 32 << 10

// meetingsRound is one getMeetings fan-out and the requests waiting for
// it. raws is set before done is closed and read only afterwards.
type meetingsRound struct {
	done    chan struct{}
	raws    [][]byte // every server's <meeting> elements, metadata restored, in server order
	cancel  context.CancelFunc
	waiters int // guarded by Gateway.roundMu
}

// sharedMeetings returns the outcome of the fan-out in flight, or of a new
// one if none is. The fan-out goes on while any request waits for it, and
// is canceled when the last one gives up (the client went away); the
// error is then ctx's.
func (g *Gateway) sharedMeetings(ctx context.Context) (*meetingsRound, error) {
	g.roundMu.Lock()
	r := g.round
	if r == nil {
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		r = &meetingsRound{done: make(chan struct{}), cancel: cancel}
		g.round = r
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.runRound(rctx, r)
		}()
	}
	r.waiters++
	g.roundMu.Unlock()
	select {
	case <-r.done:
		return r, nil
	case <-ctx.Done():
		g.roundMu.Lock()
		if r.waiters--; r.waiters == 0 {
			r.cancel()
			if g.round == r {
				g.round = nil
			}
		}
		g.roundMu.Unlock()
		return nil, ctx.Err()
	}
}

// runRound makes r's fan-out, hands its outcome to the waiting requests
// and has the meetings missing from the map learned.
func (g *Gateway) runRound(ctx context.Context, r *meetingsRound) {
	defer r.cancel()
	raws, seen := g.collectMeetings(ctx)
	g.roundMu.Lock()
	if g.round == r {
		g.round = nil // later requests start a new fan-out
	}
	g.roundMu.Unlock()
	// At most one learning run at a time: getMeetings is polled (often by
	// several clients at once). A run skipped here is made up by the next
	// getMeetings.
	if len(seen) > 0 && g.learning.CompareAndSwap(false, true) {
		g.goBackground(func(ctx context.Context) {
			defer g.learning.Store(false)
			g.learnAll(ctx, seen)
		})
	}
	r.raws = raws
	close(r.done)
}

// collectMeetings asks every server for getMeetings and returns their
// meeting elements (callback URLs in the metadata restored) and the
// meetings of routable servers, for learning. It returns nothing if ctx
// ends first.
func (g *Gateway) collectMeetings(ctx context.Context) (raws [][]byte, seen []discovered) {
	res := g.fanOut(ctx, g.fanOutBackends(), bbb.CallGetMeetings, "")
	if ctx.Err() != nil {
		return nil, nil
	}
	g.learnedMu.Lock()
	defer g.learnedMu.Unlock()
	for _, r := range res {
		if r.Err != nil {
			continue
		}
		entries, err := bbb.ParseMeetingsWithoutMetadata(r.Body)
		if err != nil {
			g.log.Warn("server skipped in getMeetings", "server", r.Backend.ID, "err", err)
			continue
		}
		routable := r.Backend.Routable()
		for _, e := range entries {
			raws = append(raws, g.restoreMetadata(e.Raw))
			if e.MeetingID == "" || !routable {
				continue
			}
			if _, ok := g.learned[e.MeetingID]; !ok {
				e.Raw = nil
				seen = append(seen, discovered{backend: r.Backend, entry: e})
			}
		}
	}
	// Meetings that ended stay in learned; forget them all once they
	// outnumber those listed (the next run then reads the map again).
	if len(g.learned) > 2*len(raws)+1024 {
		g.learned = nil
	}
	return raws, seen
}

// meetingsClaimer is implemented by stores that claim many meetings in
// one write (store/bolt): learning all the meetings of a server put behind
// tinyscale then costs a few writes rather than one each.
type meetingsClaimer interface {
	ClaimMeetings(ctx context.Context, ms []tinyscale.Meeting) ([]tinyscale.Meeting, []bool, error)
}

// learnAll stores the meetings of a getMeetings fan-out that the map does
// not hold yet. Only meetings that no earlier run found in the map or
// stored (g.learned) reach it, so a getMeetings polled every few seconds
// costs no store read while the servers' meetings stay the same. While it
// runs, lookups of the meetings it is to store take them from g.pending
// rather than asking every server. Only one learnAll runs at a time
// (g.learning).
func (g *Gateway) learnAll(ctx context.Context, seen []discovered) {
	fresh := make(map[string]discovered, len(seen))
	var order []discovered // the first listing of each meeting, in server order
	for _, d := range seen {
		if _, dup := fresh[d.entry.MeetingID]; !dup {
			fresh[d.entry.MeetingID] = d
			order = append(order, d)
		}
	}
	// Lookups of these meetings meanwhile take them from here (locate).
	g.pending.Store(&fresh)
	defer g.pending.Store(nil)
	known, err := g.cfg.Store.Meetings(ctx)
	if err != nil {
		g.log.Warn("learn meetings: read map failed", "err", err)
		return
	}
	have := make(map[string]bool, len(known))
	for _, m := range known {
		have[m.ID] = true
	}
	var found, todo []string
	var todoD []discovered
	for _, d := range order {
		if id := d.entry.MeetingID; have[id] {
			found = append(found, id)
		} else {
			todo = append(todo, id)
			todoD = append(todoD, d)
		}
	}
	g.markLearned(found)
	if c, ok := g.cfg.Store.(meetingsClaimer); ok && len(todoD) > 1 {
		ms := make([]tinyscale.Meeting, len(todoD))
		for i, d := range todoD {
			ms[i] = g.foundMeeting(d)
		}
		_, stored, err := c.ClaimMeetings(ctx, ms)
		if err != nil {
			g.log.Warn("learn meetings failed", "meetings", len(ms), "err", err)
			return
		}
		for i, m := range ms {
			if stored[i] {
				g.log.Info("meeting found on server", "meetingID", m.ID, "server", m.ServerID)
			}
		}
		g.markLearned(todo)
		return
	}
	for i, d := range todoD {
		if _, err := g.learn(ctx, d, ""); err != nil {
			g.log.Warn("learn meeting failed", "meetingID", d.entry.MeetingID, "server", d.backend.ID, "err", err)
			return
		}
		g.markLearned(todo[i : i+1])
	}
}

// markLearned records meetings found in the map or stored by learnAll.
func (g *Gateway) markLearned(ids []string) {
	if len(ids) == 0 {
		return
	}
	g.learnedMu.Lock()
	defer g.learnedMu.Unlock()
	if g.learned == nil {
		g.learned = make(map[string]struct{}, len(ids))
	}
	for _, id := range ids {
		g.learned[id] = struct{}{}
	}
}
