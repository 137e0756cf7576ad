package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/balancer"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/fakebbb"
	"github.com/tinyscale/tinyscale/fleet"
	"github.com/tinyscale/tinyscale/gateway"
	"github.com/tinyscale/tinyscale/store/bolt"
)

// frontSecret is the secret clients of the test gateway sign with.
const frontSecret = "front-secret-4f1c9a"

// harness is a gateway on httptest in front of n fake BBB servers, each
// with its own secret, with a bolt store in a temp dir.
type harness struct {
	t      testing.TB
	bbbs   []*fakebbb.Server
	hts    []*httptest.Server // the fake servers' listeners
	ids    []string           // server IDs, bbb1..bbbN, in the same order
	urls   []string           // fake servers' base URLs
	store  *bolt.Store
	fleet  *fleet.Fleet
	gw     *gateway.Gateway
	srv    *httptest.Server
	http   *http.Client // never follows redirects
	logs   *lockedBuffer
	clock  *testClock
	secret []string
	cfg    gateway.Config
}

// harnessOptions tune newHarness.
type harnessOptions struct {
	// policy defaults to balancer.RoundRobin.
	policy balancer.Policy
	// tags, by server index.
	tags map[int][]string
	// config is applied to the gateway config last.
	config func(*gateway.Config)
	// down lists server indexes whose fake server is closed before start.
	down []int
	// intercept, by server index, is set as the fake server's Intercept.
	intercept map[int]func(call string, w http.ResponseWriter, r *http.Request) bool
}

type harnessOption func(*harnessOptions)

func withPolicy(p balancer.Policy) harnessOption {
	return func(o *harnessOptions) { o.policy = p }
}

func withTags(i int, tags ...string) harnessOption {
	return func(o *harnessOptions) {
		if o.tags == nil {
			o.tags = map[int][]string{}
		}
		o.tags[i] = tags
	}
}

func withConfig(f func(*gateway.Config)) harnessOption {
	return func(o *harnessOptions) { o.config = f }
}

// withIntercept makes fake server i answer requests with f first (see
// fakebbb.Server.Intercept), to play a misbehaving server.
func withIntercept(i int, f func(call string, w http.ResponseWriter, r *http.Request) bool) harnessOption {
	return func(o *harnessOptions) {
		if o.intercept == nil {
			o.intercept = map[int]func(string, http.ResponseWriter, *http.Request) bool{}
		}
		o.intercept[i] = f
	}
}

func withDown(i ...int) harnessOption {
	return func(o *harnessOptions) { o.down = append(o.down, i...) }
}

// testClock is a settable clock for the gateway (negative cache, young
// meetings). It starts at the real time and only moves when told to.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// lockedBuffer collects log output from concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newHarness(t testing.TB, n int, opts ...harnessOption) *harness {
	t.Helper()
	var o harnessOptions
	for _, f := range opts {
		f(&o)
	}
	if o.policy == nil {
		o.policy = &balancer.RoundRobin{}
	}
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "tinyscale.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })

	h := &harness{
		t:     t,
		store: st,
		logs:  &lockedBuffer{},
		clock: &testClock{t: time.Now()},
		http: &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Timeout:       30 * time.Second,
		},
	}
	algs := []string{bbb.SHA256, bbb.SHA1, bbb.SHA512, bbb.SHA384}
	for i := 0; i < n; i++ {
		secret := fmt.Sprintf("backend-secret-%d-%x", i+1, sha1.Sum([]byte{byte(i)}))
		fb := &fakebbb.Server{Secret: secret, Intercept: o.intercept[i]}
		ts := httptest.NewServer(fb)
		fb.URL = ts.URL
		t.Cleanup(func() {
			_ = fb.Close()
			ts.Close()
		})
		apiURL, err := tinyscale.NormalizeURL(fb.URL)
		if err != nil {
			t.Fatalf("normalize %q: %v", fb.URL, err)
		}
		id := fmt.Sprintf("bbb%d", i+1)
		srv := tinyscale.Server{
			ID:        id,
			URL:       apiURL,
			Secret:    secret,
			Weight:    1,
			State:     tinyscale.StateEnabled,
			Algorithm: algs[i%len(algs)],
			Tags:      o.tags[i],
		}
		if err := st.PutServer(ctx, srv); err != nil {
			t.Fatalf("put server: %v", err)
		}
		h.bbbs = append(h.bbbs, fb)
		h.hts = append(h.hts, ts)
		h.ids = append(h.ids, id)
		h.urls = append(h.urls, strings.TrimSuffix(fb.URL, "/"))
		h.secret = append(h.secret, secret)
	}
	for _, i := range o.down {
		h.closeServer(i)
	}
	h.fleet = fleet.New(st, fleet.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := h.fleet.Reload(ctx); err != nil {
		t.Fatalf("fleet reload: %v", err)
	}
	cfg := gateway.Config{
		Secret:         frontSecret,
		Fleet:          h.fleet,
		Store:          st,
		Policy:         o.policy,
		BackendTimeout: 5 * time.Second,
		FanOutTimeout:  2 * time.Second,
		NegativeTTL:    time.Minute,
		Logger:         slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:            h.clock.Now,
	}
	if o.config != nil {
		o.config(&cfg)
	}
	h.cfg = cfg
	h.gw, h.srv = h.startGateway(cfg)
	t.Cleanup(h.checkLogs)
	return h
}

// startGateway starts a gateway for cfg on httptest, mounted as
// cmd/tinyscale mounts it: the API and the callback relay that the fake
// servers call back. Cleanup closes both.
func (h *harness) startGateway(cfg gateway.Config) (*gateway.Gateway, *httptest.Server) {
	h.t.Helper()
	gw, err := gateway.New(cfg)
	if err != nil {
		h.t.Fatalf("gateway.New: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/bigbluebutton/api", gw)
	mux.Handle("/bigbluebutton/api/", gw)
	mux.Handle("/tinyscale/callback/", gw.Callbacks())
	srv := httptest.NewServer(mux)
	h.t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := gw.Close(ctx); err != nil {
			h.t.Errorf("gateway close: %v", err)
		}
	})
	return gw, srv
}

// instance returns a harness for a second tinyscale instance: its own
// gateway (own placement lock, lookups, negative cache and policy state)
// on the same store, fleet and servers, as instances sharing a Redis
// store are.
func (h *harness) instance() *harness {
	h.t.Helper()
	cfg := h.cfg
	cfg.Policy = &balancer.RoundRobin{}
	o := *h
	o.gw, o.srv = h.startGateway(cfg)
	return &o
}

// checkLogs fails the test if a secret or checksum reached the logs.
func (h *harness) checkLogs() {
	logs := h.logs.String()
	for _, s := range append([]string{frontSecret}, h.secret...) {
		if strings.Contains(logs, s) {
			h.t.Errorf("logs contain a secret")
		}
	}
	if strings.Contains(logs, "checksum=") {
		h.t.Errorf("logs contain a checksum: %s", logs)
	}
}

// closeServer makes server i refuse connections from now on.
func (h *harness) closeServer(i int) {
	h.t.Helper()
	// A closed listener refuses connections: what a dead host looks like.
	_ = h.bbbs[i].Close()
	h.hts[i].CloseClientConnections()
	h.hts[i].Close()
}

// setHealth marks server i up or down in the fleet, as the poller would.
func (h *harness) setHealth(i int, up bool) {
	h.fleet.UpdateHealth(tinyscale.Health{ServerID: h.ids[i], Up: up, CheckedAt: time.Now()})
}

// setState changes server i's admin state in the store and the fleet.
func (h *harness) setState(i int, s tinyscale.ServerState) {
	h.t.Helper()
	ctx := context.Background()
	all, err := h.store.Servers(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, srv := range all {
		if srv.ID == h.ids[i] {
			srv.State = s
			if err := h.store.PutServer(ctx, srv); err != nil {
				h.t.Fatal(err)
			}
		}
	}
	if err := h.fleet.Reload(ctx); err != nil {
		h.t.Fatal(err)
	}
}

// serverOf returns the index of the fake server that runs meetingID, or -1.
func (h *harness) serverOf(meetingID string) int {
	found := -1
	for i, fb := range h.bbbs {
		for _, m := range fb.Meetings() {
			if m.ID == meetingID {
				if found >= 0 {
					h.t.Errorf("meeting %q runs on %s and %s", meetingID, h.ids[found], h.ids[i])
				}
				found = i
			}
		}
	}
	return found
}

// waitIdle waits until no fake server has callbacks in flight.
func (h *harness) waitIdle() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, fb := range h.bbbs {
		if err := fb.WaitIdle(ctx); err != nil {
			h.t.Fatalf("%s: wait idle: %v", h.ids[i], err)
		}
	}
}

// index returns the index of the server with id, or -1.
func (h *harness) index(id string) int {
	for i, s := range h.ids {
		if s == id {
			return i
		}
	}
	return -1
}

// calls returns the number of call requests each fake server received.
func (h *harness) calls(call string) []int {
	out := make([]int, len(h.bbbs))
	for i, fb := range h.bbbs {
		out[i] = fb.Calls(call)
	}
	return out
}

// mapped returns the server ID the store maps meetingID to, or "".
func (h *harness) mapped(meetingID string) string {
	m, err := h.store.Meeting(context.Background(), meetingID)
	if errors.Is(err, tinyscale.ErrNotFound) {
		return ""
	}
	if err != nil {
		h.t.Fatalf("store.Meeting: %v", err)
	}
	return m.ServerID
}

// backendClient returns a client that calls server i directly with its
// own secret, bypassing tinyscale.
func (h *harness) backendClient(i int) *bbb.Client {
	return &bbb.Client{BaseURL: h.urls[i] + bbb.APIPath, Secret: h.secret[i], Algorithm: bbb.SHA256}
}

// createDirect creates a meeting on server i without tinyscale.
func (h *harness) createDirect(i int, meetingID string) {
	h.t.Helper()
	body, err := h.backendClient(i).Get(context.Background(), bbb.CallCreate,
		"meetingID="+url.QueryEscape(meetingID)+"&name="+url.QueryEscape("Direct "+meetingID))
	if err != nil {
		h.t.Fatalf("create %q directly: %v", meetingID, err)
	}
	if st, err := bbb.ParseStatus(body); err != nil || !st.OK() {
		h.t.Fatalf("create %q directly: %s", meetingID, body)
	}
}

// param is one query parameter of a test request, in order.
type param struct{ k, v string }

func p(kv ...string) []param {
	out := make([]param, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, param{kv[i], kv[i+1]})
	}
	return out
}

// encoding chooses how a test client escapes spaces.
type encoding int

const (
	plus    encoding = iota // PHP/Ruby/Java default: space as '+'
	pct20                   // RFC 3986 style: space as %20
	rawUTF8                 // no escaping of non-ASCII bytes
)

func escape(s string, enc encoding) string {
	switch enc {
	case pct20:
		return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
	case rawUTF8:
		var b strings.Builder
		for _, r := range s {
			if r >= 0x80 {
				b.WriteRune(r)
				continue
			}
			b.WriteString(url.QueryEscape(string(r)))
		}
		return b.String()
	}
	return url.QueryEscape(s)
}

func encodeQuery(ps []param, enc encoding) string {
	var b strings.Builder
	for i, kv := range ps {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(escape(kv.k, enc))
		b.WriteByte('=')
		b.WriteString(escape(kv.v, enc))
	}
	return b.String()
}

func digest(alg, s string) string {
	var hh hash.Hash
	switch alg {
	case bbb.SHA1:
		hh = sha1.New()
	case bbb.SHA384:
		hh = sha512.New384()
	case bbb.SHA512:
		hh = sha512.New()
	default:
		hh = sha256.New()
	}
	hh.Write([]byte(s))
	return hex.EncodeToString(hh.Sum(nil))
}

// signed returns the raw query for call with a checksum over it.
func signed(call, query, alg, secret string) string {
	sum := digest(alg, call+query+secret)
	if query == "" {
		return "checksum=" + sum
	}
	return query + "&checksum=" + sum
}

// url returns a tinyscale API URL for call, signed with the frontend
// secret (sha1, '+' encoding).
func (h *harness) url(call string, ps []param) string {
	return h.urlWith(call, ps, bbb.SHA1, plus)
}

func (h *harness) urlWith(call string, ps []param, alg string, enc encoding) string {
	return h.srv.URL + bbb.APIPath + call + "?" + signed(call, encodeQuery(ps, enc), alg, frontSecret)
}

// result is one answer of tinyscale.
type result struct {
	status int
	header http.Header
	body   []byte
}

func (r result) String() string {
	return fmt.Sprintf("HTTP %d %s", r.status, r.body)
}

// status parses the BBB envelope and fails the test if it is not XML.
func (r result) st(t testing.TB) bbb.Status {
	t.Helper()
	st, err := bbb.ParseStatus(r.body)
	if err != nil {
		t.Fatalf("answer is not a BBB XML answer: %v: %s", err, r)
	}
	return st
}

// do sends a request and reads the whole answer.
func (h *harness) do(method, rawURL, contentType string, body []byte) result {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		h.t.Fatalf("new request: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		h.t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("read answer: %v", err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: data}
}

func (h *harness) get(call string, ps []param) result {
	h.t.Helper()
	return h.do(http.MethodGet, h.url(call, ps), "", nil)
}

// create creates meetingID through tinyscale and fails the test unless it
// succeeds; it returns the index of the server it landed on.
func (h *harness) create(meetingID string, extra ...string) int {
	h.t.Helper()
	r := h.get(bbb.CallCreate, p(append([]string{"meetingID", meetingID, "name", "Room " + meetingID}, extra...)...))
	if st := r.st(h.t); !st.OK() || r.status != http.StatusOK {
		h.t.Fatalf("create %q: got %s, want SUCCESS", meetingID, r)
	}
	i := h.serverOf(meetingID)
	if i < 0 {
		h.t.Fatalf("create %q: meeting runs on no server", meetingID)
	}
	return i
}

// textOf returns the text of the first element named name in an XML body.
func textOf(body []byte, name string) (string, bool) {
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if err != nil {
			return "", false
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == name {
			var s string
			if err := d.DecodeElement(&s, &se); err != nil {
				return "", false
			}
			return s, true
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
