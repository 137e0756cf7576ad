package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/fakebbb"
	"github.com/tinyscale/tinyscale/store/bolt"
)

// fileMain returns a Main reading servers from a servers.json in dir, with
// its store in dir, not yet running.
func fileMain(t *testing.T, dir string) *Main {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Secret = "front"
	cfg.Listen = "127.0.0.1:0"
	cfg.ServersFile = filepath.Join(dir, "servers.json")
	cfg.Store = filepath.Join(dir, "t.db")
	cfg.PollTimeout = time.Second
	cfg.LogLevel = "error"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return &Main{Config: cfg, Stderr: io.Discard}
}

// writeServersFile writes entries as dir/servers.json.
func writeServersFile(t *testing.T, dir string, entries ...map[string]any) {
	t.Helper()
	data, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "servers.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// deadURL returns the URL of a port nobody listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

// TestMain_ReloadProbe covers SIGHUP reloads: new and changed servers are
// probed before anything is applied. Before, a reload wrote a mistyped
// secret straight into the store, and every instance sharing it signed
// with it at once, so the server dropped out of the fleet.
func TestMain_ReloadProbe(t *testing.T) {
	a := fakebbb.NewTestServer(t, "sa")
	b := fakebbb.NewTestServer(t, "sb")
	c := fakebbb.NewTestServer(t, "sc")
	dead := deadURL(t)
	tests := []struct {
		name    string
		entries []map[string]any
		wantErr string // substring; empty: the reload applies
		check   func(t *testing.T, m *Main, servers map[string]tinyscale.Server)
	}{
		{
			name:    "changed_secret_wrong",
			entries: []map[string]any{{"host": a.URL, "secret": "typo", "id": "a"}},
			wantErr: "server a",
			check: func(t *testing.T, m *Main, servers map[string]tinyscale.Server) {
				if got := servers["a"].Secret; got != "sa" {
					t.Errorf("stored secret of a: got %q, want the old one kept", got)
				}
				if fb, _ := m.Fleet.Backend("a"); fb == nil || fb.Secret != "sa" {
					t.Errorf("the fleet's backend a lost its working secret")
				}
			},
		},
		{
			name: "new_server_wrong_secret",
			entries: []map[string]any{
				{"host": a.URL, "secret": "sa", "id": "a"},
				{"host": c.URL, "secret": "typo", "id": "c"},
			},
			wantErr: "server c",
			check: func(t *testing.T, m *Main, servers map[string]tinyscale.Server) {
				if _, ok := servers["c"]; ok {
					t.Errorf("c was stored although it rejects the secret")
				}
			},
		},
		{
			name: "new_server_not_bbb",
			entries: []map[string]any{
				{"host": a.URL, "secret": "sa", "id": "a", "weight": 5},
				{"host": a.URL + "/somewhere-else", "secret": "sa", "id": "x"},
			},
			wantErr: "server x",
			check: func(t *testing.T, m *Main, servers map[string]tinyscale.Server) {
				if got := servers["a"].Weight; got != 1 {
					t.Errorf("weight of a: got %v, want 1 (a failed reload changes nothing)", got)
				}
			},
		},
		{
			name: "new_server_right_secret",
			entries: []map[string]any{
				{"host": a.URL, "secret": "sa", "id": "a"},
				{"host": c.URL, "secret": "sc", "id": "c"},
			},
			check: func(t *testing.T, m *Main, servers map[string]tinyscale.Server) {
				if fb, ok := m.Fleet.Backend("c"); !ok || !fb.Up() {
					t.Errorf("c: got in fleet %v, want present and up", ok)
				}
				if _, ok := servers["api"]; !ok {
					t.Errorf("the server added through the API was removed by the reload")
				}
			},
		},
		{
			// The file listing a host that the admin API already added
			// under another id gave two servers for one BBB server, every
			// meeting of it listed twice by getMeetings.
			name: "host_already_added_through_api",
			entries: []map[string]any{
				{"host": a.URL, "secret": "sa", "id": "a"},
				{"host": b.URL, "secret": "sb", "id": "b"},
			},
			wantErr: "is already server api",
			check: func(t *testing.T, m *Main, servers map[string]tinyscale.Server) {
				if _, ok := servers["b"]; ok {
					t.Errorf("b was stored next to api, with the same host")
				}
			},
		},
		{
			name: "new_server_unreachable",
			entries: []map[string]any{
				{"host": a.URL, "secret": "sa", "id": "a"},
				{"host": dead, "secret": "sd", "id": "d"},
			},
			check: func(t *testing.T, m *Main, servers map[string]tinyscale.Server) {
				fb, ok := m.Fleet.Backend("d")
				if !ok || fb.Up() {
					t.Errorf("d: got in fleet %v, up %v; want present and down", ok, ok && fb.Up())
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeServersFile(t, dir, map[string]any{"host": a.URL, "secret": "sa", "id": "a"})
			m := fileMain(t, dir)
			if err := m.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer m.Close(context.Background())
			// A server added through the admin API, which the file may not
			// list again under another id.
			api, err := tinyscale.Server{ID: "api", URL: b.URL, Secret: "sb", Source: tinyscale.SourceAPI}.Normalize()
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Store.PutServer(context.Background(), api); err != nil {
				t.Fatal(err)
			}

			writeServersFile(t, dir, tt.entries...)
			err = m.ReloadServers(context.Background())
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("reload: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("reload: got error %v, want one containing %q", err, tt.wantErr)
			case err != nil && strings.Contains(err.Error(), "typo"):
				t.Errorf("error reveals the secret: %v", err)
			}
			all, err := m.Store.Servers(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			servers := map[string]tinyscale.Server{}
			for _, s := range all {
				servers[s.ID] = s
			}
			tt.check(t, m, servers)
		})
	}
}

// TestMain_StartupProbeLeavesStoreAlone checks that a start-up refused
// because of a wrong secret does not write that secret to the store.
// Before, servers.json was merged into the store first and probed after:
// with Redis, one instance started with a mistyped secret broke that
// server for every running instance.
func TestMain_StartupProbeLeavesStoreAlone(t *testing.T) {
	a := fakebbb.NewTestServer(t, "sa")
	dir := t.TempDir()
	writeServersFile(t, dir, map[string]any{"host": a.URL, "secret": "sa", "id": "a"})
	m := fileMain(t, dir)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	writeServersFile(t, dir, map[string]any{"host": a.URL, "secret": "typo", "id": "a"})
	m2 := fileMain(t, dir)
	err := m2.Run(context.Background())
	m2.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), "servers.json: server a") {
		t.Fatalf("got %v, want an error naming servers.json and server a", err)
	}

	st, err := bolt.Open(m.Config.Store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, err := st.Servers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Secret != "sa" {
		t.Errorf("store after the refused start: got %d servers (first secret changed: %v), want server a with its old secret",
			len(all), len(all) > 0 && all[0].Secret != "sa")
	}
}
