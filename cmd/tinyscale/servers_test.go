package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/admin"
)

// runServers runs `tinyscale servers args…` against e with stdin and
// returns stdout, stderr and the error.
func runServers(t *testing.T, e *cliEnv, stdin string, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := e.getenv
	if env != nil {
		getenv = func(k string) string {
			if v, ok := env[k]; ok {
				return v
			}
			return e.env[k]
		}
	}
	cmd := &ServersCommand{Stdout: &out, Stderr: &errOut, Getenv: getenv, Stdin: strings.NewReader(stdin)}
	err := cmd.Run(context.Background(), args)
	return e.hosts(out.String()), e.hosts(errOut.String()), err
}

// cells returns the table's cells, one line per row, separated by "|".
func cells(table string) string {
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(table), "\n") {
		rows = append(rows, strings.Join(strings.Fields(l), "|"))
	}
	return strings.Join(rows, "\n")
}

func TestServersCommand_List(t *testing.T) {
	e := newCLIEnv(t, 2)
	if err := e.store.PutServer(context.Background(), tinyscale.Server{
		ID: "tagged", URL: "https://bbb9.example.org/bigbluebutton/api/", Secret: "s9", Weight: 2.5,
		Tags: []string{"eu", "big"}, State: tinyscale.StateDisabled, Algorithm: "sha256", Source: tinyscale.SourceAPI,
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.fleet.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.setHealth(t, tinyscale.Health{ServerID: "bbb2", Up: false, LastError: "timeout", CheckedAt: e.fleet.Backends()[0].Health.CheckedAt.Add(1)})

	out, _, err := runServers(t, e, "", nil, "list")
	if err != nil {
		t.Fatal(err)
	}
	want := `ID       HOST                                         STATE      HEALTH   WEIGHT   TAGS     SOURCE
bbb1     http://bbb1/bigbluebutton/api/               enabled    up       1        -        file
bbb2     http://bbb2/bigbluebutton/api/               enabled    down     1        -        file
tagged   https://bbb9.example.org/bigbluebutton/api/   disabled   up       2.5      eu,big   api
`
	// The fake servers' ports change the column widths: compare cells.
	if got, want := cells(out), cells(want); got != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}

	t.Run("json", func(t *testing.T) {
		out, _, err := runServers(t, e, "", nil, "list", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var got []admin.Server
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("got invalid JSON: %v\n%s", err, out)
		}
		if len(got) != 3 || got[0].ID != "bbb1" || got[0].Host != "http://bbb1/bigbluebutton/api/" || got[1].Health != "down" {
			t.Errorf("got %+v, want 3 servers with id and host, bbb2 down", got)
		}
		if strings.Contains(out, "secret") || strings.Contains(out, `"s9"`) {
			t.Errorf("got a secret in %s", out)
		}
	})
}

func TestServersCommand_Add(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := "http://" + ln.Addr().String()
	ln.Close()

	tests := []struct {
		name       string
		args       []string
		stdin      string
		env        map[string]string
		wantOut    string
		wantStderr string
		wantErr    string
		wantUsage  bool
		wantSecret string // the stored secret on success
	}{
		{"secret_from_stdin", []string{"add", "--host", "%BBB2%", "--secret-stdin", "--id", "new", "--tags", "a, b", "--weight", "2"},
			"secret-bbb2\n", nil, "server new added: http://bbb2/bigbluebutton/api/ (enabled, up)\n", "", "", false, "secret-bbb2"},
		{"secret_from_env", []string{"add", "--host", "%BBB2%", "--id", "new", "--state", "cordoned"},
			"", map[string]string{ServerSecretEnv: "secret-bbb2"}, "server new added: http://bbb2/bigbluebutton/api/ (cordoned, up)\n", "", "", false, "secret-bbb2"},
		{"secret_flag", []string{"add", "--host", "%BBB2%", "--secret", "secret-bbb2", "--id", "new"},
			"", nil, "server new added: http://bbb2/bigbluebutton/api/ (enabled, up)\n", "", "", false, "secret-bbb2"},
		{"unreachable_added_down", []string{"add", "--host", unreachable, "--secret-stdin", "--id", "new"},
			"some-secret\n", nil, "server new added: " + unreachable + "/bigbluebutton/api/ (enabled, down)\n", "warning: " + unreachable, "", false, "some-secret"},
		{"wrong_secret", []string{"add", "--host", "%BBB2%", "--secret-stdin", "--id", "new"},
			"not-the-secret\n", nil, "", "", "rejected the secret", false, ""},
		{"duplicate", []string{"add", "--host", "%BBB2%", "--secret-stdin", "--id", "bbb1"},
			"secret-bbb2\n", nil, "", "", `a server with id "bbb1" already exists`, false, ""},
		{"bad_state", []string{"add", "--host", "%BBB2%", "--secret-stdin", "--state", "paused"},
			"secret-bbb2\n", nil, "", "", `state: "paused" is not enabled, cordoned or disabled`, false, ""},
		{"no_host", []string{"add", "--secret-stdin"}, "x\n", nil, "", "", "add needs --host", true, ""},
		{"no_secret", []string{"add", "--host", "%BBB2%"}, "", nil, "", "", "add needs the server's secret", true, ""},
		{"empty_stdin", []string{"add", "--host", "%BBB2%", "--secret-stdin"}, "", nil, "", "", "add needs the server's secret", true, ""},
		{"two_secrets", []string{"add", "--host", "%BBB2%", "--secret", "a", "--secret-stdin"}, "b\n", nil, "", "", "give the secret once", true, ""},
		{"positional", []string{"add", "bbb5"}, "", nil, "", "", "add takes flags only", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newCLIEnv(t, 2)
			if err := e.store.DeleteServer(context.Background(), "bbb2"); err != nil {
				t.Fatal(err)
			}
			if err := e.fleet.Reload(context.Background()); err != nil {
				t.Fatal(err)
			}
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.ReplaceAll(a, "%BBB2%", e.fakes["bbb2"].URL)
			}
			out, errOut, err := runServers(t, e, tt.stdin, tt.env, args...)
			for _, s := range []string{"secret-bbb2", "not-the-secret", "some-secret"} {
				if strings.Contains(out+errOut, s) || (err != nil && strings.Contains(err.Error(), s)) {
					t.Errorf("got the secret %q echoed, want it never printed", s)
				}
			}
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
				t.Fatalf("got error %v (stderr %q), want nil", err, errOut)
			}
			if out != tt.wantOut {
				t.Errorf("got output %q, want %q", out, tt.wantOut)
			}
			if !strings.HasPrefix(errOut, tt.wantStderr) {
				t.Errorf("got stderr %q, want it to start with %q", errOut, tt.wantStderr)
			}
			all, _ := e.store.Servers(context.Background())
			for _, s := range all {
				if s.ID == "new" {
					if s.Secret != tt.wantSecret || s.Source != tinyscale.SourceAPI {
						t.Errorf("got stored secret ok=%v source %q, want the given secret and source api", s.Secret == tt.wantSecret, s.Source)
					}
					return
				}
			}
			t.Error("got no server \"new\" stored, want it added")
		})
	}

	t.Run("json", func(t *testing.T) {
		e := newCLIEnv(t, 1)
		out, _, err := runServers(t, e, "whatever-secret\n", nil, "add", "--host", unreachable, "--secret-stdin", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var res admin.AddServerResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("got invalid JSON: %v\n%s", err, out)
		}
		if res.Server.ID == "" || res.Server.Host != unreachable+"/bigbluebutton/api/" || len(res.Warnings) != 1 {
			t.Errorf("got %+v, want the server with id, host and one warning", res)
		}
	})
}

func TestServersCommand_States(t *testing.T) {
	e := newCLIEnv(t, 3)
	steps := []struct {
		name      string
		args      []string
		wantOut   string
		wantErr   string
		wantUsage bool
		wantState string // bbb1/bbb2/bbb3 states after the step
	}{
		{"cordon_two", []string{"cordon", "bbb1", "bbb2"}, "server bbb1 cordoned\nserver bbb2 cordoned\n", "", false, "cordoned cordoned enabled"},
		{"disable_flag_after", []string{"disable", "bbb2", "--timeout", "5s"}, "server bbb2 disabled\n", "", false, "cordoned disabled enabled"},
		{"enable_with_unknown", []string{"enable", "bbb1", "nope", "bbb2"}, "server bbb1 enabled\nserver bbb2 enabled\n", `nope: no server with id "nope"`, false, "enabled enabled enabled"},
		{"cordon_json", []string{"cordon", "bbb3", "--json"}, "", "", false, "enabled enabled cordoned"},
		{"no_id", []string{"enable"}, "", "enable needs a server ID", true, "enabled enabled cordoned"},
		{"unknown_command", []string{"reboot", "bbb1"}, "", `unknown command "reboot"`, true, "enabled enabled cordoned"},
		{"no_command", nil, "", "missing command", true, "enabled enabled cordoned"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			out, _, err := runServers(t, e, "", nil, st.args...)
			if st.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), st.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, st.wantErr)
				}
				if got := errors.Is(err, errUsage); got != st.wantUsage {
					t.Errorf("got usage error %v, want %v", got, st.wantUsage)
				}
			} else if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if st.wantOut != "" && out != st.wantOut {
				t.Errorf("got output %q, want %q", out, st.wantOut)
			}
			if strings.HasSuffix(st.name, "_json") {
				var s admin.Server
				if err := json.Unmarshal([]byte(out), &s); err != nil || s.ID != "bbb3" || s.Host == "" {
					t.Errorf("got %q (%v), want one server object with id and host", out, err)
				}
			}
			var got []string
			for _, b := range e.fleet.Backends() {
				got = append(got, string(b.State))
			}
			if strings.Join(got, " ") != st.wantState {
				t.Errorf("got states %q, want %q", strings.Join(got, " "), st.wantState)
			}
		})
	}
}

func TestServersCommand_Remove(t *testing.T) {
	e := newCLIEnv(t, 3)
	e.createMeeting(t, "bbb2", "busy-room")
	e.setHealth(t, tinyscale.Health{ServerID: "bbb2", Up: true, Meetings: 1, CheckedAt: e.fleet.Backends()[0].Health.CheckedAt.Add(1)})
	steps := []struct {
		name    string
		args    []string
		wantOut string
		wantErr string
		wantIDs string
	}{
		{"idle", []string{"remove", "bbb1"}, "server bbb1 removed\n", "", "bbb2 bbb3"},
		{"busy_refused", []string{"remove", "bbb2"}, "", "still has 1 meetings", "bbb2 bbb3"},
		{"busy_forced", []string{"rm", "--force", "bbb2"}, "server bbb2 removed (1 meeting forgotten)\n", "", "bbb3"},
		{"unknown", []string{"remove", "bbb9"}, "", `no server with id "bbb9"`, "bbb3"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			out, errOut, err := runServers(t, e, "", nil, st.args...)
			if st.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), st.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, st.wantErr)
				}
			} else if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if out != st.wantOut {
				t.Errorf("got output %q, want %q", out, st.wantOut)
			}
			if st.wantErr == "" && !strings.Contains(errOut, "servers.json") {
				t.Errorf("got stderr %q, want a warning that the server is declared in servers.json", errOut)
			}
			var ids []string
			for _, b := range e.fleet.Backends() {
				ids = append(ids, b.ID)
			}
			if strings.Join(ids, " ") != st.wantIDs {
				t.Errorf("got servers %q, want %q", strings.Join(ids, " "), st.wantIDs)
			}
		})
	}
}

func TestServersCommand_Panic(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		stdin     string
		wantErr   string
		wantUsage bool
		wantOut   string
		wantEnded bool
	}{
		{"declined", []string{"panic", "bbb1"}, "no\n", "aborted; nothing was changed", false, "", false},
		{"no_answer", []string{"panic", "bbb1"}, "", "aborted", false, "", false},
		{"confirmed", []string{"panic", "bbb1"}, "yes\n", "", false, "server bbb1: 2 meetings ended, 2 forgotten; state cordoned\n", true},
		{"yes_flag", []string{"panic", "--yes", "bbb1"}, "", "", false, "server bbb1: 2 meetings ended, 2 forgotten; state cordoned\n", true},
		{"keep_state", []string{"panic", "bbb1", "--yes", "--keep-state"}, "", "", false, "server bbb1: 2 meetings ended, 2 forgotten; state enabled\n", true},
		{"unknown_server", []string{"panic", "bbb9"}, "yes\n", `no server with id "bbb9"`, false, "", false},
		{"two_ids", []string{"panic", "bbb1", "bbb2"}, "", "exactly one server ID", true, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newCLIEnv(t, 2)
			e.createMeeting(t, "bbb1", "room-1")
			e.createMeeting(t, "bbb1", "room-2")
			out, errOut, err := runServers(t, e, tt.stdin, nil, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				if got := errors.Is(err, errUsage); got != tt.wantUsage {
					t.Errorf("got usage error %v, want %v", got, tt.wantUsage)
				}
			} else if err != nil {
				t.Fatalf("got error %v (stderr %q), want nil", err, errOut)
			}
			if out != tt.wantOut {
				t.Errorf("got output %q, want %q", out, tt.wantOut)
			}
			if tt.stdin != "" && !strings.Contains(errOut, "Type yes to continue") && tt.wantErr != `no server with id "bbb9"` {
				t.Errorf("got stderr %q, want the confirmation question", errOut)
			}
			if got := e.fakes["bbb1"].MeetingCount() == 0; got != tt.wantEnded {
				t.Errorf("got meetings ended %v, want %v", got, tt.wantEnded)
			}
		})
	}
}

// TestRun_AdminExitCodes runs the admin commands through main's dispatcher.
func TestRun_AdminExitCodes(t *testing.T) {
	e := newCLIEnv(t, 1)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"status", []string{"status"}, exitOK, "SERVER ", ""},
		{"servers_list", []string{"servers", "list"}, exitOK, "ID ", ""},
		{"servers_usage", []string{"servers", "cordon"}, exitUsage, "", "tinyscale servers: usage: cordon needs a server ID"},
		{"servers_help", []string{"servers", "cordon", "-h"}, exitOK, "", "Usage: tinyscale servers cordon"},
		{"api_error", []string{"servers", "cordon", "zzz"}, exitError, "", `tinyscale servers: zzz: no server with id "zzz"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errOut, lookupOf(e.getenv))
			if code != tt.wantCode {
				t.Errorf("got exit code %d, want %d (stderr %q)", code, tt.wantCode, errOut.String())
			}
			if !strings.HasPrefix(out.String(), tt.wantOut) {
				t.Errorf("got stdout %q, want it to start with %q", out.String(), tt.wantOut)
			}
			if !strings.Contains(errOut.String(), tt.wantErr) {
				t.Errorf("got stderr %q, want it to contain %q", errOut.String(), tt.wantErr)
			}
		})
	}
}
