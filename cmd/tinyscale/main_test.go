package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/fakebbb"
)

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

func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut lockedBuffer
	ready := make(chan *Main, 1)
	done := make(chan error, 1)
	cmd := &DemoCommand{Stdout: &out, Stderr: &errOut, ready: func(m *Main) { ready <- m }}
	go func() { done <- cmd.Run(ctx, []string{"--port", "0", "--secret", "demo-secret"}) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("demo stopped: %v\n%s", err, errOut.String())
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not start")
	}
	text := out.String()
	for _, want := range []string{"BBB API URL", "demo-secret", "Dashboard", "curl -s '"} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	create := regexp.MustCompile(`create  (\S+)`).FindStringSubmatch(text)
	join := regexp.MustCompile(`join    (\S+)`).FindStringSubmatch(text)
	if create == nil || join == nil {
		t.Fatalf("no example URLs in:\n%s", text)
	}
	body := httpGet(t, create[1])
	if !strings.Contains(body, "<returncode>SUCCESS</returncode>") {
		t.Errorf("the printed create URL fails: %s", body)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(join[1])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("the printed join URL answers %d, want 302", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("demo did not stop cleanly: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop")
	}
	if strings.Contains(errOut.String(), "checksum=") {
		t.Errorf("the demo's log shows a checksum:\n%s", errOut.String())
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestMain_ServersFileMerge checks how servers.json and admin changes
// combine across a reload: the file decides connection fields, admin states
// survive, file servers no longer listed go, API servers stay.
func TestMain_ServersFileMerge(t *testing.T) {
	a := fakebbb.NewTestServer(t, "sa")
	b := fakebbb.NewTestServer(t, "sb")
	c := fakebbb.NewTestServer(t, "sc")
	dir := t.TempDir()
	file := filepath.Join(dir, "servers.json")
	write := func(entries ...map[string]any) {
		data, _ := json.Marshal(entries)
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(map[string]any{"host": a.URL, "secret": "sa", "id": "a"}, map[string]any{"host": b.URL, "secret": "sb", "id": "b"})
	cfg := DefaultConfig()
	cfg.Secret = "front"
	cfg.Listen = "127.0.0.1:0"
	cfg.ServersFile = file
	cfg.Store = filepath.Join(dir, "t.db")
	cfg.LogLevel = "error"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	m := &Main{Config: cfg, Stderr: &logs}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	ctx := context.Background()

	// Admin changes: cordon a, add c through the API.
	sa := mustServer(t, m.Store, "a")
	sa.State = tinyscale.StateCordoned
	if err := m.Store.PutServer(ctx, sa); err != nil {
		t.Fatal(err)
	}
	sc, _ := tinyscale.Server{ID: "c", URL: c.URL, Secret: "sc", Source: tinyscale.SourceAPI}.Normalize()
	if err := m.Store.PutServer(ctx, sc); err != nil {
		t.Fatal(err)
	}
	// The file drops b and changes a's weight.
	write(map[string]any{"host": a.URL, "secret": "sa", "id": "a", "weight": 3})
	if err := m.ReloadServers(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := m.Store.Servers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]tinyscale.Server{}
	for _, s := range got {
		ids[s.ID] = s
	}
	if _, ok := ids["b"]; ok {
		t.Errorf("b is still there after it left servers.json")
	}
	if s := ids["a"]; s.State != tinyscale.StateCordoned || s.Weight != 3 {
		t.Errorf("a: got state %q weight %v, want cordoned (kept) and 3 (from the file)", s.State, s.Weight)
	}
	if _, ok := ids["c"]; !ok {
		t.Errorf("c, added through the API, was removed by the reload")
	}
	if len(m.Fleet.Backends()) != 2 {
		t.Errorf("fleet has %d servers after reload, want 2", len(m.Fleet.Backends()))
	}
}

func mustServer(t *testing.T, s tinyscale.Store, id string) tinyscale.Server {
	t.Helper()
	all, err := s.Servers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range all {
		if x.ID == id {
			return x
		}
	}
	t.Fatalf("no server %s", id)
	return tinyscale.Server{}
}

// TestMain_StartupProbe checks that a wrong secret stops start-up naming the
// server, and that an unreachable server starts marked down (or stops
// start-up with Strict).
func TestMain_StartupProbe(t *testing.T) {
	good := fakebbb.NewTestServer(t, "good")
	wrong := fakebbb.NewTestServer(t, "actual")
	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + ln.Addr().String()
	ln.Close()
	base := func(t *testing.T, servers ...tinyscale.Server) *Main {
		cfg := DefaultConfig()
		cfg.Secret = "front"
		cfg.Listen = "127.0.0.1:0"
		cfg.ServersFile = ""
		cfg.Store = filepath.Join(t.TempDir(), "t.db")
		cfg.PollTimeout = time.Second
		cfg.LogLevel = "error"
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		return &Main{Config: cfg, Servers: servers, Stderr: io.Discard}
	}
	t.Run("wrong_secret_aborts", func(t *testing.T) {
		m := base(t, tinyscale.Server{ID: "good", URL: good.URL, Secret: "good"}, tinyscale.Server{ID: "wrong", URL: wrong.URL, Secret: "guess"})
		err := m.Run(context.Background())
		m.Close(context.Background())
		if err == nil || !strings.Contains(err.Error(), "wrong") {
			t.Fatalf("got %v, want an error naming server wrong", err)
		}
		if strings.Contains(err.Error(), "guess") {
			t.Errorf("error reveals the secret: %v", err)
		}
	})
	t.Run("unreachable_starts_down", func(t *testing.T) {
		m := base(t, tinyscale.Server{ID: "good", URL: good.URL, Secret: "good"}, tinyscale.Server{ID: "dead", URL: deadURL, Secret: "dead"})
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer m.Close(context.Background())
		b, ok := m.Fleet.Backend("dead")
		if !ok || b.Up() {
			t.Errorf("dead server: got up=%v, want down", ok && b.Up())
		}
	})
	t.Run("strict_aborts_on_unreachable", func(t *testing.T) {
		m := base(t, tinyscale.Server{ID: "good", URL: good.URL, Secret: "good"}, tinyscale.Server{ID: "dead", URL: deadURL, Secret: "dead"})
		m.Config.Strict = true
		err := m.Run(context.Background())
		m.Close(context.Background())
		if err == nil || !strings.Contains(err.Error(), "dead") {
			t.Fatalf("got %v, want an error naming server dead", err)
		}
	})
}

func TestMergeSlashes(t *testing.T) {
	var got string
	h := mergeSlashes(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.URL.Path }))
	for path, want := range map[string]string{
		"/bigbluebutton/api//create":     "/bigbluebutton/api/create",
		"//bigbluebutton///api/join":     "/bigbluebutton/api/join",
		"/bigbluebutton/api/getMeetings": "/bigbluebutton/api/getMeetings",
	} {
		r, _ := http.NewRequest(http.MethodPost, "http://x"+path+"?a=1", nil)
		h.ServeHTTP(nil, r)
		if got != want {
			t.Errorf("%s: handler saw %s, want %s", path, got, want)
		}
	}
}
