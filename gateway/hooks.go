package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/callback"
	"github.com/tinyscale/tinyscale/fleet"
)

// Webhooks (bbb-webhooks' hooks/create, hooks/list, hooks/destroy).
//
// A hook registered through tinyscale is stored once, under a tinyscale
// hook ID (Store.NextHookID), and registered on every fan-out server with
// a relay URL of its own (<public base>/tinyscale/callback/hook/<token>,
// the token naming the hook and the server). Each server signs its event
// deliveries with its secret over that relay URL; the relay verifies them
// and posts the same body to the client's URL with a checksum computed
// with tinyscale's secret over the client's URL, the way bbb-webhooks
// does. hooks/list and hooks/destroy work on the stored hooks; SyncHooks
// brings every server in line with them.

// Errors of the hooks calls, worded as bbb-webhooks words them.
var (
	errMissingCallbackURL = bbb.NewError("missingParamCallbackURL", "You must specify a callbackURL in the parameters.")
	errMissingHookID      = bbb.NewError("missingParamHookID", "You must specify a hookID in the parameters.")
	errCreateHook         = bbb.NewError("createHookError", "An error happened while creating your hook. Check the logs.")
	errDestroyMissingHook = bbb.NewError("destroyMissingHook", "The hook informed was not found.")
	errListHook           = bbb.NewError("listHookError", "An error happened while listing registered hooks. Check the logs.")
	errDestroyHook        = bbb.NewError("destroyHookError", "An error happened while removing your hook. Check the logs.")
)

func (g *Gateway) hooksCreate(ctx context.Context, x *exchange) error {
	q := x.req.Params
	cbURL := q.Get(bbb.ParamCallbackURL)
	if cbURL == "" {
		return errMissingCallbackURL
	}
	h := tinyscale.Hook{
		CallbackURL: cbURL,
		MeetingID:   q.Get(bbb.ParamMeetingID),
		EventID:     strings.ToLower(q.Get(bbb.ParamEventID)),
		Raw:         strings.EqualFold(q.Get(bbb.ParamGetRaw), "true"),
		Backends:    map[string]string{},
		CreatedAt:   g.cfg.Now(),
	}
	x.meetingID = h.MeetingID
	rs := g.relay()
	rs.hookMu.Lock()
	defer rs.hookMu.Unlock()

	hooks, err := g.cfg.Store.Hooks(ctx)
	if err != nil {
		return fmt.Errorf("hooks/create: %w", err)
	}
	for _, old := range hooks {
		if old.CallbackURL == cbURL {
			x.xml([]byte("<response><returncode>SUCCESS</returncode><hookID>"+bbb.Escape(old.ID)+
				"</hookID><messageKey>duplicateWarning</messageKey><message>There is already a hook for this callback URL.</message></response>"), "duplicateWarning")
			return nil
		}
	}
	n, err := g.cfg.Store.NextHookID(ctx)
	if err != nil {
		return fmt.Errorf("hooks/create: %w", err)
	}
	h.ID = strconv.FormatInt(n, 10)
	// Store first: a server may deliver an event as soon as it knows the hook.
	if err := g.cfg.Store.PutHook(ctx, h); err != nil {
		return fmt.Errorf("hooks/create: %w", err)
	}
	base := g.publicBase(x.r)
	backends := g.fanOutBackends()
	ids, _ := g.registerHook(ctx, h, base, backends)
	if len(backends) > 0 && len(ids) == 0 {
		if err := g.cfg.Store.DeleteHook(context.WithoutCancel(ctx), h.ID); err != nil {
			g.log.Warn("hooks/create: drop unregistered hook", "hookID", h.ID, "err", err)
		}
		return errCreateHook
	}
	h.Backends = ids
	if err := g.cfg.Store.PutHook(context.WithoutCancel(ctx), h); err != nil {
		return fmt.Errorf("hooks/create: %w", err)
	}
	x.xml([]byte("<response><returncode>SUCCESS</returncode><hookID>"+bbb.Escape(h.ID)+
		"</hookID><permanentHook>false</permanentHook><rawData>"+strconv.FormatBool(h.Raw)+"</rawData></response>"), "SUCCESS")
	return nil
}

// registerHook creates h on every backend in parallel, with a relay URL
// under base, and returns server ID → the server's hook ID for those that
// accepted it. Failures are logged and joined into err.
func (g *Gateway) registerHook(ctx context.Context, h tinyscale.Hook, base string, backends []*fleet.Backend) (map[string]string, error) {
	ids := make(map[string]string, len(backends))
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, b := range backends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := g.createBackendHook(ctx, h, base, b)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				g.log.Warn("register hook on server", "hookID", h.ID, "server", b.ID, "err", err)
				errs = append(errs, err)
				return
			}
			ids[b.ID] = id
		}()
	}
	wg.Wait()
	return ids, errors.Join(errs...)
}

// hookRelayURL returns the relay URL that server serverID is given for
// hook id. It is deterministic, so registering it twice on one server
// yields bbb-webhooks' duplicate answer with the existing hook ID.
func (g *Gateway) hookRelayURL(base, id, serverID string) (string, error) {
	tok, err := g.relay().tokens.Issue(callback.Claims{Kind: callback.KindHook, HookID: id, ServerID: serverID, Base: base}, 0)
	if err != nil {
		return "", err
	}
	return callback.URL(base, callback.KindHook, tok), nil
}

func (g *Gateway) createBackendHook(ctx context.Context, h tinyscale.Hook, base string, b *fleet.Backend) (string, error) {
	u, err := g.hookRelayURL(base, h.ID, b.ID)
	if err != nil {
		return "", err
	}
	var qb strings.Builder
	qb.WriteString("callbackURL=" + url.QueryEscape(u))
	if h.MeetingID != "" {
		qb.WriteString("&meetingID=" + url.QueryEscape(h.MeetingID))
	}
	if h.EventID != "" {
		qb.WriteString("&eventID=" + url.QueryEscape(h.EventID))
	}
	if h.Raw {
		qb.WriteString("&getRaw=true")
	}
	body, err := g.get(ctx, b, bbb.CallHooksCreate, qb.String(), g.cfg.FanOutTimeout)
	if err != nil {
		return "", fmt.Errorf("hooks/create: %w", err)
	}
	id, st, err := bbb.ParseHookCreate(body)
	if err != nil {
		return "", fmt.Errorf("hooks/create on %s: %w", b.ID, err)
	}
	if !st.OK() || id == "" {
		return "", fmt.Errorf("hooks/create on %s: %s", b.ID, st.MessageKey)
	}
	return id, nil
}

func (g *Gateway) hooksList(ctx context.Context, x *exchange) error {
	meetingID, byMeeting := x.req.Params.Lookup(bbb.ParamMeetingID)
	x.meetingID = meetingID
	hooks, err := g.cfg.Store.Hooks(ctx)
	if err != nil {
		g.log.Error("hooks/list", "err", err)
		return errListHook
	}
	sortHooks(hooks)
	var b strings.Builder
	b.WriteString("<response><returncode>SUCCESS</returncode><hooks>")
	for _, h := range hooks {
		// With a meetingID: that meeting's hooks and all global ones.
		if byMeeting && h.MeetingID != "" && h.MeetingID != meetingID {
			continue
		}
		b.WriteString("<hook><hookID>" + bbb.Escape(h.ID) + "</hookID><callbackURL>" + cdata(h.CallbackURL) + "</callbackURL>")
		if h.MeetingID != "" {
			b.WriteString("<meetingID>" + cdata(h.MeetingID) + "</meetingID>")
		}
		if h.EventID != "" {
			b.WriteString("<eventID>" + bbb.Escape(h.EventID) + "</eventID>")
		}
		b.WriteString("<permanentHook>false</permanentHook><rawData>" + strconv.FormatBool(h.Raw) + "</rawData></hook>")
	}
	b.WriteString("</hooks></response>")
	x.xml([]byte(b.String()), "SUCCESS")
	return nil
}

// sortHooks orders hooks by numeric ID (IDs from NextHookID), then by ID.
func sortHooks(hooks []tinyscale.Hook) {
	slices.SortFunc(hooks, func(a, b tinyscale.Hook) int {
		na, ea := strconv.ParseInt(a.ID, 10, 64)
		nb, eb := strconv.ParseInt(b.ID, 10, 64)
		switch {
		case ea == nil && eb == nil && na != nb:
			if na < nb {
				return -1
			}
			return 1
		case ea == nil && eb != nil:
			return -1
		case ea != nil && eb == nil:
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// cdata wraps s in a CDATA section, splitting any "]]>" inside it.
func cdata(s string) string {
	return "<![CDATA[" + strings.ReplaceAll(s, "]]>", "]]]]><![CDATA[>") + "]]>"
}

func (g *Gateway) hooksDestroy(ctx context.Context, x *exchange) error {
	id := x.req.Params.Get(bbb.ParamHookID)
	if id == "" {
		return errMissingHookID
	}
	rs := g.relay()
	rs.hookMu.Lock()
	defer rs.hookMu.Unlock()
	h, err := g.cfg.Store.Hook(ctx, id)
	if errors.Is(err, tinyscale.ErrNotFound) {
		return errDestroyMissingHook
	}
	if err != nil {
		g.log.Error("hooks/destroy", "hookID", id, "err", err)
		return errDestroyHook
	}
	// Forget it first: from now on its relay refuses events.
	if err := g.cfg.Store.DeleteHook(ctx, id); err != nil {
		if errors.Is(err, tinyscale.ErrNotFound) {
			return errDestroyMissingHook
		}
		g.log.Error("hooks/destroy", "hookID", id, "err", err)
		return errDestroyHook
	}
	g.destroyBackendHooks(context.WithoutCancel(ctx), h.Backends)
	x.xml([]byte("<response><returncode>SUCCESS</returncode><removed>true</removed></response>"), "SUCCESS")
	return nil
}

// destroyBackendHooks removes server hooks (server ID → server hook ID) in
// parallel. Failures are logged; SyncHooks removes leftovers later.
func (g *Gateway) destroyBackendHooks(ctx context.Context, ids map[string]string) {
	var wg sync.WaitGroup
	for sid, hid := range ids {
		b, ok := g.cfg.Fleet.Backend(sid)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.destroyBackendHook(ctx, b, hid); err != nil {
				g.log.Warn("destroy hook on server", "server", sid, "err", err)
			}
		}()
	}
	wg.Wait()
}

func (g *Gateway) destroyBackendHook(ctx context.Context, b *fleet.Backend, hookID string) error {
	body, err := g.get(ctx, b, bbb.CallHooksDestroy, "hookID="+url.QueryEscape(hookID), g.cfg.FanOutTimeout)
	if err != nil {
		return fmt.Errorf("hooks/destroy: %w", err)
	}
	st, err := bbb.ParseStatus(body)
	if err != nil {
		return fmt.Errorf("hooks/destroy on %s: %w", b.ID, err)
	}
	if !st.OK() && st.MessageKey != "destroyMissingHook" {
		return fmt.Errorf("hooks/destroy on %s: %s", b.ID, st.MessageKey)
	}
	return nil
}

// SyncHooks ensures that every stored hook exists on every fan-out server
// and that no server keeps a relay hook of tinyscale's that is no longer
// stored. It lists each server's hooks once; a server whose list fails is
// left alone. Missing hooks are registered with a relay URL under
// Config.PublicURL, or else under the base URL the hook already uses on
// other servers, or else under the last base URL this instance derived
// from a request. It returns the joined errors of the servers it could not
// bring in line; the others are synced regardless. Safe to call
// concurrently and periodically.
func (g *Gateway) SyncHooks(ctx context.Context) error {
	rs := g.relay()
	rs.hookMu.Lock()
	defer rs.hookMu.Unlock()

	hooks, err := g.cfg.Store.Hooks(ctx)
	if err != nil {
		return fmt.Errorf("sync hooks: %w", err)
	}
	stored := make(map[string]tinyscale.Hook, len(hooks))
	for _, h := range hooks {
		stored[h.ID] = h
	}
	backends := g.fanOutBackends()

	// 1. List every server's hooks; note tinyscale's relay hooks on each.
	type listing struct {
		ours    map[string][]string // tinyscale hook ID → server hook IDs of its relay hooks
		orphans []string            // server hook IDs of relay hooks no longer stored
		err     error
	}
	lists := make([]listing, len(backends))
	bases := map[string]string{} // tinyscale hook ID → relay base in use
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, b := range backends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := listing{ours: map[string][]string{}}
			defer func() { lists[i] = l }()
			body, err := g.get(ctx, b, bbb.CallHooksList, "", g.cfg.FanOutTimeout)
			if err != nil {
				l.err = fmt.Errorf("hooks/list: %w", err)
				return
			}
			entries, err := bbb.ParseHooks(body)
			if err != nil {
				l.err = fmt.Errorf("hooks/list on %s: %w", b.ID, err)
				return
			}
			for _, e := range entries {
				kind, tok, ok := callback.ParseURL(e.CallbackURL)
				if !ok || kind != callback.KindHook {
					continue
				}
				c, err := rs.tokens.Decode(tok)
				if err != nil || c.Kind != callback.KindHook || c.ServerID != b.ID {
					continue // not a relay URL of ours for this server
				}
				if _, ok := stored[c.HookID]; !ok {
					l.orphans = append(l.orphans, e.HookID)
					continue
				}
				l.ours[c.HookID] = append(l.ours[c.HookID], e.HookID)
				mu.Lock()
				bases[c.HookID] = c.Base
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	// 2. Per server: remove orphans, adopt or create missing hooks.
	updates := make([]map[string]string, len(backends)) // per server: tinyscale hook ID → server hook ID
	errs := make([]error, len(backends))
	for i, b := range backends {
		if lists[i].err != nil {
			errs[i] = lists[i].err
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := lists[i]
			up := map[string]string{}
			var berrs []error
			for _, hid := range l.orphans {
				if err := g.destroyBackendHook(ctx, b, hid); err != nil {
					berrs = append(berrs, err)
				}
			}
			for _, h := range hooks {
				// Keep one relay hook per stored hook: the recorded one if
				// the server still lists it with this hook's relay URL,
				// else the first found; remove any others (they would
				// deliver each event twice).
				keep := h.Backends[b.ID]
				if !slices.Contains(l.ours[h.ID], keep) {
					keep = ""
				}
				for _, id := range l.ours[h.ID] {
					switch {
					case keep == "":
						keep = id
						up[h.ID] = id
					case id != keep:
						if err := g.destroyBackendHook(ctx, b, id); err != nil {
							berrs = append(berrs, err)
						}
					}
				}
				if keep != "" {
					continue
				}
				base := g.hookBase(bases[h.ID])
				if base == "" {
					berrs = append(berrs, fmt.Errorf("hook %s on %s: no public URL known (set PublicURL)", h.ID, b.ID))
					continue
				}
				id, err := g.createBackendHook(ctx, h, base, b)
				if err != nil {
					berrs = append(berrs, err)
					continue
				}
				up[h.ID] = id
			}
			updates[i] = up
			errs[i] = errors.Join(berrs...)
		}()
	}
	wg.Wait()

	// 3. Store what changed, dropping servers that left the fleet.
	for _, h := range hooks {
		changed := false
		next := make(map[string]string, len(h.Backends)+1)
		for sid, id := range h.Backends {
			if _, ok := g.cfg.Fleet.Backend(sid); !ok {
				changed = true
				continue
			}
			next[sid] = id
		}
		for i, b := range backends {
			if id, ok := updates[i][h.ID]; ok && next[b.ID] != id {
				next[b.ID] = id
				changed = true
			}
		}
		if !changed {
			continue
		}
		cur, err := g.cfg.Store.Hook(ctx, h.ID)
		if errors.Is(err, tinyscale.ErrNotFound) {
			// Destroyed meanwhile (by another instance): undo.
			g.destroyBackendHooks(ctx, next)
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("sync hook %s: %w", h.ID, err))
			continue
		}
		cur.Backends = next
		if err := g.cfg.Store.PutHook(ctx, cur); err != nil {
			errs = append(errs, fmt.Errorf("sync hook %s: %w", h.ID, err))
		}
	}
	return errors.Join(errs...)
}

// hookBase picks the base URL for a new relay registration.
func (g *Gateway) hookBase(inUse string) string {
	if g.cfg.PublicURL != "" {
		return strings.TrimRight(g.cfg.PublicURL, "/")
	}
	if inUse != "" {
		return inUse
	}
	if p := g.relay().lastBase.Load(); p != nil {
		return *p
	}
	return ""
}

// hookEvent relays one bbb-webhooks event delivery. The server signed it
// over the relay URL with its secret (checksum query parameter, or Bearer
// secret in auth2_0 mode); the body goes unchanged to the client's URL,
// signed the same way with tinyscale's secret over the client's URL. The
// relay waits for the client and answers the server with the client's
// status, so bbb-webhooks' own retry and ordering apply end to end.
func (g *Gateway) hookEvent(w http.ResponseWriter, r *http.Request, c callback.Claims, tok string) error {
	if r.Method != http.MethodPost {
		return refuse(http.StatusMethodNotAllowed, "method not allowed", nil)
	}
	b, err := g.backendFor(c)
	if err != nil {
		return err
	}
	body, err := readBody(r, maxCallbackForm)
	if err != nil {
		return err
	}
	bearer := false
	if sum := bbb.ParseQuery(r.URL.RawQuery).Get(bbb.ParamChecksum); sum != "" {
		if err := callback.VerifyHookChecksum(callback.URL(c.Base, callback.KindHook, tok), body, sum, b.Secret); err != nil {
			return refuse(http.StatusUnauthorized, "invalid signature", err)
		}
	} else if auth := r.Header.Get("Authorization"); auth != "" {
		if err := callback.VerifyBearerSecret(auth, b.Secret); err != nil {
			return refuse(http.StatusUnauthorized, "invalid signature", err)
		}
		bearer = true
	} else {
		return refuse(http.StatusUnauthorized, "unsigned", nil)
	}
	ctx := r.Context()
	h, err := g.cfg.Store.Hook(ctx, c.HookID)
	if errors.Is(err, tinyscale.ErrNotFound) {
		return refuse(http.StatusGone, "hook no longer registered", nil)
	}
	if err != nil {
		return refuse(http.StatusServiceUnavailable, "store unavailable", err)
	}
	rs := g.relay()
	req := callback.Request{Method: http.MethodPost, URL: h.CallbackURL, Header: http.Header{}, Body: body}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/x-www-form-urlencoded"
	}
	req.Header.Set("Content-Type", ct)
	if bearer {
		req.Header.Set("Authorization", "Bearer "+g.cfg.Secret)
	} else {
		sep := "?"
		if strings.Contains(h.CallbackURL, "?") {
			sep = "&"
		}
		req.URL = h.CallbackURL + sep + "checksum=" + callback.HookChecksum(rs.opts.HookAlgorithm, h.CallbackURL, body, g.cfg.Secret)
	}
	status, err := rs.deliver.Attempt(ctx, req)
	if err != nil {
		g.cfg.Metrics.Callback(callback.KindHook, "failed")
		return refuse(http.StatusBadGateway, "callback target unreachable", err)
	}
	result := "ok"
	if status < 200 || status > 299 {
		result = "failed"
	}
	g.cfg.Metrics.Callback(callback.KindHook, result)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	return nil
}
