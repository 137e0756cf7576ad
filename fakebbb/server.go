package fakebbb

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ErrNotFound is returned by the test methods when a meeting or recording
// does not exist.
var ErrNotFound = errors.New("not found")

// Fault makes the server misbehave on API calls, to test clients.
type Fault string

// Faults. Control endpoints (/fakebbb/) and the HTML5 client pages are never
// faulted.
const (
	// FaultNone answers normally.
	FaultNone Fault = "none"
	// FaultError500 answers HTTP 500 with a plain-text body.
	FaultError500 Fault = "error500"
	// FaultHang never answers; the handler returns when the request's
	// context ends or the server is closed.
	FaultHang Fault = "hang"
	// FaultBadXML answers HTTP 200 with a body that is not XML.
	FaultBadXML Fault = "badxml"
	// FaultChecksum answers every checksummed call with checksumError, as a
	// server with another secret would.
	FaultChecksum Fault = "checksum"
	// FaultDrop closes the connection without answering.
	FaultDrop Fault = "drop"
)

func (f Fault) valid() bool {
	switch f {
	case FaultNone, FaultError500, FaultHang, FaultBadXML, FaultChecksum, FaultDrop:
		return true
	}
	return false
}

// Bounds on what the server remembers for introspection, so that a
// long-running benchmark server does not grow without limit.
const (
	maxCallNames  = 1000  // distinct call names counted
	maxKeptBodies = 10000 // create bodies kept, oldest dropped first
)

// keepBody remembers a create body for CreateBodies. Call with s.mu held.
func (st *state) keepBody(id string, b Body) {
	st.bodies[id] = append(st.bodies[id], b)
	st.bodyOrder = append(st.bodyOrder, id)
	for len(st.bodyOrder) > maxKeptBodies {
		old := st.bodyOrder[0]
		st.bodyOrder = st.bodyOrder[1:]
		if rest := st.bodies[old][1:]; len(rest) > 0 {
			st.bodies[old] = rest
		} else {
			delete(st.bodies, old)
		}
	}
}

// maxBody limits request bodies (create with embedded slides,
// insertDocument, putRecordingTextTrack).
const maxBody = 32 << 20

// Server is a simulated BigBlueButton server. It is an http.Handler serving
// /bigbluebutton/api/*, /html5client/join, /html5client/guestWait and the
// control endpoints under /fakebbb/.
//
// Set the exported fields before the first request; afterwards change
// Latency only through SetLatency. All methods are safe for concurrent use.
// Background work (callbacks, recording publication) runs in goroutines the
// Server owns; Close stops and waits for them.
type Server struct {
	// Secret is the shared secret (bbb-web's securitySalt). Empty disables
	// checksum verification, as in bbb-web; callbacks are then signed with
	// the empty secret.
	Secret string
	// Algorithms lists the accepted checksum algorithms (sha1, sha256,
	// sha384, sha512) for the API and hooks/*; nil accepts all four.
	Algorithms []string
	// Latency is added before every API answer (not to control endpoints).
	// 0 adds none.
	Latency time.Duration
	// RecordingDelay is the time from the end of a recorded meeting to its
	// recording being published (and to the analytics callback). 0
	// publishes immediately, but still asynchronously.
	RecordingDelay time.Duration
	// EndDelay is the time from an end call to the meeting being ended.
	// 0 ends the meeting before the end call is answered.
	EndDelay time.Duration
	// URL is the server's public base URL, like "http://127.0.0.1:1234",
	// without a trailing slash. It is used for join redirects, playback and
	// text-track URLs and the webhook domain. If empty, URLs are derived
	// from the Host of the request at hand ("http://127.0.0.1" outside a
	// request).
	URL string
	// Logger receives debug logs of API calls and warnings about failed
	// callbacks; nil discards them. Secrets and checksums are never logged.
	Logger *slog.Logger
	// HTTPClient makes the callbacks; nil uses a client with a 10s timeout.
	HTTPClient *http.Client
	// Now is the clock for createTime, startTime, endTime and event
	// timestamps; nil uses time.Now. Delays always use the real clock.
	Now func() time.Time
	// Seed, if non-zero, makes generated passwords, voice bridges, user IDs
	// and tokens deterministic (for golden tests).
	Seed uint64
	// HookChecksumAlgorithm signs webhook deliveries; "" means sha1, the
	// bbb-webhooks default.
	HookChecksumAlgorithm string
	// Intercept, if set, is called for every API request before anything
	// else (after the call is counted). If it returns true it has answered
	// the request and the server does nothing more.
	Intercept func(call string, w http.ResponseWriter, r *http.Request) bool

	initOnce sync.Once
	mux      *http.ServeMux
	sched    scheduler

	mu sync.Mutex
	st *state
}

// state is everything guarded by Server.mu.
type state struct {
	meetings   map[string]*meeting // active meetings by external ID
	byInternal map[string]*meeting // active meetings by internal ID
	voice      map[string]string   // voice bridge → external ID
	ended      map[string]*meeting // recently ended meetings by external ID
	endedQ     []*meeting          // ended meetings, oldest first, for pruning
	sessions   map[string]*session // join sessions by session token
	recordings map[string]*recording
	recOrder   []*recording
	hooks      map[int]*hook
	nextHookID int
	calls      map[string]int
	faults     map[string]Fault // by call; "" for every call
	bodies     map[string][]Body
	bodyOrder  []string // meeting ID of every kept body, oldest first
	rng        *mrand.Rand
	lastCreate int64
	userSeq    int
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.mux = s.controlMux()
	})
}

// state returns the state, creating it on first use. Call with s.mu held.
func (s *Server) state() *state {
	if s.st == nil {
		seed := s.Seed
		if seed == 0 {
			var b [8]byte
			_, _ = rand.Read(b[:])
			seed = binary.LittleEndian.Uint64(b[:])
		}
		s.st = &state{
			meetings:   make(map[string]*meeting),
			byInternal: make(map[string]*meeting),
			voice:      make(map[string]string),
			ended:      make(map[string]*meeting),
			sessions:   make(map[string]*session),
			recordings: make(map[string]*recording),
			hooks:      make(map[int]*hook),
			calls:      make(map[string]int),
			faults:     make(map[string]Fault),
			bodies:     make(map[string][]Body),
			rng:        mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
			nextHookID: 1,
		}
	}
	return s.st
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// baseURL returns the public base URL: URL if set, else derived from r
// (which may be nil).
func (s *Server) baseURL(r *http.Request) string {
	if s.URL != "" {
		return strings.TrimSuffix(s.URL, "/")
	}
	if r != nil && r.Host != "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		return scheme + "://" + r.Host
	}
	return "http://127.0.0.1"
}

// Close stops background work (pending callbacks, recording publication,
// delayed ends) and waits for its goroutines to return. Pending work is
// dropped. The handler keeps answering requests; work they schedule after
// Close is dropped. Close is idempotent and always returns nil.
func (s *Server) Close() error {
	s.sched.close()
	return nil
}

// WaitIdle blocks until no background work is pending or running (every
// scheduled callback, retry and recording publication has finished) or ctx
// ends, whose error it then returns.
func (s *Server) WaitIdle(ctx context.Context) error {
	return s.sched.waitIdle(ctx)
}

// SetFault sets the fault for every API call. It returns an error for an
// unknown fault.
func (s *Server) SetFault(f Fault) error { return s.SetCallFault("", f) }

// SetCallFault sets the fault for one call name ("getMeetings",
// "hooks/create", "" for all calls). A call-specific fault wins over the
// one for all calls. It returns an error for an unknown fault.
func (s *Server) SetCallFault(call string, f Fault) error {
	if f == "" {
		f = FaultNone
	}
	if !f.valid() {
		return fmt.Errorf("set fault: unknown fault %q", f)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state()
	if f == FaultNone {
		delete(st.faults, call)
	} else {
		st.faults[call] = f
	}
	return nil
}

// SetLatency changes Latency while the server is running.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d < 0 {
		d = 0
	}
	s.Latency = d
}

// Calls returns how many API requests with the call name (as in the URL:
// "create", "hooks/list"; "" for the index) the server has received,
// including failed and faulted ones. Unknown call names are counted too,
// up to 1000 distinct names.
func (s *Server) Calls(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state().calls[name]
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, "/fakebbb/"):
		s.mux.ServeHTTP(w, r)
	case path == "/html5client/join":
		s.serveClientJoin(w, r)
	case path == "/html5client/guestWait":
		s.serveGuestWait(w, r)
	default:
		call, ok := callFromPath(path)
		if !ok {
			http.NotFound(w, r)
			return
		}
		s.serveAPI(w, r, call)
	}
}

// callFromPath returns the call name of an API path ("" for the index) and
// false if path is not under /bigbluebutton/api.
func callFromPath(path string) (string, bool) {
	const base = "/bigbluebutton/api"
	if !strings.HasPrefix(path, base) {
		return "", false
	}
	rest := path[len(base):]
	if rest == "" || rest == "/" {
		return "", true
	}
	if rest[0] != '/' {
		return "", false
	}
	return rest[1:], true
}

// request is one API call as received.
type request struct {
	call        string
	method      string
	rawQuery    string
	fullURL     string // escaped path + "?" + raw query, as bbb-webhooks sees req.url
	query       params
	form        params // form-body pairs
	all         params // query then form-body pairs
	body        []byte // non-form body
	rawBody     []byte // the body as received, form or not
	mediaType   string // lower-cased media type of Content-Type
	contentType string // Content-Type as received
	base        string // public base URL
}

// route describes how a call is served.
type route struct {
	methods  []string // allowed methods; nil allows any
	xml      bool     // accepts application/xml and text/xml bodies
	formBody bool     // accepts form and multipart bodies
	checksum func(s *Server, req *request) *apiError
	serve    func(s *Server, w http.ResponseWriter, r *http.Request, req *request)
}

var (
	getPost = []string{http.MethodGet, http.MethodPost}
	getOnly = []string{http.MethodGet}
	post    = []string{http.MethodPost}
)

// apiChecksum verifies a bbb-web call.
func apiChecksum(s *Server, req *request) *apiError {
	if verifyChecksum(s.Secret, s.Algorithms, checksumRequest{req.call, req.rawQuery, req.all, req.form}) {
		return nil
	}
	return errChecksum
}

// recordingsChecksum verifies a recordings call; RecordingController still
// words the error the legacy way.
func recordingsChecksum(s *Server, req *request) *apiError {
	if apiChecksum(s, req) == nil {
		return nil
	}
	return errChecksumRecordings
}

// hooksChecksum verifies a bbb-webhooks call.
func hooksChecksum(s *Server, req *request) *apiError {
	if verifyWebhooksChecksum(s.Secret, s.Algorithms, req.call, req.fullURL, req.query) {
		return nil
	}
	return errChecksumHooks
}

func noChecksum(*Server, *request) *apiError { return nil }

var routes = map[string]route{
	"":                       {nil, true, true, noChecksum, (*Server).index},
	"create":                 {getPost, true, true, apiChecksum, (*Server).create},
	"join":                   {getOnly, false, true, noChecksum, (*Server).join}, // join checks itself: errors may redirect
	"end":                    {getPost, false, true, apiChecksum, (*Server).end},
	"isMeetingRunning":       {getPost, false, true, apiChecksum, (*Server).isMeetingRunning},
	"getMeetingInfo":         {getPost, false, true, apiChecksum, (*Server).getMeetingInfo},
	"getMeetings":            {getPost, false, true, apiChecksum, (*Server).getMeetings},
	"getSessions":            {getPost, false, true, apiChecksum, (*Server).getSessions},
	"sendChatMessage":        {getOnly, false, true, apiChecksum, (*Server).sendChatMessage},
	"insertDocument":         {post, true, false, apiChecksum, (*Server).insertDocument},
	"getRecordings":          {getPost, false, true, recordingsChecksum, (*Server).getRecordings},
	"publishRecordings":      {getOnly, false, true, recordingsChecksum, (*Server).publishRecordings},
	"deleteRecordings":       {getOnly, false, true, recordingsChecksum, (*Server).deleteRecordings},
	"updateRecordings":       {getPost, false, true, recordingsChecksum, (*Server).updateRecordings},
	"getRecordingTextTracks": {getPost, false, true, recordingsChecksum, (*Server).getRecordingTextTracks},
	"putRecordingTextTrack":  {post, false, true, recordingsChecksum, (*Server).putRecordingTextTrack},
	"hooks/create":           {getOnly, false, false, hooksChecksum, (*Server).hooksCreate},
	"hooks/destroy":          {getOnly, false, false, hooksChecksum, (*Server).hooksDestroy},
	"hooks/list":             {getOnly, false, false, hooksChecksum, (*Server).hooksList},
	"hooks/ping":             {getOnly, false, false, noChecksum, (*Server).hooksPing},
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, call string) {
	s.mu.Lock()
	st := s.state()
	if _, known := routes[call]; known || len(st.calls) < maxCallNames {
		st.calls[call]++
	}
	fault, ok := st.faults[call]
	if !ok {
		fault = st.faults[""]
	}
	latency := s.Latency
	s.mu.Unlock()

	if s.Intercept != nil && s.Intercept(call, w, r) {
		return
	}
	if latency > 0 && !s.sleep(r.Context(), latency) {
		return
	}
	switch fault {
	case FaultError500:
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-s.sched.done():
		}
		return
	case FaultBadXML:
		w.Header().Set("Content-Type", "text/xml;charset=utf-8")
		_, _ = io.WriteString(w, "<response><returncode>SUCCESS</returncode><meetings><meeting>")
		return
	case FaultDrop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		// Without a hijackable connection (HTTP/2, recorders) fail loudly.
		http.Error(w, "connection dropped", http.StatusBadGateway)
		return
	}

	rt, known := routes[call]
	if !known {
		writeError(w, errUnsupportedRequest)
		return
	}
	if rt.methods != nil && !contains(rt.methods, r.Method) && !(r.Method == http.MethodHead && contains(rt.methods, http.MethodGet)) {
		w.Header().Set("Allow", strings.Join(rt.methods, ", "))
		h := w.Header()
		h.Set("Content-Type", "text/xml;charset=utf-8")
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = w.Write(errorXML(errMethodNotAllowed))
		return
	}
	req, aerr := s.readRequest(r, call, rt)
	if call == "create" && len(req.rawBody) > 0 {
		if id := req.all.get("meetingID"); id != "" {
			s.mu.Lock()
			s.state().keepBody(id, Body{ContentType: req.contentType, Data: req.rawBody})
			s.mu.Unlock()
		}
	}
	if aerr == nil && fault == FaultChecksum && call != "" && call != "hooks/ping" {
		aerr = errChecksum
	}
	if aerr == nil {
		aerr = rt.checksum(s, req)
	}
	if aerr != nil {
		if call == "join" && req != nil {
			s.joinError(w, r, req, aerr)
			return
		}
		s.logger().Debug("fakebbb api call", "call", call, "messageKey", aerr.key)
		writeError(w, aerr)
		return
	}
	s.logger().Debug("fakebbb api call", "call", call)
	rt.serve(s, w, r, req)
}

// sleep waits for d; it returns false if ctx ended or the server closed
// first.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.sched.done():
		return false
	}
}

// readRequest reads the body and applies the Content-Type rules of
// bbb-web 2.6.18+/3.0: a POST with a body must carry a Content-Type the
// call accepts (form and multipart by default, XML for create and
// insertDocument).
func (s *Server) readRequest(r *http.Request, call string, rt route) (*request, *apiError) {
	req := &request{
		call:        call,
		method:      r.Method,
		rawQuery:    r.URL.RawQuery,
		query:       parseParams(r.URL.RawQuery),
		contentType: r.Header.Get("Content-Type"),
		base:        s.baseURL(r),
	}
	req.fullURL = r.URL.EscapedPath()
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		req.fullURL += "?" + r.URL.RawQuery
	}
	req.all = req.query
	if call == "" || r.Method == http.MethodGet || r.Method == http.MethodHead || r.Body == nil {
		return req, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return req, errBodyTooLarge
	}
	if len(body) > maxBody {
		return req, errBodyTooLarge
	}
	if len(body) == 0 {
		return req, nil
	}
	req.rawBody = body
	if req.contentType != "" {
		if mt, _, err := mime.ParseMediaType(req.contentType); err == nil {
			req.mediaType = strings.ToLower(mt)
		}
	}
	switch req.mediaType {
	case "application/x-www-form-urlencoded":
		if !rt.formBody {
			return req, errContentType
		}
		req.form = parseParams(string(body))
		req.all = append(req.query[:len(req.query):len(req.query)], req.form...)
	case "multipart/form-data":
		if !rt.formBody {
			return req, errContentType
		}
		req.body = body
	case "application/xml", "text/xml":
		if !rt.xml {
			return req, errContentType
		}
		req.body = body
	default:
		return req, errContentType
	}
	return req, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// index answers the version probe; no checksum is verified.
func (s *Server) index(w http.ResponseWriter, _ *http.Request, _ *request) {
	x := newXML()
	x.el("returncode", "SUCCESS")
	x.el("version", "2.0")
	x.el("apiVersion", "2.0")
	x.el("bbbVersion", "")
	writeXML(w, x.bytes())
}

// hooksPing answers bbb-webhooks' unauthenticated liveness probe.
func (s *Server) hooksPing(w http.ResponseWriter, _ *http.Request, _ *request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "bbb-webhooks API up!")
}

// Reset forgets every meeting, session, recording, hook, stored body, call
// count and fault. Pending background work keeps running.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	rng := s.state().rng
	s.st = nil
	s.state().rng = rng
}
