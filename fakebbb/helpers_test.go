package fakebbb_test

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/xml"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/fakebbb"
)

const testSecret = "8cd8ef52e8e101574e400365b55e11a6"

// sum computes a BBB checksum independently of the package under test.
func sum(alg, call, query, secret string) string {
	var h hash.Hash
	switch alg {
	case "sha1":
		h = sha1.New()
	case "sha384":
		h = sha512.New384()
	case "sha512":
		h = sha512.New()
	default:
		h = sha256.New()
	}
	h.Write([]byte(call + query + secret))
	return hex.EncodeToString(h.Sum(nil))
}

// signQuery appends checksum=… (SHA-256) to query, as clients do.
func signQuery(call, query, secret string) string {
	c := sum("sha256", call, query, secret)
	if query == "" {
		return "checksum=" + c
	}
	return query + "&checksum=" + c
}

// client talks to a fake server over HTTP without following redirects.
type client struct {
	tb     testing.TB
	base   string // http://host:port
	secret string
	hc     *http.Client
}

func newClient(tb testing.TB, base, secret string) *client {
	return &client{tb: tb, base: strings.TrimSuffix(base, "/"), secret: secret, hc: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}}
}

// testServer starts a fake server with testSecret and a client for it.
func testServer(tb testing.TB, opts ...func(*fakebbb.Server)) (*fakebbb.Server, *client) {
	tb.Helper()
	s := fakebbb.NewTestServer(tb, testSecret, opts...)
	return s, newClient(tb, s.URL, testSecret)
}

type result struct {
	status int
	header http.Header
	body   string
}

// do sends a request; path includes any query.
func (c *client) do(method, path, contentType, body string) result {
	c.tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.tb.Fatalf("new request: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.tb.Fatalf("read body: %v", err)
	}
	return result{resp.StatusCode, resp.Header, string(b)}
}

// get sends a signed GET of call with query.
func (c *client) get(call, query string) result {
	c.tb.Helper()
	return c.do(http.MethodGet, "/bigbluebutton/api/"+call+"?"+signQuery(call, query, c.secret), "", "")
}

// apiResponse holds the common elements of BBB XML answers.
type apiResponse struct {
	ReturnCode        string `xml:"returncode"`
	MessageKey        string `xml:"messageKey"`
	Message           string `xml:"message"`
	MeetingID         string `xml:"meetingID"`
	InternalMeetingID string `xml:"internalMeetingID"`
	ParentMeetingID   string `xml:"parentMeetingID"`
	AttendeePW        string `xml:"attendeePW"`
	ModeratorPW       string `xml:"moderatorPW"`
	CreateTime        string `xml:"createTime"`
	VoiceBridge       string `xml:"voiceBridge"`
	Running           string `xml:"running"`
	ParticipantCount  int    `xml:"participantCount"`
	IsBreakout        string `xml:"isBreakout"`
	SessionToken      string `xml:"session_token"`
	URL               string `xml:"url"`
	HookID            string `xml:"hookID"`
	TotalElements     string `xml:"totalElements"`
	Attendees         []struct {
		UserID     string `xml:"userID"`
		FullName   string `xml:"fullName"`
		Role       string `xml:"role"`
		CustomData struct {
			Inner string `xml:",innerxml"`
		} `xml:"customdata"`
	} `xml:"attendees>attendee"`
	Metadata struct {
		Inner string `xml:",innerxml"`
	} `xml:"metadata"`
	Breakouts  []string `xml:"breakoutRooms>breakout"`
	Meetings   []string `xml:"meetings>meeting>meetingID"`
	Recordings []struct {
		RecordID string `xml:"recordID"`
		State    string `xml:"state"`
		Metadata struct {
			Inner string `xml:",innerxml"`
		} `xml:"metadata"`
		URL string `xml:"playback>format>url"`
	} `xml:"recordings>recording"`
	Hooks []struct {
		HookID      string `xml:"hookID"`
		CallbackURL string `xml:"callbackURL"`
		MeetingID   string `xml:"meetingID"`
	} `xml:"hooks>hook"`
}

func parse(tb testing.TB, r result) apiResponse {
	tb.Helper()
	var a apiResponse
	if err := xml.Unmarshal([]byte(r.body), &a); err != nil {
		tb.Fatalf("parse XML %q: %v", r.body, err)
	}
	return a
}

// wantResult checks HTTP 200, text/xml and the returncode/messageKey.
func wantResult(tb testing.TB, r result, code, key string) apiResponse {
	tb.Helper()
	if r.status != http.StatusOK {
		tb.Fatalf("got status %d, want 200 (body %q)", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/xml;charset=utf-8" {
		tb.Errorf("got Content-Type %q, want text/xml;charset=utf-8", ct)
	}
	a := parse(tb, r)
	if a.ReturnCode != code || a.MessageKey != key {
		tb.Fatalf("got %s/%s, want %s/%s (body %s)", a.ReturnCode, a.MessageKey, code, key, r.body)
	}
	return a
}

// create creates a meeting and returns the answer.
func (c *client) create(tb testing.TB, id, extra string) apiResponse {
	tb.Helper()
	q := "meetingID=" + url.QueryEscape(id) + "&name=" + url.QueryEscape("Room "+id)
	if extra != "" {
		q += "&" + extra
	}
	return wantResult(tb, c.get("create", q), "SUCCESS", "")
}

// receiver is an httptest callback target that records requests.
type receiver struct {
	mu     sync.Mutex
	reqs   []received
	ch     chan received
	status func(n int) int // status for the n-th request (0-based); nil = 200
}

type received struct {
	method string
	url    *url.URL
	header http.Header
	body   string
}

func newReceiver() *receiver { return &receiver{ch: make(chan received, 100)} }

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rec := received{r.Method, r.URL, r.Header.Clone(), string(b)}
	rc.mu.Lock()
	n := len(rc.reqs)
	rc.reqs = append(rc.reqs, rec)
	rc.mu.Unlock()
	status := http.StatusOK
	if rc.status != nil {
		status = rc.status(n)
	}
	w.WriteHeader(status)
	rc.ch <- rec
}

// next waits for the next request.
func (rc *receiver) next(tb testing.TB) received {
	tb.Helper()
	select {
	case r := <-rc.ch:
		return r
	case <-time.After(10 * time.Second):
		tb.Fatal("no callback received within 10s")
		return received{}
	}
}

// count returns the number of requests received so far.
func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

// waitIdle waits for the server's background work.
func waitIdle(tb testing.TB, s *fakebbb.Server) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitIdle(ctx); err != nil {
		tb.Fatalf("wait idle: %v", err)
	}
}

// clock is a settable clock for deterministic times.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func xmlDecode(r io.Reader, v any) error { return xml.NewDecoder(r).Decode(v) }

// httptestDo serves one request with h directly and returns the body.
func httptestDo(h http.Handler, method, target string) string {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Body.String()
}
