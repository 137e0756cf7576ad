package fakebbb

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// hook is a bbb-webhooks subscription, guarded by Server.mu.
type hook struct {
	id          int
	callbackURL string
	meetingID   string   // external meeting ID; "" for a global hook
	eventIDs    []string // lower-cased event ids, used when hasEvents
	hasEvents   bool     // eventID was given
	raw         bool
}

func (s *Server) hooksCreate(w http.ResponseWriter, _ *http.Request, req *request) {
	p := req.query
	cb := p.get("callbackURL")
	if cb == "" {
		writeError(w, errMissingCallbackURL)
		return
	}
	raw := false
	if v, ok := p.lookup("getRaw"); ok && v != "" {
		b, valid := parseBool(v)
		if !valid {
			writeError(w, errCreateHook)
			return
		}
		raw = b
	}
	h := &hook{callbackURL: cb, meetingID: p.get("meetingID"), raw: raw}
	if ev, ok := p.lookup("eventID"); ok {
		h.hasEvents = true
		h.eventIDs = strings.Split(strings.ToLower(ev), ",")
	}
	s.mu.Lock()
	st := s.state()
	for _, old := range st.hooks {
		if old.callbackURL == cb {
			id := old.id
			s.mu.Unlock()
			x := newXML()
			x.el("returncode", "SUCCESS")
			x.int("hookID", int64(id))
			x.el("messageKey", "duplicateWarning")
			x.el("message", "There is already a hook for this callback URL.")
			writeXML(w, x.bytes())
			return
		}
	}
	h.id = st.nextHookID
	st.nextHookID++
	st.hooks[h.id] = h
	s.mu.Unlock()
	x := newXML()
	x.el("returncode", "SUCCESS")
	x.int("hookID", int64(h.id))
	x.bool("permanentHook", false)
	x.bool("rawData", raw)
	writeXML(w, x.bytes())
}

func (s *Server) hooksDestroy(w http.ResponseWriter, _ *http.Request, req *request) {
	v, ok := req.query.lookup("hookID")
	if !ok {
		writeError(w, errMissingHookID)
		return
	}
	id, err := strconv.Atoi(v)
	s.mu.Lock()
	st := s.state()
	_, found := st.hooks[id]
	if err == nil && found {
		delete(st.hooks, id)
	}
	s.mu.Unlock()
	if err != nil || !found {
		writeError(w, errDestroyMissingHook)
		return
	}
	x := newXML()
	x.el("returncode", "SUCCESS")
	x.bool("removed", true)
	writeXML(w, x.bytes())
}

func (s *Server) hooksList(w http.ResponseWriter, _ *http.Request, req *request) {
	meetingID, filter := req.query.lookup("meetingID")
	s.mu.Lock()
	hs := s.state().sortedHooks()
	x := newXML()
	x.el("returncode", "SUCCESS")
	x.open("hooks")
	for _, h := range hs {
		if filter && h.meetingID != "" && h.meetingID != meetingID {
			continue
		}
		x.open("hook")
		x.int("hookID", int64(h.id))
		x.cdata("callbackURL", h.callbackURL)
		if h.meetingID != "" {
			x.cdata("meetingID", h.meetingID)
		}
		if h.hasEvents {
			x.el("eventID", strings.Join(h.eventIDs, ","))
		}
		x.bool("permanentHook", false)
		x.bool("rawData", h.raw)
		x.close("hook")
	}
	x.close("hooks")
	s.mu.Unlock()
	writeXML(w, x.bytes())
}

func (st *state) sortedHooks() []*hook {
	hs := make([]*hook, 0, len(st.hooks))
	for _, h := range st.hooks {
		hs = append(hs, h)
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].id < hs[j].id })
	return hs
}

// domain is the webhook "domain" (bbb.serverDomain): the host of the
// server's public URL.
func (s *Server) domain(base string) string {
	if s.URL != "" {
		base = s.URL
	}
	if u, err := url.Parse(base); err == nil && u.Host != "" {
		return u.Host
	}
	return "127.0.0.1"
}

// hookChecksumAlgorithm returns the algorithm that signs deliveries.
func (s *Server) hookChecksumAlgorithm() string {
	if newHash(s.HookChecksumAlgorithm) != nil {
		return s.HookChecksumAlgorithm
	}
	return SHA1
}

// emitLocked delivers ev to every matching hook, asynchronously and in
// order per hook. Call with s.mu held.
func (s *Server) emitLocked(st *state, ev *event) {
	if len(st.hooks) == 0 {
		return
	}
	for _, h := range st.sortedHooks() {
		if h.meetingID != "" && h.meetingID != ev.meetingID {
			continue
		}
		if h.hasEvents && !contains(h.eventIDs, ev.id) {
			continue
		}
		s.deliverLocked(h, ev)
	}
}

// deliverLocked schedules one webhook delivery: POST
// <callbackURL>[?|&]checksum=HASH(callbackURL + body + secret) with the
// form body domain=…&event=[…]&timestamp=… (keys in that order, encoded
// like URLSearchParams). Failures are retried twice; 401 counts as
// delivered, as in bbb-webhooks.
func (s *Server) deliverLocked(h *hook, ev *event) {
	const keep = "*-._"
	body := "domain=" + formEncode(s.domain(ev.base), keep) +
		"&event=" + formEncode("["+string(ev.json())+"]", keep) +
		"&timestamp=" + strconv.FormatInt(s.now().UnixMilli(), 10)
	sum := hexDigest(s.hookChecksumAlgorithm(), h.callbackURL, body, s.Secret)
	target := h.callbackURL
	noFrag, _, _ := strings.Cut(target, "#")
	if strings.Contains(noFrag, "?") {
		target += "&checksum=" + sum
	} else {
		target += "?checksum=" + sum
	}
	s.sched.schedule("hook:"+strconv.Itoa(h.id), 0, callbackRetries, func(ctx context.Context, attempt int) error {
		status, err := s.send(ctx, http.MethodPost, target, "application/x-www-form-urlencoded", []byte(body), nil)
		if err == nil && status/100 != 2 && status != http.StatusUnauthorized {
			err = fmt.Errorf("status %d", status)
		}
		if err != nil {
			s.logger().Warn("fakebbb webhook delivery failed", "event", ev.id, "url", redactURL(target), "attempt", attempt+1, "err", err)
		}
		return err
	})
}
