package admin

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/fleet"
	"github.com/tinyscale/tinyscale/poller"
)

// endConcurrency bounds the end calls a panic sends at once, and
// fanOutConcurrency the servers asked at once for their meetings.
const (
	endConcurrency    = 8
	fanOutConcurrency = 64
)

// cleanTags trims tags and drops empty and duplicate ones.
func cleanTags(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range in {
		t = strings.TrimSpace(t)
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	return out
}

// boolParam reads an optional boolean query parameter.
func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errorf(http.StatusBadRequest, CodeBadRequest, "%s: %q is not true or false", name, v)
	}
	return b, nil
}

func (h *Handler) addServer(w http.ResponseWriter, r *http.Request, _ string) error {
	var req AddServerRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Host) == "" {
		return errorf(http.StatusBadRequest, CodeBadRequest, "host: required (the server's URL, e.g. https://bbb1.example.org)")
	}
	s, err := tinyscale.Server{
		ID: req.ID, URL: req.Host, Secret: req.Secret, Weight: req.Weight,
		Tags: cleanTags(req.Tags), State: req.State, Algorithm: strings.ToLower(req.Algorithm),
		Source: tinyscale.SourceAPI,
	}.Normalize()
	if err != nil {
		return errorf(http.StatusBadRequest, CodeBadRequest, "%s", err.Error())
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	ctx := context.WithoutCancel(r.Context())
	all, err := h.cfg.Store.Servers(ctx)
	if err != nil {
		return fmt.Errorf("read servers: %w", err)
	}
	for _, o := range all {
		switch {
		case o.ID == s.ID:
			return errorf(http.StatusConflict, CodeConflict,
				"a server with id %q already exists (remove it first, or choose another id)", s.ID)
		case o.URL == s.URL:
			return errorf(http.StatusConflict, CodeConflict,
				"server %q already has the host %s", o.ID, s.URL)
		}
	}

	var warnings []string
	var health *tinyscale.Health
	if h.cfg.Probe != nil {
		b := &fleet.Backend{Server: s, Client: &bbb.Client{
			BaseURL: s.URL, Secret: s.Secret, Algorithm: s.Algorithm, HTTP: h.cfg.Fleet.HTTPClient(),
		}}
		b.Health.ServerID = s.ID
		pctx, cancel := context.WithTimeout(ctx, h.cfg.ProbeTimeout)
		perr := h.cfg.Probe(pctx, b)
		cancel()
		now := h.cfg.Now()
		var be *bbb.Error
		switch {
		case perr == nil:
			health = &tinyscale.Health{ServerID: s.ID, Up: true, CheckedAt: now, Successes: 1}
		case errors.Is(perr, poller.ErrBadSecret):
			return errorf(http.StatusUnprocessableEntity, CodeBadSecret,
				"%s rejected the secret (checksumError): check the secret (bbb-conf --secret on the server) and the algorithm", s.URL)
		case errors.Is(perr, poller.ErrNotBBB):
			return errorf(http.StatusUnprocessableEntity, CodeNotBBB,
				"%s does not answer like a BigBlueButton API (check the host URL): %s", s.URL, perr.Error())
		case errors.As(perr, &be):
			return errorf(http.StatusUnprocessableEntity, CodeNotBBB,
				"%s answered getMeetings with FAILED %s: %s", s.URL, be.Key, be.Message)
		default:
			warnings = append(warnings, fmt.Sprintf(
				"%s could not be reached (%s); it was added as down and takes meetings once a poll succeeds", s.URL, perr.Error()))
			health = &tinyscale.Health{ServerID: s.ID, Up: false, LastError: perr.Error(), CheckedAt: now, Fails: 1}
		}
	}
	if err := h.cfg.Store.PutServer(ctx, s); err != nil {
		return fmt.Errorf("store server %s: %w", s.ID, err)
	}
	if health != nil {
		if err := h.cfg.Store.PutHealth(ctx, *health); err != nil {
			h.log.Warn("admin: store health of new server", "server", s.ID, "err", err)
		}
	}
	h.log.Info("admin: server added", "server", s.ID, "host", s.URL, "state", string(s.State))
	if err := h.applied(r); err != nil {
		return err
	}
	b, err := h.backend(s.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, AddServerResult{Server: h.serverInfo(b), Warnings: warnings})
	return nil
}

func (h *Handler) removeServer(w http.ResponseWriter, r *http.Request, id string) error {
	force, err := boolParam(r, "force")
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ctx := context.WithoutCancel(r.Context())
	s, err := h.storeServer(ctx, id)
	if err != nil {
		return err
	}
	if !force {
		// The last poll's count misses meetings created since; the
		// meeting map has them.
		n := 0
		if b, ok := h.cfg.Fleet.Backend(id); ok {
			n = b.Health.Meetings
		}
		ms, err := h.cfg.Store.Meetings(ctx)
		if err != nil {
			return fmt.Errorf("read meetings: %w", err)
		}
		mapped := 0
		for _, m := range ms {
			if m.ServerID == id {
				mapped++
			}
		}
		if n = max(n, mapped); n > 0 {
			return errorf(http.StatusConflict, CodeConflict,
				"server %q still has %d meetings: cordon it and let them end, panic it, or remove it with force", id, n)
		}
	}
	if err := h.cfg.Store.DeleteServer(ctx, id); err != nil {
		if errors.Is(err, tinyscale.ErrNotFound) {
			return notFound(id)
		}
		return fmt.Errorf("delete server %s: %w", id, err)
	}
	res := RemoveResult{ID: id}
	n, err := h.forget(ctx, id)
	res.Forgotten = n
	if err != nil {
		res.Warnings = append(res.Warnings, "could not forget all of the server's meetings: "+toAPIError(err).Message)
		h.log.Warn("admin: forget meetings", "server", id, "err", err)
	}
	if s.Source == tinyscale.SourceFile {
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"server %q is declared in servers.json: remove it there too, or it comes back when the file is read again", id))
	}
	h.log.Info("admin: server removed", "server", id, "forgotten", n)
	if err := h.applied(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// forget drops every stored meeting mapping to server id, so that the
// next create of those meetings places them elsewhere.
func (h *Handler) forget(ctx context.Context, id string) (int, error) {
	ms, err := h.cfg.Store.Meetings(ctx)
	if err != nil {
		return 0, fmt.Errorf("read meetings: %w", err)
	}
	n := 0
	for _, m := range ms {
		if m.ServerID != id {
			continue
		}
		switch err := h.cfg.Store.DeleteMeeting(ctx, m.ID, id); {
		case err == nil:
			n++
		case errors.Is(err, tinyscale.ErrNotFound):
		default:
			return n, fmt.Errorf("delete meeting: %w", err)
		}
	}
	return n, nil
}

func (h *Handler) panicServer(w http.ResponseWriter, r *http.Request, id string) error {
	keep, err := boolParam(r, "keep_state")
	if err != nil {
		return err
	}
	ctx := context.WithoutCancel(r.Context())
	var res PanicResult

	// Cordon first, so that no new meeting lands on the server while its
	// meetings are ended.
	h.mu.Lock()
	s, err := h.storeServer(ctx, id)
	if err == nil && !keep && s.State == tinyscale.StateEnabled {
		s.State = tinyscale.StateCordoned
		if err = h.cfg.Store.PutServer(ctx, s); err != nil {
			err = fmt.Errorf("store server %s: %w", id, err)
		} else {
			err = h.applied(r)
		}
	}
	h.mu.Unlock()
	if err != nil {
		return err
	}
	b, err := h.backend(id)
	if err != nil {
		return err
	}

	entries, err := h.fetchMeetings(ctx, b)
	if err != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"could not list the meetings on %q (%s); only tinyscale's own record of them is cleared", id, err.Error()))
	}
	var mu sync.Mutex
	g := errgroup.Group{}
	g.SetLimit(endConcurrency)
	for _, e := range entries {
		if e.entry.IsBreakout {
			continue // ended with its parent
		}
		g.Go(func() error {
			err := h.endMeeting(ctx, b, e)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Failed = append(res.Failed, MeetingError{MeetingID: e.entry.MeetingID, Error: err.Error()})
			} else {
				res.Ended++
			}
			return nil
		})
	}
	_ = g.Wait()
	sort.Slice(res.Failed, func(i, j int) bool { return res.Failed[i].MeetingID < res.Failed[j].MeetingID })

	n, ferr := h.forget(ctx, id)
	res.Forgotten = n
	if ferr != nil {
		res.Warnings = append(res.Warnings, "could not forget all of the server's meetings: "+toAPIError(ferr).Message)
		h.log.Warn("admin: forget meetings", "server", id, "err", ferr)
	}
	h.log.Warn("admin: server panicked", "server", id, "ended", res.Ended, "failed", len(res.Failed), "forgotten", n)
	if b2, ok := h.cfg.Fleet.Backend(id); ok {
		b = b2
	}
	res.Server = h.serverInfo(b)
	writeJSON(w, http.StatusOK, res)
	return nil
}

// liveMeeting is a meeting listed by a server, with the fields of its raw
// element the admin API needs beyond bbb.MeetingEntry.
type liveMeeting struct {
	entry       bbb.MeetingEntry
	name        string
	moderatorPW string
}

// fetchMeetings asks b for getMeetings.
func (h *Handler) fetchMeetings(ctx context.Context, b *fleet.Backend) ([]liveMeeting, error) {
	if b.Client == nil {
		return nil, fmt.Errorf("server %s has no client", b.ID)
	}
	cctx, cancel := context.WithTimeout(ctx, h.cfg.CallTimeout)
	defer cancel()
	body, err := b.Client.Get(cctx, bbb.CallGetMeetings, "")
	if err != nil {
		return nil, err
	}
	entries, err := bbb.ParseMeetings(body)
	if err != nil {
		return nil, err
	}
	out := make([]liveMeeting, len(entries))
	for i, e := range entries {
		var extra struct {
			Name        string `xml:"meetingName"`
			ModeratorPW string `xml:"moderatorPW"`
		}
		_ = xml.Unmarshal(e.Raw, &extra) // best effort: the name is cosmetic
		out[i] = liveMeeting{entry: e, name: extra.Name, moderatorPW: extra.ModeratorPW}
	}
	return out, nil
}

// endMeeting sends end for one meeting. A meeting the server no longer
// knows counts as ended.
func (h *Handler) endMeeting(ctx context.Context, b *fleet.Backend, m liveMeeting) error {
	q := bbb.ParamMeetingID + "=" + url.QueryEscape(m.entry.MeetingID)
	if m.moderatorPW != "" {
		// BBB before 2.6 requires the moderator password to end.
		q += "&" + bbb.ParamPassword + "=" + url.QueryEscape(m.moderatorPW)
	}
	cctx, cancel := context.WithTimeout(ctx, h.cfg.CallTimeout)
	defer cancel()
	body, err := b.Client.Get(cctx, bbb.CallEnd, q)
	if err != nil {
		return err
	}
	st, err := bbb.ParseStatus(body)
	if err != nil {
		return err
	}
	if !st.OK() && st.MessageKey != bbb.ErrMeetingNotFound.Key {
		return st.Err()
	}
	return nil
}

// meetingsOf lists b's meetings. If the server does not answer, it
// returns the stored meetings of b marked stale, and the error.
func (h *Handler) meetingsOf(ctx context.Context, b *fleet.Backend, stored func() []tinyscale.Meeting) ([]Meeting, error) {
	live, err := h.fetchMeetings(ctx, b)
	if err != nil {
		var out []Meeting
		for _, m := range stored() {
			if m.ServerID == b.ID {
				out = append(out, Meeting{ID: m.ID, Server: b.ID, InternalID: m.InternalID, CreatedAt: m.CreatedAt, Stale: true})
			}
		}
		return out, err
	}
	out := make([]Meeting, 0, len(live))
	for _, l := range live {
		e := l.entry
		m := Meeting{
			ID: e.MeetingID, Name: l.name, Server: b.ID, InternalID: e.InternalID,
			Participants: e.Participants, Moderators: e.Moderators, Running: e.Running, Breakout: e.IsBreakout,
		}
		if e.CreateTime > 0 {
			m.CreatedAt = time.UnixMilli(e.CreateTime).UTC()
		}
		out = append(out, m)
	}
	return out, nil
}

// storedMeetings returns a function that reads the store's meetings once,
// on first use (nil on error).
func (h *Handler) storedMeetings(ctx context.Context) func() []tinyscale.Meeting {
	return sync.OnceValue(func() []tinyscale.Meeting {
		ms, err := h.cfg.Store.Meetings(ctx)
		if err != nil {
			h.log.Warn("admin: read meetings", "err", err)
			return nil
		}
		return ms
	})
}

func sortMeetings(ms []Meeting) {
	sort.Slice(ms, func(i, j int) bool {
		a, b := ms[i], ms[j]
		if a.Server != b.Server {
			return a.Server < b.Server
		}
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.ID < b.ID
	})
}

func (h *Handler) serverMeetings(w http.ResponseWriter, r *http.Request, id string) error {
	b, err := h.backend(id)
	if err != nil {
		return err
	}
	ms, err := h.meetingsOf(r.Context(), b, h.storedMeetings(r.Context()))
	list := MeetingList{Meetings: ms}
	if err != nil {
		list.Errors = []ServerError{{Server: id, Error: err.Error()}}
	}
	if list.Meetings == nil {
		list.Meetings = []Meeting{}
	}
	sortMeetings(list.Meetings)
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (h *Handler) allMeetings(w http.ResponseWriter, r *http.Request, _ string) error {
	writeJSON(w, http.StatusOK, h.Meetings(r.Context()))
	return nil
}

// Meetings asks every server that takes part in fan-out calls for its
// meetings, in parallel. Servers that do not answer within CallTimeout are
// listed in Errors, with their stored meetings marked stale.
func (h *Handler) Meetings(ctx context.Context) MeetingList {
	stored := h.storedMeetings(ctx)
	var (
		mu   sync.Mutex
		list = MeetingList{Meetings: []Meeting{}}
		g    errgroup.Group
	)
	g.SetLimit(fanOutConcurrency)
	for _, b := range h.cfg.Fleet.Backends() {
		if !b.InFanOut() {
			continue
		}
		g.Go(func() error {
			ms, err := h.meetingsOf(ctx, b, stored)
			mu.Lock()
			defer mu.Unlock()
			list.Meetings = append(list.Meetings, ms...)
			if err != nil {
				list.Errors = append(list.Errors, ServerError{Server: b.ID, Error: err.Error()})
			}
			return nil
		})
	}
	_ = g.Wait()
	sortMeetings(list.Meetings)
	sort.Slice(list.Errors, func(i, j int) bool { return list.Errors[i].Server < list.Errors[j].Server })
	return list
}
