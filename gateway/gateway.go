// Package gateway serves the BigBlueButton API under /bigbluebutton/api/:
// it verifies the client's checksum, finds or places the meeting's server,
// re-signs the call for that server and forwards it, or fans it out to all
// servers and merges the answers, so that clients see one BBB server.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/balancer"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/callback"
	"github.com/tinyscale/tinyscale/fleet"
	"github.com/tinyscale/tinyscale/metrics"
)

// Config configures a Gateway. Fleet, Store and Secret are required.
type Config struct {
	// Secret is the shared secret clients sign with (TINYSCALE_SECRET).
	Secret string
	// Algorithms lists the checksum algorithms accepted from clients
	// (TINYSCALE_ALGORITHMS): sha1, sha256, sha384, sha512, in any case.
	// Nil or empty accepts all four; New rejects unknown names.
	Algorithms []string
	// Fleet is the set of servers.
	Fleet *fleet.Fleet
	// Store keeps the meeting map, hooks and callback state.
	Store tinyscale.Store
	// Policy places new meetings; default balancer.LeastLoaded.
	Policy balancer.Policy
	// DefaultTag is the tag a create without meta_server-tag asks for when
	// it is non-empty (see balancer.ByTag); "" means untagged servers.
	DefaultTag string
	// YoungAge is how long a new meeting counts as young (charged at the
	// minimum expected size); default 2 minutes.
	YoungAge time.Duration
	// BackendTimeout bounds a call to the one server holding a meeting;
	// default 10s.
	BackendTimeout time.Duration
	// FanOutTimeout bounds each server's answer in fan-out calls
	// (getMeetings, getRecordings, lookups); default 3s. A server that does
	// not answer in time is skipped.
	FanOutTimeout time.Duration
	// NegativeTTL is how long an unknown meetingID is remembered as unknown,
	// so that clients polling a meeting that does not run do not cause a
	// fan-out each time; default 2s, 0 keeps the default, negative disables.
	NegativeTTL time.Duration
	// PublicURL is tinyscale's own base URL as BBB servers reach it (for
	// callback relays), e.g. https://lb.example.org. Empty derives it from
	// each create request (Host, X-Forwarded-Proto, X-Forwarded-Host).
	PublicURL string
	// Relay configures the callback relay (retries, token lifetime,
	// webhook checksum algorithm); zero values take callback's defaults.
	Relay callback.Options
	// MaxBody limits request bodies; default bbb.DefaultMaxBody.
	MaxBody int64
	// Logger receives one line per request; default slog.Default().
	Logger *slog.Logger
	// Metrics receives request and backend metrics; nil disables them.
	Metrics *metrics.Metrics
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

// Gateway is the BBB API handler. Create it with New; Close waits for its
// background work.
type Gateway struct {
	cfg      Config
	verifier bbb.Verifier
	log      *slog.Logger
	routes   map[string]route

	lookups singleflight.Group // one fan-out per unknown meetingID at a time
	placeMu sync.Mutex         // serialises placement so bursts spread out

	negMu sync.Mutex
	neg   map[string]time.Time // meetingID → unknown until

	roundMu sync.Mutex
	round   *meetingsRound // the getMeetings fan-out in flight, if any

	learning  atomic.Bool                           // a getMeetings learning run is in progress
	pending   atomic.Pointer[map[string]discovered] // meetings the learning run in progress is to store
	learnedMu sync.Mutex
	learned   map[string]struct{} // meetings getMeetings learning found in the map or stored

	cb relayState // callback relay and webhook state (callbacks.go)

	wg     sync.WaitGroup // background work (callback deliveries)
	ctx    context.Context
	cancel context.CancelFunc
}

// handlerFunc answers one verified API call. It either writes the response
// through x and returns nil, or returns an error that ServeHTTP renders:
// a *bbb.Error as FAILED XML, anything else as a generic failure.
type handlerFunc func(ctx context.Context, x *exchange) error

// route is one API call: its handler and the HTTP methods it accepts.
type route struct {
	h    handlerFunc
	get  bool // GET (and HEAD)
	post bool
}

// allows reports whether the call accepts method.
func (rt route) allows(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead:
		return rt.get
	case http.MethodPost:
		return rt.post
	}
	return false
}

// allow is the value of the Allow header of a 405 answer.
func (rt route) allow() string {
	switch {
	case rt.get && rt.post:
		return "GET, HEAD, POST"
	case rt.get:
		return "GET, HEAD"
	}
	return "POST"
}

// errBodyUnreadable answers a request whose body could not be read.
var errBodyUnreadable = bbb.NewError("validationError", "The request body could not be read.")

// errMethodNotAllowed answers a call made with a method it does not accept.
var errMethodNotAllowed = bbb.NewError("unsupportedRequest", "This request method is not supported for this call.")

// MaxFormBody bounds an application/x-www-form-urlencoded request body
// (parameters posted instead of put in the query): 2 MiB, the default
// maximum form size of the servlet container bbb-web runs in, which
// ignores larger form bodies. Other bodies are bounded by Config.MaxBody.
const MaxFormBody = 2 << 20

// New returns a Gateway for cfg.
func New(cfg Config) (*Gateway, error) {
	if cfg.Fleet == nil || cfg.Store == nil {
		return nil, errors.New("gateway: Fleet and Store are required")
	}
	if cfg.Secret == "" {
		return nil, errors.New("gateway: Secret is required")
	}
	var algs []string
	for _, a := range cfg.Algorithms {
		a = strings.ToLower(strings.TrimSpace(a))
		if !bbb.ValidAlgorithm(a) {
			return nil, fmt.Errorf("gateway: Algorithms: %q is not sha1, sha256, sha384 or sha512", a)
		}
		algs = append(algs, a)
	}
	cfg.Algorithms = algs
	if cfg.Policy == nil {
		cfg.Policy = &balancer.LeastLoaded{}
	}
	if cfg.YoungAge <= 0 {
		cfg.YoungAge = 2 * time.Minute
	}
	if cfg.BackendTimeout <= 0 {
		cfg.BackendTimeout = 10 * time.Second
	}
	if cfg.FanOutTimeout <= 0 {
		cfg.FanOutTimeout = 3 * time.Second
	}
	if cfg.NegativeTTL == 0 {
		cfg.NegativeTTL = 2 * time.Second
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = bbb.DefaultMaxBody
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g := &Gateway{
		cfg:      cfg,
		verifier: bbb.Verifier{Secret: cfg.Secret, Algorithms: cfg.Algorithms},
		log:      cfg.Logger,
		neg:      map[string]time.Time{},
	}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	// Methods as bbb-web 3.0 (UrlMappings.groovy) and bbb-webhooks accept
	// them (spec §1.1): join only by GET since 2.6.18/2.7.8.
	get := func(h handlerFunc) route { return route{h: h, get: true} }
	getPost := func(h handlerFunc) route { return route{h: h, get: true, post: true} }
	post := func(h handlerFunc) route { return route{h: h, post: true} }
	g.routes = map[string]route{
		bbb.CallCreate:                 getPost(g.create),
		bbb.CallJoin:                   get(g.join),
		bbb.CallEnd:                    getPost(g.end),
		bbb.CallIsMeetingRunning:       getPost(g.isMeetingRunning),
		bbb.CallGetMeetingInfo:         getPost(g.getMeetingInfo),
		bbb.CallGetMeetings:            getPost(g.getMeetings),
		bbb.CallInsertDocument:         post(g.byMeeting),
		bbb.CallSendChatMessage:        get(g.byMeeting),
		bbb.CallGetRecordings:          getPost(g.getRecordings),
		bbb.CallPublishRecordings:      get(g.byRecordings),
		bbb.CallUpdateRecordings:       getPost(g.byRecordings),
		bbb.CallDeleteRecordings:       get(g.byRecordings),
		bbb.CallGetRecordingTextTracks: getPost(g.byRecording),
		bbb.CallPutRecordingTextTrack:  post(g.byRecording),
		bbb.CallHooksCreate:            get(g.hooksCreate),
		bbb.CallHooksList:              get(g.hooksList),
		bbb.CallHooksDestroy:           get(g.hooksDestroy),
	}
	return g, nil
}

// Close stops background work (callback deliveries in flight get until
// ctx ends to finish) and waits for it.
func (g *Gateway) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		g.cancel()
		return nil
	case <-ctx.Done():
		g.cancel()
		<-done
		return ctx.Err()
	}
}

// exchange is one API call in flight: the parsed request, the response
// writer, and what the request log line reports.
type exchange struct {
	w    http.ResponseWriter
	r    *http.Request
	req  *bbb.Request
	call string

	// Set by handlers for the log line and metrics.
	meetingID string
	server    string
	result    string
	written   bool
}

// xml writes a 200 XML answer. result is what the log line reports
// (e.g. "SUCCESS", a messageKey).
func (x *exchange) xml(body []byte, result string) {
	x.result = result
	x.written = true
	bbb.WriteXML(x.w, body)
}

// fail writes e as FAILED XML.
func (x *exchange) fail(e *bbb.Error) {
	x.result = e.Key
	x.written = true
	bbb.WriteError(x.w, e)
}

// noCache is the shared value of a Cache-Control header; never written to.
var noCache = []string{"no-cache"}

// redirect answers with a 302 to location.
func (x *exchange) redirect(location string) {
	x.result = "redirect"
	x.written = true
	h := x.w.Header()
	h["Location"] = []string{location}
	h["Cache-Control"] = noCache
	x.w.WriteHeader(http.StatusFound)
}

// ServeHTTP answers BBB API calls under /bigbluebutton/api/. It never
// answers 500: failures are BBB-shaped FAILED XML. A call made with a
// method it does not accept is answered 405 (with FAILED XML). A
// request's parameters and body are read only once the checksum in its
// query is verified, except for a form body without one (at most
// MaxFormBody bytes), which may carry the checksum itself.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := g.cfg.Now()
	call, ok := bbb.CallFromPath(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	x := &exchange{w: w, r: r, call: call}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			g.log.Error("panic in API handler", "call", call, "panic", fmt.Sprint(p))
			if !x.written {
				x.fail(bbb.ErrInternal)
			}
		}
		g.logRequest(x, g.cfg.Now().Sub(start))
	}()
	if call == bbb.CallIndex {
		x.xml([]byte(bbb.IndexXML), "SUCCESS")
		return
	}
	rt, known := g.routes[call]
	if !known {
		x.fail(bbb.ErrUnsupportedRequest)
		return
	}
	if !rt.allows(r.Method) {
		x.result, x.written = "methodNotAllowed", true
		h := w.Header()
		h.Set("Allow", rt.allow())
		h.Set("Content-Type", "text/xml;charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = w.Write(bbb.ErrorXML(errMethodNotAllowed))
		return
	}
	mediaType := ""
	if r.Method == http.MethodPost {
		mediaType = bbb.MediaType(r.Header.Get("Content-Type"))
	}
	done, verr := g.verifier.VerifyBeforeBody(call, r.URL.RawQuery, mediaType)
	if done && verr != nil && call != bbb.CallJoin {
		// Neither the body nor the parameters of an unsigned request are
		// read. (A failed join needs its parameters for the error
		// redirect; join is GET only, so it has no body to read.)
		g.checksumFailed(x, verr)
		return
	}
	limit := g.cfg.MaxBody
	if mediaType == "application/x-www-form-urlencoded" {
		limit = min(limit, MaxFormBody)
	}
	req, err := bbb.ReadRequest(r, limit)
	if errors.Is(err, bbb.ErrBodyTooLarge) {
		x.fail(bbb.ErrBodyLimit)
		return
	}
	if err != nil {
		// The client sent less than it announced, or went away.
		x.fail(errBodyUnreadable)
		return
	}
	x.req = req
	x.meetingID = req.Params.Get(bbb.ParamMeetingID)
	if !done {
		verr = g.verifier.Verify(req)
	}
	if verr != nil {
		g.checksumFailed(x, verr)
		return
	}
	if err := req.CheckContentType(); err != nil {
		x.fail(bbb.ErrUnsupportedContentType)
		return
	}
	if err := rt.h(r.Context(), x); err != nil {
		g.renderError(x, err)
	}
}

// checksumFailed answers a request whose checksum is missing or wrong.
func (g *Gateway) checksumFailed(x *exchange, err error) {
	switch {
	case x.call == bbb.CallPutRecordingTextTrack && errors.Is(err, bbb.ErrChecksumMissing):
		// bbb-web's text-track upload reports a missing checksum in
		// its JSON envelope; a wrong one is the usual XML error.
		x.result, x.written = "paramError", true
		bbb.WriteJSONError(x.w, bbb.NewError("paramError", "Missing param checksum."))
	case x.call == bbb.CallJoin:
		g.joinError(x, bbb.ErrChecksum)
	default:
		x.fail(bbb.ErrChecksum)
	}
}

// renderError turns a handler error into FAILED XML, keeping internal
// causes out of the answer.
func (g *Gateway) renderError(x *exchange, err error) {
	if x.written {
		g.log.Warn("error after response was written", "call", x.call, "err", err)
		return
	}
	var be *bbb.Error
	switch {
	case errors.As(err, &be):
		x.fail(be)
		return
	case errors.Is(err, tinyscale.ErrTagUnavailable):
		x.fail(bbb.ErrServerTagUnavailable)
		return
	case errors.Is(err, tinyscale.ErrNoServer):
		x.fail(bbb.ErrNoServerAvailable)
		return
	case errors.Is(err, tinyscale.ErrStoreUnavailable):
		g.cfg.Metrics.StoreError("request")
		g.log.Error("store unavailable", "call", x.call, "err", err)
		x.fail(bbb.ErrServerUnavailable)
		return
	case errors.Is(err, context.Canceled):
		x.result = "canceled"
		return
	}
	g.log.Error("request failed", "call", x.call, "meetingID", x.meetingID, "server", x.server, "err", err)
	x.fail(bbb.ErrInternal)
}

// logRequest records the request's metrics and writes its log line
// ("api", at info level).
func (g *Gateway) logRequest(x *exchange, d time.Duration) {
	g.cfg.Metrics.Request(x.call, x.result, d)
	ctx := context.Background()
	h := g.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	call := x.call
	if call == "" {
		call = "index"
	}
	// The record is built here rather than by Logger.LogAttrs, which
	// would look up the caller's program counter (runtime.Callers, a
	// fifth of the line's cost) for a source location nobody logs.
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "api", 0)
	r.AddAttrs(
		slog.String("call", call),
		slog.String("meetingID", x.meetingID),
		slog.String("server", x.server),
		slog.Duration("duration", d),
		slog.String("result", x.result))
	_ = h.Handle(ctx, r)
}

// do sends one request to b, recording metrics. query carries no checksum.
func (g *Gateway) do(ctx context.Context, b *fleet.Backend, method, call, query, contentType string, body []byte) (*http.Response, error) {
	start := g.cfg.Now()
	var rd io.Reader
	if body != nil {
		rd = bytesReader(body)
	}
	resp, err := b.Client.Do(ctx, method, call, query, contentType, rd)
	g.cfg.Metrics.Backend(b.ID, call, g.cfg.Now().Sub(start), err)
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", b.ID, err)
	}
	return resp, nil
}

// get sends a GET to b and returns the body of a 200 answer, bounded by
// timeout.
func (g *Gateway) get(ctx context.Context, b *fleet.Backend, call, query string, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := g.cfg.Now()
	body, err := b.Client.Get(ctx, call, query)
	g.cfg.Metrics.Backend(b.ID, call, g.cfg.Now().Sub(start), err)
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", b.ID, err)
	}
	return body, nil
}

// fanOutResult is one server's answer to a fan-out call.
type fanOutResult struct {
	Backend *fleet.Backend
	Body    []byte
	Err     error
}

// fanOut sends a GET of call to every backend in parallel, each bounded by
// FanOutTimeout, and returns all results in backend order. Failed servers
// are logged and reported with Err set.
func (g *Gateway) fanOut(ctx context.Context, backends []*fleet.Backend, call, query string) []fanOutResult {
	res := make([]fanOutResult, len(backends))
	var wg sync.WaitGroup
	for i, b := range backends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, err := g.get(ctx, b, call, query, g.cfg.FanOutTimeout)
			res[i] = fanOutResult{Backend: b, Body: body, Err: err}
			if err != nil && ctx.Err() == nil {
				g.log.Warn("server skipped in fan-out", "call", call, "server", b.ID, "err", err)
			}
		}()
	}
	wg.Wait()
	return res
}

// fanOutBackends returns the servers that fan-out calls ask.
func (g *Gateway) fanOutBackends() []*fleet.Backend {
	all := g.cfg.Fleet.Backends()
	out := make([]*fleet.Backend, 0, len(all))
	for _, b := range all {
		if b.InFanOut() {
			out = append(out, b)
		}
	}
	return out
}

// goBackground runs f in a goroutine owned by the Gateway (Close waits).
func (g *Gateway) goBackground(f func(ctx context.Context)) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f(g.ctx)
	}()
}
