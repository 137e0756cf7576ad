package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
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

const cliTestToken = "cli-test-admin-token"

// cliEnv is a running admin API over n fake BBB servers (bbb1…), for the
// CLI commands to talk to.
type cliEnv struct {
	url   string
	store *bolt.Store
	fleet *fleet.Fleet
	fakes map[string]*fakebbb.Server
	env   map[string]string
}

func newCLIEnv(tb testing.TB, n int) *cliEnv {
	tb.Helper()
	st, err := bolt.Open(filepath.Join(tb.TempDir(), "t.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	e := &cliEnv{store: st, fakes: map[string]*fakebbb.Server{}}
	ctx := context.Background()
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("bbb%d", i)
		fk := fakebbb.NewTestServer(tb, "secret-"+id)
		e.fakes[id] = fk
		s, err := tinyscale.Server{ID: id, URL: fk.URL, Secret: "secret-" + id, Source: tinyscale.SourceFile}.Normalize()
		if err != nil {
			tb.Fatal(err)
		}
		if err := st.PutServer(ctx, s); err != nil {
			tb.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.fleet = fleet.New(st, fleet.Options{Logger: log})
	if err := e.fleet.Reload(ctx); err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(admin.PathPrefix, admin.NewHandler(admin.Config{Fleet: e.fleet, Token: cliTestToken, Probe: poller.Probe, Logger: log}))
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	e.url = srv.URL
	e.env = map[string]string{"TINYSCALE_ADMIN_URL": srv.URL, "TINYSCALE_ADMIN_TOKEN": cliTestToken}
	return e
}

func (e *cliEnv) getenv(name string) string { return e.env[name] }

func (e *cliEnv) setHealth(tb testing.TB, hs ...tinyscale.Health) {
	tb.Helper()
	if err := e.store.PutHealth(context.Background(), hs...); err != nil {
		tb.Fatal(err)
	}
	if err := e.fleet.Reload(context.Background()); err != nil {
		tb.Fatal(err)
	}
}

// createMeeting creates a meeting on a fake server and maps it there.
func (e *cliEnv) createMeeting(tb testing.TB, serverID, meetingID string) {
	tb.Helper()
	c := &bbb.Client{BaseURL: e.fakes[serverID].APIURL(), Secret: "secret-" + serverID}
	body, err := c.Get(context.Background(), bbb.CallCreate, "meetingID="+url.QueryEscape(meetingID)+"&name=Room")
	if err != nil {
		tb.Fatal(err)
	}
	if st, err := bbb.ParseStatus(body); err != nil || !st.OK() {
		tb.Fatalf("create %s: got %+v, %v, want SUCCESS", meetingID, st, err)
	}
	if err := e.store.PutMeeting(context.Background(), tinyscale.Meeting{ID: meetingID, ServerID: serverID, CreatedAt: time.Now()}); err != nil {
		tb.Fatal(err)
	}
}

// hosts replaces the fake servers' URLs by their IDs' placeholders so that
// output can be compared with fixed text.
func (e *cliEnv) hosts(s string) string {
	for id, fk := range e.fakes {
		s = strings.ReplaceAll(s, fk.URL, "http://"+id)
	}
	return s
}

func TestStatusCommand(t *testing.T) {
	e := newCLIEnv(t, 3)
	ctx := context.Background()
	now := time.Now()
	if err := (&ServersCommand{Stdout: io.Discard, Stderr: io.Discard, Getenv: e.getenv}).Run(ctx, []string{"cordon", "bbb2"}); err != nil {
		t.Fatal(err)
	}
	e.setHealth(t,
		tinyscale.Health{ServerID: "bbb1", Up: true, Meetings: 2, Participants: 10, CheckedAt: now},
		tinyscale.Health{ServerID: "bbb3", Up: false, Meetings: 1, Participants: 3, CheckedAt: now,
			LastError: "server bbb3: server unreachable: getMeetings: dial tcp 127.0.0.1:1: connect: connection refused"},
	)

	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantOut    string
		wantErr    string // substring; "" for success
		wantUsage  bool
		wantStderr string
	}{
		{"table", nil, nil, `
SERVER   STATE      HEALTH   MEETINGS   PARTICIPANTS   LOAD    LAST ERROR
bbb1     enabled    up       2          10             10.00   -
bbb2     cordoned   up       0          0              0.00    -
bbb3     enabled    down     1          3              3.00    server bbb3: server unreachable: getMeetings: dial tcp 127.…
`, "", false, ""},
		{"token_flag", []string{"--token", cliTestToken}, map[string]string{"TINYSCALE_ADMIN_TOKEN": ""}, "", "", false, ""},
		{"url_flag", []string{"--url", "%URL%/"}, map[string]string{"TINYSCALE_ADMIN_URL": ""}, "", "", false, ""},
		{"default_url_from_port", nil, map[string]string{"TINYSCALE_ADMIN_URL": "", "PORT": "%PORT%"}, "", "", false, ""},
		{"no_token", nil, map[string]string{"TINYSCALE_ADMIN_TOKEN": ""}, "", "authentication required", false, ""},
		{"wrong_token", nil, map[string]string{"TINYSCALE_ADMIN_TOKEN": "nope"}, "", "invalid admin token (set TINYSCALE_ADMIN_TOKEN or --token)", false, ""},
		{"unreachable", nil, map[string]string{"TINYSCALE_ADMIN_URL": "http://127.0.0.1:1"}, "", "cannot reach tinyscale at http://127.0.0.1:1", false, ""},
		{"extra_argument", []string{"bbb1"}, nil, "", "status takes no arguments", true, ""},
		{"unknown_flag", []string{"--wide"}, nil, "", "flag provided but not defined", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range e.env {
				env[k] = v
			}
			_, port, _ := net.SplitHostPort(strings.TrimPrefix(e.url, "http://"))
			for k, v := range tt.env {
				env[k] = strings.ReplaceAll(v, "%PORT%", port)
			}
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.ReplaceAll(a, "%URL%", e.url)
			}
			var out, errOut bytes.Buffer
			cmd := &StatusCommand{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }}
			err := cmd.Run(ctx, args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				if got := errors.Is(err, errUsage); got != tt.wantUsage {
					t.Errorf("got usage error %v, want %v", got, tt.wantUsage)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if tt.wantOut != "" && out.String() != strings.TrimPrefix(tt.wantOut, "\n") {
				t.Errorf("got output\n%s\nwant\n%s", out.String(), strings.TrimPrefix(tt.wantOut, "\n"))
			}
			if !strings.HasPrefix(out.String(), "SERVER ") {
				t.Errorf("got output %q, want the status table", out.String())
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		var out bytes.Buffer
		if err := (&StatusCommand{Stdout: &out, Stderr: io.Discard, Getenv: e.getenv}).Run(ctx, []string{"--json"}); err != nil {
			t.Fatal(err)
		}
		var st admin.Status
		if err := json.Unmarshal(out.Bytes(), &st); err != nil {
			t.Fatalf("got invalid JSON %q: %v", out.String(), err)
		}
		if len(st.Servers) != 3 || st.Servers[2].ID != "bbb3" || st.Servers[2].Health != "down" ||
			e.hosts(st.Servers[2].Host) != "http://bbb3/bigbluebutton/api/" || st.Totals.Participants != 13 {
			t.Errorf("got %+v, want 3 servers with id and host, bbb3 down, 13 participants", st)
		}
		if strings.Contains(out.String(), "secret-bbb") {
			t.Error("got a secret in the JSON, want none")
		}
	})

	t.Run("help", func(t *testing.T) {
		var errOut bytes.Buffer
		err := (&StatusCommand{Stdout: io.Discard, Stderr: &errOut, Getenv: e.getenv}).Run(ctx, []string{"-h"})
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut.String(), "Usage: tinyscale status") {
			t.Errorf("got %v and %q, want flag.ErrHelp and the usage", err, errOut.String())
		}
	})

	t.Run("no_servers", func(t *testing.T) {
		e := newCLIEnv(t, 0)
		var out, errOut bytes.Buffer
		if err := (&StatusCommand{Stdout: &out, Stderr: &errOut, Getenv: e.getenv}).Run(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if out.Len() != 0 || errOut.String() != "No servers.\n" {
			t.Errorf("got %q / %q, want nothing on stdout and No servers. on stderr", out.String(), errOut.String())
		}
	})
}

func TestParseInterspersed(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantPos string
		wantYes bool
		wantErr bool
	}{
		{"flags_first", []string{"--yes", "a", "b"}, "a b", true, false},
		{"flags_last", []string{"a", "b", "--yes"}, "a b", true, false},
		{"flags_between", []string{"a", "--yes", "b"}, "a b", true, false},
		{"double_dash", []string{"a", "--", "--yes"}, "a --yes", false, false},
		{"none", nil, "", false, false},
		{"unknown", []string{"a", "--nope"}, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			yes := fs.Bool("yes", false, "")
			pos, err := parseInterspersed(fs, tt.args)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error: %v", err, tt.wantErr)
			}
			if tt.wantErr {
				if !errors.Is(err, errUsage) {
					t.Errorf("got %v, want a usage error", err)
				}
				return
			}
			if got := strings.Join(pos, " "); got != tt.wantPos || *yes != tt.wantYes {
				t.Errorf("got %q yes=%v, want %q yes=%v", got, *yes, tt.wantPos, tt.wantYes)
			}
		})
	}
}

func FuzzParseInterspersed(f *testing.F) {
	for _, s := range []string{"a --yes b", "-- --yes", "--yes=false x", "-h", "--x=1 --", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Bool("yes", false, "")
		fs.String("id", "", "")
		args := strings.Fields(line)
		pos, err := parseInterspersed(fs, args)
		if err != nil {
			return
		}
		if len(pos) > len(args) {
			t.Fatalf("got %d positional arguments from %d arguments", len(pos), len(args))
		}
	})
}
