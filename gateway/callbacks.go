package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/callback"
	"github.com/tinyscale/tinyscale/fleet"
)

// Callback relay.
//
// BBB servers sign their callbacks with their own secret; clients verify
// them with tinyscale's. At create, rewriteCreate therefore replaces every
// callback URL that carries a signature (recording ready and its bn-/canvas-
// variants, analytics) by a relay URL of tinyscale's whose token holds the
// original target, the meetingID and the server the create went to, and it
// adds a meetingEndedURL relay so tinyscale learns at once that a meeting
// ended. The handler behind Callbacks verifies the token, then what the
// server sent with THAT server's secret, re-signs with Config.Secret and
// delivers to the original target (background, retried, once).
//
// meta_endCallbackUrl is left unchanged: BBB sends it as a plain GET with no
// signature, so there is nothing to re-sign, and letting the server call it
// keeps BBB's exact behaviour (its added recordingmarks and meetingID
// parameters, its redirect handling and queue) without making the callback
// depend on tinyscale being up. Relaying it would only hide the server's
// address from the receiver.

// relayState is the Gateway's callback relay and webhook state, set up on
// first use.
type relayState struct {
	once    sync.Once
	opts    callback.Options
	tokens  *callback.Tokens
	deliver *callback.Deliverer
	pending chan struct{} // one slot per background delivery in flight

	lastBase atomic.Pointer[string] // last public base derived from a request
	hookMu   sync.Mutex             // serialises hooks/create and SyncHooks in this instance
}

func (g *Gateway) relay() *relayState {
	rs := &g.cb
	rs.once.Do(func() {
		rs.opts = g.cfg.Relay.WithDefaults()
		rs.tokens = callback.NewTokens(g.cfg.Secret, g.cfg.Now)
		rs.deliver = &callback.Deliverer{Client: rs.opts.HTTPClient, Retry: rs.opts.Retry, Timeout: rs.opts.Timeout}
		rs.pending = make(chan struct{}, rs.opts.MaxPending)
	})
	return rs
}

// recordingReadyKeys are the metadata keys (lower-cased, without meta_) of
// BBB's recording-ready callback, in the order its script prefers them.
var recordingReadyKeys = map[string]bool{
	"bbb-recording-ready-url":    true,
	"bn-recording-ready-url":     true,
	"canvas-recording-ready-url": true,
}

const analyticsKey = "analytics-callback-url"

// publicBase returns tinyscale's base URL as servers reach it:
// Config.PublicURL, or scheme and host of r (honouring X-Forwarded-Proto
// and X-Forwarded-Host).
func (g *Gateway) publicBase(r *http.Request) string {
	if g.cfg.PublicURL != "" {
		return strings.TrimRight(g.cfg.PublicURL, "/")
	}
	proto := firstHeaderValue(r.Header.Get("X-Forwarded-Proto"))
	if proto != "http" && proto != "https" {
		proto = "http"
		if r.TLS != nil {
			proto = "https"
		}
	}
	host := firstHeaderValue(r.Header.Get("X-Forwarded-Host"))
	if !validHost(host) {
		host = r.Host
	}
	base := proto + "://" + host
	g.relay().lastBase.Store(&base)
	return base
}

func firstHeaderValue(v string) string {
	v, _, _ = strings.Cut(v, ",")
	return strings.ToLower(strings.TrimSpace(v))
}

// validHost reports whether h can be used as the host part of a URL.
func validHost(h string) bool {
	if h == "" || strings.ContainsAny(h, "/?#@\\ \t\r\n") {
		return false
	}
	u, err := url.Parse("http://" + h)
	return err == nil && u.Host == h
}

// relayTarget reports whether v is a URL a relay may deliver to: absolute
// http or https with a host.
func relayTarget(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// rewriteCreate returns the query to forward for a create placed on b,
// with callback URLs replaced by tinyscale's relay URLs. q is the parsed
// client query (without checksum).
//
// Every meta_*-recording-ready-url and meta_analytics-callback-url that
// holds an http(s) URL is replaced by a relay URL; a meetingEndedURL relay
// is added (carrying the client's own meetingEndedURL, if any, which the
// relay then calls). All other pairs are kept byte for byte.
func (g *Gateway) rewriteCreate(ctx context.Context, x *exchange, q bbb.Query, b *fleet.Backend) (string, error) {
	rs := g.relay()
	base := g.publicBase(x.r)
	meetingID := q.Get(bbb.ParamMeetingID)
	issue := func(kind, target string) (string, error) {
		tok, err := rs.tokens.Issue(callback.Claims{Kind: kind, Target: target, MeetingID: meetingID, ServerID: b.ID}, rs.opts.TokenTTL)
		if err != nil {
			return "", fmt.Errorf("rewrite create: %w", err)
		}
		return callback.URL(base, kind, tok), nil
	}
	out := make(bbb.Query, 0, len(q)+1)
	ended := false
	for _, p := range q {
		if p.Name == bbb.ParamChecksum {
			continue
		}
		kind := ""
		if key, ok := bbb.MetaKey(p.Name); ok && relayTarget(p.Value) {
			switch {
			case recordingReadyKeys[key]:
				kind = callback.KindRecordingReady
			case key == analyticsKey:
				kind = callback.KindAnalytics
			}
		}
		if p.Name == bbb.ParamMeetingEndedURL {
			if ended {
				continue // bbb-web uses the first value only
			}
			ended = true
			target := ""
			if relayTarget(p.Value) {
				target = p.Value
			}
			kind = callback.KindEnded
			p.Value = target
		}
		if kind != "" {
			u, err := issue(kind, p.Value)
			if err != nil {
				return "", err
			}
			p = bbb.Pair{RawName: p.RawName, RawValue: url.QueryEscape(u), Name: p.Name, Value: u}
		}
		out = append(out, p)
	}
	if !ended {
		u, err := issue(callback.KindEnded, "")
		if err != nil {
			return "", err
		}
		out = append(out, bbb.Pair{RawName: bbb.ParamMeetingEndedURL, RawValue: url.QueryEscape(u), Name: bbb.ParamMeetingEndedURL, Value: u})
	}
	return out.Encode(), nil
}

var relayPathBytes = []byte(callback.PathPrefix)

// restoreMetadata replaces relay URLs in a getMeetingInfo/getMeetings/
// getRecordings answer's metadata with the client's original URLs. It
// returns body itself when there is nothing to restore (the common case
// costs one bytes.Contains).
func (g *Gateway) restoreMetadata(body []byte) []byte {
	if !bytes.Contains(body, relayPathBytes) {
		return body
	}
	rs := g.relay()
	return bbb.RewriteMetadata(body, func(_, value string) (string, bool) {
		kind, tok, ok := callback.ParseURL(value)
		if !ok || (kind != callback.KindRecordingReady && kind != callback.KindAnalytics) {
			return "", false
		}
		c, err := rs.tokens.Decode(tok)
		if err != nil || c.Kind != kind || c.Target == "" {
			return "", false
		}
		return c.Target, true
	})
}

// Callbacks returns the handler for the relay endpoints under
// /tinyscale/callback/ that BBB servers call back. It works mounted with
// or without the prefix stripped. Forged, expired, unsigned or
// mis-signed calls are answered 4xx and reach nobody.
func (g *Gateway) Callbacks() http.Handler { return http.HandlerFunc(g.serveCallback) }

// callbackError is a refused or failed relay call: status and a short
// public text for the server, the cause for the log.
type callbackError struct {
	status int
	text   string
	cause  error
}

func (e *callbackError) Error() string {
	if e.cause == nil {
		return e.text
	}
	return e.text + ": " + e.cause.Error()
}

func refuse(status int, text string, cause error) error {
	return &callbackError{status: status, text: text, cause: cause}
}

// maxCallbackForm bounds the form bodies of recording-ready callbacks
// (one JWT) and webhook events.
const maxCallbackForm = 4 << 20

func (g *Gateway) serveCallback(w http.ResponseWriter, r *http.Request) {
	kind, tok, ok := callback.SplitPath(r.URL.Path)
	if !ok {
		g.cfg.Metrics.Callback("unknown", "rejected")
		http.NotFound(w, r)
		return
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			g.log.Error("panic in callback handler", "kind", kind, "panic", fmt.Sprint(p))
			http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		}
	}()
	status, err := g.handleCallback(w, r, kind, tok)
	if err == nil {
		if status != 0 {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(status)
		}
		return
	}
	var ce *callbackError
	if !errors.As(err, &ce) {
		// Store or signing failures: temporary, never a 500.
		ce = &callbackError{status: http.StatusServiceUnavailable, text: "temporarily unavailable", cause: err}
	}
	if ce.status < 500 {
		g.cfg.Metrics.Callback(kind, "rejected")
	}
	g.log.LogAttrs(r.Context(), slog.LevelWarn, "callback refused",
		slog.String("kind", kind), slog.Int("status", ce.status), slog.String("err", ce.Error()))
	http.Error(w, ce.text, ce.status)
}

// handleCallback answers one relay call. It returns the status to write
// (0 if it already wrote the answer) or an error.
func (g *Gateway) handleCallback(w http.ResponseWriter, r *http.Request, kind, tok string) (int, error) {
	rs := g.relay()
	c, err := rs.tokens.Parse(tok)
	if err != nil {
		return 0, refuse(http.StatusForbidden, "invalid or expired token", err)
	}
	if c.Kind != kind {
		return 0, refuse(http.StatusForbidden, "invalid or expired token", errors.New("token used on another endpoint"))
	}
	switch kind {
	case callback.KindRecordingReady:
		return g.recordingReady(r, c)
	case callback.KindAnalytics:
		return g.analyticsCallback(r, c)
	case callback.KindEnded:
		return g.meetingEnded(r, c)
	case callback.KindHook:
		return 0, g.hookEvent(w, r, c, tok)
	}
	return 0, refuse(http.StatusNotFound, "not found", nil)
}

// backendFor returns the server a token was issued for; its secret is the
// only one accepted on calls carrying the token.
func (g *Gateway) backendFor(c callback.Claims) (*fleet.Backend, error) {
	b, ok := g.cfg.Fleet.Backend(c.ServerID)
	if !ok {
		return nil, refuse(http.StatusForbidden, "unknown server", fmt.Errorf("server %q is not in the fleet", c.ServerID))
	}
	return b, nil
}

func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "cannot read body", err)
	}
	if int64(len(body)) > limit {
		return nil, refuse(http.StatusRequestEntityTooLarge, "body too large", nil)
	}
	return body, nil
}

// recordingReady relays a recording-ready callback: POST form
// signed_parameters=<HS256 JWT signed with the server's secret>. The
// same claims are re-signed (HS256) with Config.Secret and POSTed,
// form-encoded, to the original URL in the background, once per
// recordID and target.
func (g *Gateway) recordingReady(r *http.Request, c callback.Claims) (int, error) {
	if r.Method != http.MethodPost {
		return 0, refuse(http.StatusMethodNotAllowed, "method not allowed", nil)
	}
	if c.Target == "" {
		return 0, refuse(http.StatusForbidden, "invalid or expired token", errors.New("no target"))
	}
	b, err := g.backendFor(c)
	if err != nil {
		return 0, err
	}
	body, err := readBody(r, maxCallbackForm)
	if err != nil {
		return 0, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return 0, refuse(http.StatusBadRequest, "malformed form body", err)
	}
	signed := form.Get("signed_parameters")
	if signed == "" {
		signed = r.URL.Query().Get("signed_parameters")
	}
	rr, err := callback.VerifyRecordingReady(signed, b.Secret)
	if err != nil {
		return 0, refuse(http.StatusUnauthorized, "invalid signature", err)
	}
	if rr.MeetingID != c.MeetingID {
		return 0, refuse(http.StatusForbidden, "meeting does not match token", nil)
	}
	ctx := r.Context()
	if err := g.cfg.Store.PutRecordings(ctx, map[string]string{rr.RecordID: b.ID}); err != nil {
		g.log.Warn("remember recording", "server", b.ID, "err", err)
	}
	resigned, err := callback.Resign(rr.Claims, g.cfg.Secret, jwt.SigningMethodHS256)
	if err != nil {
		return 0, err
	}
	req := callback.Request{
		Method: http.MethodPost,
		URL:    c.Target,
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		Body:   []byte(url.Values{"signed_parameters": {resigned}}.Encode()),
	}
	return g.deliverOnce(ctx, callback.KindRecordingReady, rr.RecordID+"|"+c.Target, req, http.StatusAccepted)
}

// analyticsCallback relays an analytics callback: POST JSON with
// "Authorization: Bearer <HS512 JWT signed with the server's secret>".
// The body is delivered unchanged with a token carrying the same claims
// signed (HS512) with Config.Secret.
func (g *Gateway) analyticsCallback(r *http.Request, c callback.Claims) (int, error) {
	if r.Method != http.MethodPost {
		return 0, refuse(http.StatusMethodNotAllowed, "method not allowed", nil)
	}
	if c.Target == "" {
		return 0, refuse(http.StatusForbidden, "invalid or expired token", errors.New("no target"))
	}
	b, err := g.backendFor(c)
	if err != nil {
		return 0, err
	}
	claims, err := callback.VerifyAnalytics(r.Header.Get("Authorization"), b.Secret)
	if err != nil {
		return 0, refuse(http.StatusUnauthorized, "invalid signature", err)
	}
	body, err := readBody(r, g.cfg.MaxBody)
	if err != nil {
		return 0, err
	}
	var ids struct {
		MeetingID  string `json:"meeting_id"`
		InternalID string `json:"internal_meeting_id"`
	}
	if json.Unmarshal(body, &ids) == nil && ids.MeetingID != "" && ids.MeetingID != c.MeetingID {
		return 0, refuse(http.StatusForbidden, "meeting does not match token", nil)
	}
	key := ids.InternalID
	if key == "" {
		sum := sha256.Sum256(body)
		key = hex.EncodeToString(sum[:])
	}
	resigned, err := callback.Resign(claims, g.cfg.Secret, jwt.SigningMethodHS512)
	if err != nil {
		return 0, err
	}
	h := http.Header{
		"Content-Type":  {"application/json"},
		"Authorization": {"Bearer " + resigned},
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		h.Set("Content-Type", ct)
	}
	if ua := r.Header.Get("User-Agent"); ua != "" {
		h.Set("User-Agent", ua)
	}
	req := callback.Request{Method: http.MethodPost, URL: c.Target, Header: h, Body: body}
	return g.deliverOnce(r.Context(), callback.KindAnalytics, key+"|"+c.Target, req, http.StatusAccepted)
}

// meetingEnded handles the meetingEndedURL relay: the server calls it (a
// plain GET, unsigned; the token is the credential) when the meeting
// ends. tinyscale forgets the meeting (if the store still maps it to that
// server), remembers its recording's server, and calls the client's own
// meetingEndedURL if it gave one.
func (g *Gateway) meetingEnded(r *http.Request, c callback.Claims) (int, error) {
	switch r.Method {
	case http.MethodGet, http.MethodPost, http.MethodHead:
	default:
		return 0, refuse(http.StatusMethodNotAllowed, "method not allowed", nil)
	}
	ctx := r.Context()
	if m, err := g.cfg.Store.Meeting(ctx, c.MeetingID); err == nil && m.ServerID == c.ServerID {
		if m.InternalID != "" {
			// The recording of a meeting has the meeting's internal ID.
			if err := g.cfg.Store.PutRecordings(ctx, map[string]string{m.InternalID: m.ServerID}); err != nil {
				g.log.Warn("remember recording", "server", m.ServerID, "err", err)
			}
		}
		if err := g.cfg.Store.DeleteMeeting(ctx, c.MeetingID, c.ServerID); err != nil && !errors.Is(err, tinyscale.ErrNotFound) {
			g.log.Warn("forget ended meeting", "meetingID", c.MeetingID, "server", c.ServerID, "err", err)
		}
	}
	if c.Target == "" {
		return http.StatusOK, nil
	}
	return g.deliverOnce(ctx, callback.KindEnded, c.ID, callback.Request{Method: http.MethodGet, URL: c.Target}, http.StatusOK)
}

// once reports whether key is seen for the first time. If the store
// cannot tell, the callback is delivered anyway: a rare duplicate is
// better than a lost notification.
func (g *Gateway) once(ctx context.Context, key string) (bool, error) {
	first, err := g.cfg.Store.Once(ctx, "callback|"+key, g.relay().opts.OnceTTL)
	if err != nil {
		if ctx.Err() != nil {
			return false, refuse(http.StatusServiceUnavailable, "canceled", err)
		}
		g.cfg.Metrics.StoreError("once")
		g.log.Warn("callback once-check failed; delivering anyway", "err", err)
		return true, nil
	}
	return first, nil
}

// deliverOnce delivers req in the background, with retries, unless a
// callback with the same kind and key was delivered before (by this or
// another instance); it returns ok (or 200 for a repeat) to answer the
// server with. At most Relay.MaxPending deliveries are in flight per
// instance; beyond that the server is answered 503 and nothing is
// recorded, so a server that retries can succeed later.
func (g *Gateway) deliverOnce(ctx context.Context, kind, key string, req callback.Request, ok int) (int, error) {
	rs := g.relay()
	select {
	case rs.pending <- struct{}{}:
	default:
		return 0, refuse(http.StatusServiceUnavailable, "too many callbacks in flight", nil)
	}
	handedOff := false
	defer func() {
		if !handedOff {
			<-rs.pending
		}
	}()
	first, err := g.once(ctx, kind+"|"+key)
	if err != nil {
		return 0, err
	}
	if !first {
		g.cfg.Metrics.Callback(kind, "duplicate")
		return http.StatusOK, nil
	}
	handedOff = true
	g.goBackground(func(ctx context.Context) {
		defer func() { <-rs.pending }()
		n, err := rs.deliver.Deliver(ctx, req)
		for i := 1; i < n; i++ {
			g.cfg.Metrics.Callback(kind, "retry")
		}
		switch {
		case err == nil:
			g.cfg.Metrics.Callback(kind, "ok")
		case errors.Is(err, callback.ErrRefused):
			g.cfg.Metrics.Callback(kind, "rejected")
			g.log.Info("callback target refused delivery", "kind", kind, "attempts", n, "err", err)
		default:
			g.cfg.Metrics.Callback(kind, "failed")
			g.log.Warn("callback delivery failed", "kind", kind, "attempts", n, "err", err)
		}
	})
	return ok, nil
}
