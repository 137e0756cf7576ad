package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/fleet"
)

// Finding the server that holds a meeting.
//
// The store maps meetingID → server for every meeting created through
// tinyscale. A miss (a meeting created directly on a server, a breakout
// room, a store that lost its data) costs one fan-out: every routable
// server is asked getMeetingInfo for the ID, concurrent misses for the same
// ID share that fan-out (g.lookups), and the answer is remembered in the
// store. A miss that finds nothing is remembered for Config.NegativeTTL
// (g.neg), so a client polling a meeting that does not run costs at most
// one fan-out per NegativeTTL.

// maxNegative bounds the negative cache. When it is full, expired entries
// are swept; if it is still full (a flood of distinct unknown IDs), it is
// emptied: forgetting only costs an extra fan-out. A variable for tests.
var maxNegative = 1 << 16

// discovered is a meeting found on a server by a lookup fan-out.
type discovered struct {
	backend *fleet.Backend
	entry   bbb.MeetingEntry
}

// locate returns the meeting with id: from the store, or else found by
// asking every routable server (once per ID at a time, see discover) and
// then stored (or, while a getMeetings learning run is in progress, taken
// from the fan-out it learns from). It returns an error wrapping
// tinyscale.ErrNotFound if no
// server holds the meeting, and one wrapping tinyscale.ErrStoreUnavailable
// if the store fails.
func (g *Gateway) locate(ctx context.Context, id string) (tinyscale.Meeting, error) {
	m, err := g.cfg.Store.Meeting(ctx, id)
	if err == nil {
		return m, nil
	}
	if !errors.Is(err, tinyscale.ErrNotFound) {
		return tinyscale.Meeting{}, fmt.Errorf("look up meeting: %w", err)
	}
	if g.negative(id) {
		return tinyscale.Meeting{}, fmt.Errorf("meeting %q (cached): %w", id, tinyscale.ErrNotFound)
	}
	// A meeting that the last getMeetings fan-out listed, and that its
	// learning run is about to store, needs no fan-out of its own: when
	// tinyscale is put in front of servers with many meetings, clients
	// would otherwise ask every server about each of them at once.
	if p := g.pending.Load(); p != nil {
		if d, ok := (*p)[id]; ok {
			if b, ok := g.cfg.Fleet.Backend(d.backend.ID); ok && b.Routable() {
				d.backend = b
				return g.learn(ctx, d, "")
			}
		}
	}
	d, err := g.discover(ctx, id)
	if err != nil {
		return tinyscale.Meeting{}, err
	}
	return g.learn(ctx, d, "")
}

// routable returns the server holding m if calls for the meeting may go to
// it (it is known, up and not disabled).
func (g *Gateway) routable(m tinyscale.Meeting) (*fleet.Backend, bool) {
	b, ok := g.cfg.Fleet.Backend(m.ServerID)
	if !ok || !b.Routable() {
		return nil, false
	}
	return b, true
}

// discover asks every routable server for the meeting with id and returns
// the first (in server order) whose getMeetingInfo answer is a SUCCESS for
// exactly that meetingID. Concurrent calls for one id share one fan-out;
// the fan-out is not cancelled when one caller gives up, and is bounded by
// Config.FanOutTimeout per server. If no server holds the meeting, the id
// is remembered as unknown for Config.NegativeTTL and the error wraps
// tinyscale.ErrNotFound.
func (g *Gateway) discover(ctx context.Context, id string) (discovered, error) {
	ch := g.lookups.DoChan("meeting\x00"+id, func() (any, error) {
		d, ok := g.discoverOnce(context.WithoutCancel(ctx), id)
		if !ok {
			g.setNegative(id)
			return discovered{}, fmt.Errorf("meeting %q: %w", id, tinyscale.ErrNotFound)
		}
		return d, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return discovered{}, r.Err
		}
		return r.Val.(discovered), nil
	case <-ctx.Done():
		return discovered{}, fmt.Errorf("look up meeting: %w", ctx.Err())
	}
}

func (g *Gateway) discoverOnce(ctx context.Context, id string) (discovered, bool) {
	var backends []*fleet.Backend
	for _, b := range g.fanOutBackends() {
		if b.Routable() {
			backends = append(backends, b)
		}
	}
	if len(backends) == 0 {
		return discovered{}, false
	}
	res := g.fanOut(ctx, backends, bbb.CallGetMeetingInfo, bbb.ParamMeetingID+"="+url.QueryEscape(id))
	var found discovered
	n := 0
	for _, r := range res {
		if r.Err != nil {
			continue
		}
		e, st, err := bbb.ParseMeetingInfo(r.Body)
		if err != nil {
			g.log.Warn("malformed getMeetingInfo answer in lookup", "server", r.Backend.ID, "err", err)
			continue
		}
		// Compare exactly: "room1" must never match "room10".
		if !st.OK() || e.MeetingID != id {
			continue
		}
		if n == 0 {
			found = discovered{backend: r.Backend, entry: e}
		}
		n++
	}
	if n == 0 {
		return discovered{}, false
	}
	if n > 1 {
		g.log.Warn("meeting runs on several servers; using the first", "meetingID", id, "servers", n, "server", found.backend.ID)
	}
	return found, true
}

// learn stores a meeting found on a server unless the store already holds
// one with that ID (or, with replaceServerID, replaces the one stored on
// that server), and returns what the store holds afterwards.
func (g *Gateway) learn(ctx context.Context, d discovered, replaceServerID string) (tinyscale.Meeting, error) {
	m := g.foundMeeting(d)
	got, stored, err := g.cfg.Store.ClaimMeeting(ctx, m, replaceServerID)
	if err != nil {
		return tinyscale.Meeting{}, fmt.Errorf("remember meeting: %w", err)
	}
	if stored {
		g.log.Info("meeting found on server", "meetingID", m.ID, "server", m.ServerID)
	}
	return got, nil
}

// foundMeeting is the map entry of a meeting found on a server.
func (g *Gateway) foundMeeting(d discovered) tinyscale.Meeting {
	return tinyscale.Meeting{
		ID:         d.entry.MeetingID,
		ServerID:   d.backend.ID,
		InternalID: d.entry.InternalID,
		CreatedAt:  g.learnedAt(d.entry.CreateTime),
	}
}

// learnedAt returns the CreatedAt of a meeting found on a server: its BBB
// createTime when that is plausible, else now. A found meeting already
// runs where the poller sees it, so it must not count as young (placed
// but not yet seen) longer than it really is.
func (g *Gateway) learnedAt(createTimeMillis int64) time.Time {
	now := g.cfg.Now()
	if createTimeMillis <= 0 {
		return now
	}
	t := time.UnixMilli(createTimeMillis)
	if t.After(now) {
		return now
	}
	return t
}

// negative reports whether id was recently found to run nowhere.
func (g *Gateway) negative(id string) bool {
	if g.cfg.NegativeTTL < 0 {
		return false
	}
	g.negMu.Lock()
	defer g.negMu.Unlock()
	until, ok := g.neg[id]
	if !ok {
		return false
	}
	if g.cfg.Now().Before(until) {
		return true
	}
	delete(g.neg, id)
	return false
}

// setNegative remembers id as unknown for Config.NegativeTTL.
func (g *Gateway) setNegative(id string) {
	if g.cfg.NegativeTTL < 0 {
		return
	}
	now := g.cfg.Now()
	g.negMu.Lock()
	defer g.negMu.Unlock()
	if len(g.neg) >= maxNegative {
		for k, until := range g.neg {
			if !now.Before(until) {
				delete(g.neg, k)
			}
		}
		if len(g.neg) >= maxNegative {
			clear(g.neg)
		}
	}
	g.neg[id] = now.Add(g.cfg.NegativeTTL)
}

// clearNegative forgets that id was unknown (a create placed it).
func (g *Gateway) clearNegative(id string) {
	g.negMu.Lock()
	delete(g.neg, id)
	g.negMu.Unlock()
}
