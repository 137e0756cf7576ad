package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/balancer"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/fleet"
)

// Placement of new meetings.
//
// A create goes to the server that already holds the meeting. Otherwise
// the meeting is placed: the candidates are the placeable servers (up and
// enabled), narrowed by meta_server-tag (balancer.ByTag), each with the
// number of meetings placed on it within Config.YoungAge (from the store,
// so shared by every instance); Config.Policy picks one, and
// Store.ClaimMeeting records the choice. The claim is what makes a
// meetingID live on exactly one server: if another request or instance
// claimed the ID first, its server is used. Placements within one instance
// are serialised (g.placeMu) so that each pick sees the previous one as
// young and a burst spreads over the servers.

// createTarget returns the meeting a create for id must go to: the stored
// one if its server is routable; the one found by asking the servers; the
// failover placement if its server is down, disabled or gone; or a new
// placement. claimed is true if this call stored a new claim, which the
// caller must release if the create fails.
func (g *Gateway) createTarget(ctx context.Context, id string, q bbb.Query) (m tinyscale.Meeting, claimed bool, err error) {
	m, err = g.cfg.Store.Meeting(ctx, id)
	switch {
	case err == nil:
		b, ok := g.routable(m)
		if !ok {
			return g.failover(ctx, id, q, m.ServerID)
		}
		if b.State == tinyscale.StateEnabled {
			return m, false, nil
		}
		runs, err := g.runsOn(ctx, b, id)
		if err != nil {
			// Moving a meeting that may still run there would start it
			// twice: the client retries instead.
			g.log.Warn("create: cannot tell whether the meeting still runs on its server", "meetingID", id, "server", b.ID, "err", err)
			return tinyscale.Meeting{}, false, fmt.Errorf("create %q: %w", id, bbb.ErrServerUnavailable)
		}
		if runs {
			return m, false, nil
		}
		return g.failover(ctx, id, q, m.ServerID)
	case !errors.Is(err, tinyscale.ErrNotFound):
		return tinyscale.Meeting{}, false, fmt.Errorf("look up meeting: %w", err)
	}
	if !g.negative(id) {
		d, err := g.discover(ctx, id)
		if err == nil {
			m, err := g.learn(ctx, d, "")
			return m, false, err
		}
		if !errors.Is(err, tinyscale.ErrNotFound) {
			return tinyscale.Meeting{}, false, err
		}
	}
	if m, ok, err := g.placeBreakout(ctx, id, q); ok || err != nil {
		return m, ok, err
	}
	return g.place(ctx, id, q, "", "")
}

// runsOn reports whether b still holds the meeting with id (a
// getMeetingInfo SUCCESS for exactly that ID); the error reports that b
// could not tell (unreachable, a failed or malformed answer). A create
// for a meeting on a cordoned or disabled server goes there only while
// the meeting still runs: such a server takes no meeting anew, also not
// when the map still names it for a meeting that ended there unnoticed
// (its meetingEndedURL call never reached tinyscale).
func (g *Gateway) runsOn(ctx context.Context, b *fleet.Backend, id string) (bool, error) {
	body, err := g.get(ctx, b, bbb.CallGetMeetingInfo, bbb.ParamMeetingID+"="+url.QueryEscape(id), g.cfg.FanOutTimeout)
	if err != nil {
		return false, err
	}
	e, st, err := bbb.ParseMeetingInfo(body)
	if err != nil {
		return false, fmt.Errorf("ask %s: %w", b.ID, err)
	}
	if st.MessageKey == keyChecksumError {
		return false, fmt.Errorf("ask %s: %w", b.ID, errBackendChecksum)
	}
	return st.OK() && e.MeetingID == id, nil
}

// failover handles a create for a meeting stored on a server that is no
// longer routable: if a routable server runs the meeting, the map is
// pointed there; otherwise the meeting is placed anew, replacing the
// stored claim (so that concurrent failovers, on any instance, agree on
// one new server).
func (g *Gateway) failover(ctx context.Context, id string, q bbb.Query, oldServerID string) (tinyscale.Meeting, bool, error) {
	d, err := g.discover(ctx, id)
	switch {
	case err == nil && d.backend.ID != oldServerID:
		m, err := g.learn(ctx, d, oldServerID)
		return m, false, err
	case err == nil:
		// It runs where the map says after all (the server's answer
		// changed between the two questions): keep it there rather than
		// start it twice.
		m, err := g.learn(ctx, d, "")
		return m, false, err
	case err != nil && !errors.Is(err, tinyscale.ErrNotFound):
		return tinyscale.Meeting{}, false, err
	}
	m, claimed, err := g.place(ctx, id, q, oldServerID, "")
	if err == nil && claimed {
		g.log.Info("meeting failed over", "meetingID", id, "from", oldServerID, "to", m.ServerID)
	}
	return m, claimed, err
}

// place picks a server for a new meeting and claims id for it, replacing
// a claim held by replaceServerID if that is non-empty. exclude names a
// server not to pick (one that just refused a connection). It returns the
// stored meeting, which is another request's if that one claimed id first,
// and whether this call stored it. Errors wrap tinyscale.ErrNoServer or
// tinyscale.ErrTagUnavailable when no server fits.
func (g *Gateway) place(ctx context.Context, id string, q bbb.Query, replaceServerID, exclude string) (tinyscale.Meeting, bool, error) {
	tag, required := balancer.ParseTag(q.Get(bbb.MetaServerTag))

	g.placeMu.Lock()
	defer g.placeMu.Unlock()

	// A concurrent create may have placed the meeting while this one waited.
	cur, err := g.cfg.Store.Meeting(ctx, id)
	switch {
	case err == nil && cur.ServerID != replaceServerID:
		return cur, false, nil
	case err != nil && !errors.Is(err, tinyscale.ErrNotFound):
		return tinyscale.Meeting{}, false, fmt.Errorf("place meeting: %w", err)
	}

	now := g.cfg.Now()
	recent, err := g.cfg.Store.MeetingsSince(ctx, now.Add(-g.cfg.YoungAge))
	if err != nil {
		return tinyscale.Meeting{}, false, fmt.Errorf("place meeting: %w", err)
	}
	young := make(map[string]int, len(recent))
	for _, m := range recent {
		young[m.ServerID]++
	}
	backends := g.cfg.Fleet.Backends()
	cands := make([]balancer.Candidate, 0, len(backends))
	for _, b := range backends {
		if !b.Placeable() || b.ID == exclude {
			continue
		}
		cands = append(cands, balancer.Candidate{Server: b.Server, Health: b.Health, Young: young[b.ID]})
	}
	cands, err = balancer.ByTag(cands, tag, required, g.cfg.DefaultTag)
	if err != nil {
		return tinyscale.Meeting{}, false, fmt.Errorf("place meeting: %w", err)
	}
	i, err := g.cfg.Policy.Pick(cands)
	if err != nil {
		return tinyscale.Meeting{}, false, fmt.Errorf("place meeting: %w", err)
	}
	if i < 0 || i >= len(cands) {
		return tinyscale.Meeting{}, false, fmt.Errorf("place meeting: policy picked %d of %d: %w", i, len(cands), tinyscale.ErrNoServer)
	}
	want := tinyscale.Meeting{ID: id, ServerID: cands[i].Server.ID, CreatedAt: now}
	got, won, err := g.cfg.Store.ClaimMeeting(ctx, want, replaceServerID)
	if err != nil {
		return tinyscale.Meeting{}, false, fmt.Errorf("claim meeting: %w", err)
	}
	if won {
		g.cfg.Metrics.Placement(got.ServerID)
	}
	return got, won, nil
}

// placeBreakout places a breakout room created through tinyscale
// (isBreakout=true with parentMeetingID, normally sent by BBB itself to
// its own server) on its parent's server, where BBB requires it to be. ok
// is false if the create is not a breakout or the parent is unknown.
func (g *Gateway) placeBreakout(ctx context.Context, id string, q bbb.Query) (m tinyscale.Meeting, ok bool, err error) {
	parent := q.Get("parentMeetingID")
	if parent == "" || !strings.EqualFold(q.Get("isBreakout"), "true") {
		return tinyscale.Meeting{}, false, nil
	}
	all, err := g.cfg.Store.Meetings(ctx)
	if err != nil {
		return tinyscale.Meeting{}, false, fmt.Errorf("find breakout parent: %w", err)
	}
	for _, p := range all {
		// BBB names the parent by its internal ID; accept the external one too.
		if p.InternalID != parent && p.ID != parent {
			continue
		}
		if _, routable := g.routable(p); !routable {
			return tinyscale.Meeting{}, false, nil
		}
		got, won, err := g.cfg.Store.ClaimMeeting(ctx, tinyscale.Meeting{ID: id, ServerID: p.ServerID, CreatedAt: g.cfg.Now()}, "")
		if err != nil {
			return tinyscale.Meeting{}, false, fmt.Errorf("claim breakout: %w", err)
		}
		if won {
			g.cfg.Metrics.Placement(got.ServerID)
		}
		return got, won, nil
	}
	return tinyscale.Meeting{}, false, nil
}

// release removes a claim made for a create that did not succeed, so that
// the next create places the meeting again. It only removes the claim if
// it still names serverID.
func (g *Gateway) release(ctx context.Context, id, serverID string) {
	err := g.cfg.Store.DeleteMeeting(ctx, id, serverID)
	if err != nil && !errors.Is(err, tinyscale.ErrNotFound) {
		g.log.Warn("release meeting claim failed", "meetingID", id, "server", serverID, "err", err)
	}
}

// notSent reports whether err shows that a request never reached the
// server (the connection could not be made), so that repeating it on
// another server cannot create a meeting twice.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
