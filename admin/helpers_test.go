package admin_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/admin"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/fakebbb"
	"github.com/tinyscale/tinyscale/fleet"
	"github.com/tinyscale/tinyscale/poller"
	"github.com/tinyscale/tinyscale/store/bolt"
)

const testToken = "test-admin-token-0123456789"

// env is a fleet of fake BBB servers behind an admin API on httptest.
type env struct {
	store   *bolt.Store
	fleet   *fleet.Fleet
	fakes   map[string]*fakebbb.Server // by server ID
	handler *admin.Handler
	srv     *httptest.Server
	client  *admin.Client
	changes atomic.Int32
	now     time.Time
	secrets []string
	history *admin.History
}

type envOption func(*admin.Config)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newEnv starts n fake servers (ids bbb1..bbbn, secret "secret-<id>"),
// stores them, and serves the admin API with testToken.
func newEnv(tb testing.TB, n int, opts ...envOption) *env {
	tb.Helper()
	st, err := bolt.Open(filepath.Join(tb.TempDir(), "t.db"))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	e := &env{store: st, fakes: map[string]*fakebbb.Server{}, now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	for i := 1; i <= n; i++ {
		id := "bbb" + string(rune('0'+i))
		secret := "secret-" + id
		fk := fakebbb.NewTestServer(tb, secret)
		e.fakes[id] = fk
		e.secrets = append(e.secrets, secret)
		s, err := tinyscale.Server{ID: id, URL: fk.URL, Secret: secret, Source: tinyscale.SourceFile}.Normalize()
		if err != nil {
			tb.Fatalf("normalize: %v", err)
		}
		if err := st.PutServer(ctx, s); err != nil {
			tb.Fatalf("put server: %v", err)
		}
	}
	e.fleet = fleet.New(st, fleet.Options{Logger: discard()})
	if err := e.fleet.Reload(ctx); err != nil {
		tb.Fatalf("reload: %v", err)
	}
	e.history = admin.NewHistory(e.fleet, nil)
	e.history.Now = func() time.Time { return e.now }
	cfg := admin.Config{
		Fleet:    e.fleet,
		Token:    testToken,
		Probe:    poller.Probe,
		OnChange: func(context.Context) { e.changes.Add(1) },
		History:  e.history,
		Logger:   discard(),
		Now:      func() time.Time { return e.now },
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.handler = admin.NewHandler(cfg)
	mux := http.NewServeMux()
	mux.Handle(admin.PathPrefix, e.handler)
	e.srv = httptest.NewServer(mux)
	tb.Cleanup(e.srv.Close)
	e.client = &admin.Client{BaseURL: e.srv.URL, Token: testToken, HTTP: e.srv.Client()}
	return e
}

// createMeeting creates a meeting directly on the fake server id and
// records it in the store as placed there.
func (e *env) createMeeting(tb testing.TB, serverID, meetingID string, participants int) {
	tb.Helper()
	fk := e.fakes[serverID]
	c := &bbb.Client{BaseURL: fk.APIURL(), Secret: "secret-" + serverID}
	q := "meetingID=" + url.QueryEscape(meetingID) + "&name=" + url.QueryEscape("Room "+meetingID)
	body, err := c.Get(context.Background(), bbb.CallCreate, q)
	if err != nil {
		tb.Fatalf("create %s on %s: %v", meetingID, serverID, err)
	}
	if st, err := bbb.ParseStatus(body); err != nil || !st.OK() {
		tb.Fatalf("create %s on %s: got %+v, %v, want SUCCESS", meetingID, serverID, st, err)
	}
	if participants > 0 {
		if err := fk.AddParticipants(meetingID, participants); err != nil {
			tb.Fatalf("add participants: %v", err)
		}
	}
	if err := e.store.PutMeeting(context.Background(), tinyscale.Meeting{ID: meetingID, ServerID: serverID, CreatedAt: e.now}); err != nil {
		tb.Fatalf("put meeting: %v", err)
	}
}

// setHealth stores health for a server and reloads the fleet.
func (e *env) setHealth(tb testing.TB, hs ...tinyscale.Health) {
	tb.Helper()
	if err := e.store.PutHealth(context.Background(), hs...); err != nil {
		tb.Fatalf("put health: %v", err)
	}
	if err := e.fleet.Reload(context.Background()); err != nil {
		tb.Fatalf("reload: %v", err)
	}
}

// storedServer returns the stored server with id.
func (e *env) storedServer(tb testing.TB, id string) (tinyscale.Server, bool) {
	tb.Helper()
	all, err := e.store.Servers(context.Background())
	if err != nil {
		tb.Fatalf("servers: %v", err)
	}
	for _, s := range all {
		if s.ID == id {
			return s, true
		}
	}
	return tinyscale.Server{}, false
}

// do sends a raw request to the admin API with the token (if auth) and
// returns status and body.
func (e *env) do(tb testing.TB, method, path, body string, hdr map[string]string) (int, string) {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func bearer() map[string]string { return map[string]string{"Authorization": "Bearer " + testToken} }
