package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
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
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/callback"
	"github.com/tinyscale/tinyscale/fakebbb"
	"github.com/tinyscale/tinyscale/fleet"
	"github.com/tinyscale/tinyscale/gateway"
	"github.com/tinyscale/tinyscale/store/bolt"
)

// relaySecret is the secret front ends share with the relay harness's
// tinyscale.
const relaySecret = "relay-front-secret-93be"

// relayHarness is tinyscale (API and callback relay on one httptest
// server) in front of fake BBB servers with different secrets.
type relayHarness struct {
	t       testing.TB
	bbbs    []*fakebbb.Server
	ids     []string
	secrets []string
	store   *bolt.Store
	fleet   *fleet.Fleet
	gw      *gateway.Gateway
	srv     *httptest.Server
	now     *relayClock
	logs    *relayLogs
}

type relayClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *relayClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *relayClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type relayLogs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *relayLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *relayLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// relayRetry keeps retries fast in tests; the waits are backoff, never
// synchronisation.
var relayRetry = callback.Retry{Attempts: 5, Initial: time.Millisecond, Max: 5 * time.Millisecond}

func newRelayHarness(t testing.TB, n int, configure ...func(*gateway.Config)) *relayHarness {
	t.Helper()
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "tinyscale.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	h := &relayHarness{t: t, store: st, now: &relayClock{t: time.Now()}, logs: &relayLogs{}}
	for i := range n {
		secret := fmt.Sprintf("relay-backend-%d-%x", i+1, sha1.Sum([]byte{byte(i), 7}))
		fb := fakebbb.NewTestServer(t, secret)
		id := fmt.Sprintf("bbb%d", i+1)
		s, err := tinyscale.Server{ID: id, URL: fb.URL, Secret: secret}.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutServer(ctx, s); err != nil {
			t.Fatal(err)
		}
		h.bbbs = append(h.bbbs, fb)
		h.ids = append(h.ids, id)
		h.secrets = append(h.secrets, secret)
	}
	h.fleet = fleet.New(st, fleet.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := h.fleet.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := gateway.Config{
		Secret:         relaySecret,
		Fleet:          h.fleet,
		Store:          st,
		BackendTimeout: 5 * time.Second,
		FanOutTimeout:  2 * time.Second,
		Relay:          callback.Options{Retry: relayRetry, Timeout: 5 * time.Second},
		Logger:         slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:            h.now.Now,
	}
	for _, f := range configure {
		f(&cfg)
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.gw = gw
	mux := http.NewServeMux()
	mux.Handle(bbb.APIPath, gw)
	mux.Handle(callback.PathPrefix, gw.Callbacks())
	h.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		h.srv.Close()
		h.closeGateway()
		logs := h.logs.String()
		for _, s := range append([]string{relaySecret}, h.secrets...) {
			if strings.Contains(logs, s) {
				t.Errorf("logs contain a secret")
			}
		}
		if strings.Contains(logs, "checksum=") || strings.Contains(logs, "signed_parameters") {
			t.Errorf("logs contain a checksum or signature")
		}
	})
	return h
}

// closeGateway waits for every background delivery of the gateway.
func (h *relayHarness) closeGateway() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.gw.Close(ctx); err != nil {
		h.t.Errorf("gateway close: %v", err)
	}
}

// settle waits until the fake servers and the gateway have no background
// work left (callbacks sent and relayed).
func (h *relayHarness) settle() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, fb := range h.bbbs {
		if err := fb.WaitIdle(ctx); err != nil {
			h.t.Fatalf("fake server did not settle: %v", err)
		}
	}
	h.closeGateway()
}

// apiURL returns a tinyscale API URL for call signed with relaySecret
// (sha1). query must already be encoded.
func (h *relayHarness) apiURL(call, query string) string {
	sum := sha1.Sum([]byte(call + query + relaySecret))
	q := "checksum=" + hex.EncodeToString(sum[:])
	if query != "" {
		q = query + "&" + q
	}
	return h.srv.URL + bbb.APIPath + call + "?" + q
}

// query encodes name/value pairs in order.
func relayQuery(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[i]) + "=" + url.QueryEscape(kv[i+1]))
	}
	return b.String()
}

type relayAnswer struct {
	status int
	header http.Header
	body   []byte
}

func (a relayAnswer) String() string { return fmt.Sprintf("HTTP %d %s", a.status, a.body) }

func (h *relayHarness) send(method, rawURL, contentType string, body []byte) relayAnswer {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return relayAnswer{resp.StatusCode, resp.Header, data}
}

// call makes a GET API call through tinyscale.
func (h *relayHarness) call(call string, kv ...string) relayAnswer {
	h.t.Helper()
	return h.send(http.MethodGet, h.apiURL(call, relayQuery(kv...)), "", nil)
}

// status parses a BBB XML answer.
func (h *relayHarness) status(a relayAnswer) bbb.Status {
	h.t.Helper()
	st, err := bbb.ParseStatus(a.body)
	if err != nil {
		h.t.Fatalf("not a BBB answer: %v: %s", err, a)
	}
	return st
}

// create creates a meeting through tinyscale and returns the index of the
// server it landed on.
func (h *relayHarness) create(meetingID string, kv ...string) int {
	h.t.Helper()
	a := h.call(bbb.CallCreate, append([]string{"meetingID", meetingID, "name", "Room " + meetingID}, kv...)...)
	if st := h.status(a); !st.OK() {
		h.t.Fatalf("create %q: %s", meetingID, a)
	}
	for i, fb := range h.bbbs {
		if _, err := fb.Meeting(meetingID); err == nil {
			return i
		}
	}
	h.t.Fatalf("create %q: meeting runs nowhere", meetingID)
	return -1
}

// createOn creates a meeting through tinyscale on server i, by making the
// others unplaceable for the call.
func (h *relayHarness) createOn(i int, meetingID string, kv ...string) {
	h.t.Helper()
	for j := range h.bbbs {
		if j != i {
			h.fleet.UpdateHealth(tinyscale.Health{ServerID: h.ids[j], Up: false, CheckedAt: time.Now()})
		}
	}
	defer func() {
		for j := range h.bbbs {
			h.fleet.UpdateHealth(tinyscale.Health{ServerID: h.ids[j], Up: true, CheckedAt: time.Now()})
		}
	}()
	if got := h.create(meetingID, kv...); got != i {
		h.t.Fatalf("create %q: landed on %s, want %s", meetingID, h.ids[got], h.ids[i])
	}
}

// relayReceived is one request a relayReceiver got.
type relayReceived struct {
	method string
	uri    string // path and raw query
	header http.Header
	body   []byte
}

// relayReceiver is a front end's callback endpoint: it records every request
// and answers with the next status of its script (200 when it runs out).
type relayReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []relayReceived
	script []int
	notify chan struct{}
}

func newRelayReceiver(t testing.TB, script ...int) *relayReceiver {
	t.Helper()
	rc := &relayReceiver{script: script, notify: make(chan struct{}, 1024)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, relayReceived{r.Method, r.URL.RequestURI(), r.Header.Clone(), body})
		status := http.StatusOK
		if len(rc.script) > 0 {
			status, rc.script = rc.script[0], rc.script[1:]
		}
		rc.mu.Unlock()
		w.WriteHeader(status)
		rc.notify <- struct{}{}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// requests returns what the relayReceiver got so far.
func (rc *relayReceiver) requests() []relayReceived {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]relayReceived(nil), rc.got...)
}

// wait blocks until the relayReceiver got at least n requests.
func (rc *relayReceiver) wait(t testing.TB, n int) []relayReceived {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		if got := rc.requests(); len(got) >= n {
			return got
		}
		select {
		case <-rc.notify:
		case <-deadline:
			t.Fatalf("relayReceiver got %d requests, want %d", len(rc.requests()), n)
		}
	}
}

// relayPoll polls cond until it holds, with a deadline.
func relayPoll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// jwtSegment decodes one base64url segment of a JWT.
func jwtSegment(s string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return string(b), err
}

// jwtEncode encodes one JWT segment.
func jwtEncode(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
