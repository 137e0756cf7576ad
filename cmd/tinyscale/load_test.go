package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/loadgen"
)

func TestLoadCommand_Flags(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	tests := []struct {
		name    string
		args    []string
		getenv  func(string) string
		check   func(t *testing.T, o loadOptions)
		wantErr string // "" for success; "help" for flag.ErrHelp
	}{
		{"defaults_from_env", nil, env("TINYSCALE_SECRET", "s3cret", "PORT", "4000"), func(t *testing.T, o loadOptions) {
			if got, want := o.cfg.URL, "http://127.0.0.1:4000/bigbluebutton/api/"; got != want {
				t.Errorf("got URL %q, want %q", got, want)
			}
			if got, want := o.cfg.Secret, "s3cret"; got != want {
				t.Errorf("got secret %q, want %q", got, want)
			}
			if o.cfg.Scenario != loadgen.ScenarioJoin || o.cfg.Concurrency != loadgen.DefaultConcurrency ||
				o.cfg.Duration != loadgen.DefaultDuration || o.cfg.Rate != 0 || o.cfg.Algorithm != "sha1" || o.json || o.progress {
				t.Errorf("got %+v, want the defaults", o)
			}
		}, ""},
		{"all_flags", []string{"--url", "lb.example.org:3005", "--secret", "x", "--scenario", "mixed", "--duration", "3s",
			"--concurrency", "64", "--rate", "250.5", "--requests", "1000", "--meetings", "7", "--no-setup", "--prefix", "bench-",
			"--algorithm", "SHA256", "--timeout", "2s", "--json", "--progress", "--progress-interval", "250ms"}, env(), func(t *testing.T, o loadOptions) {
			want := loadgen.Config{URL: "http://lb.example.org:3005/bigbluebutton/api/", Secret: "x", Algorithm: "sha256",
				Scenario: "mixed", Duration: 3 * time.Second, Requests: 1000, Concurrency: 64, Rate: 250.5, Meetings: 7,
				SkipSetup: true, MeetingPrefix: "bench-", Timeout: 2 * time.Second, ProgressInterval: 250 * time.Millisecond}
			if o.cfg.Progress != nil || o.cfg.Client != nil {
				t.Errorf("got Progress/Client set by parse, want nil")
			}
			if got := o.cfg; got.URL != want.URL || got.Secret != want.Secret || got.Algorithm != want.Algorithm ||
				got.Scenario != want.Scenario || got.Duration != want.Duration || got.Requests != want.Requests ||
				got.Concurrency != want.Concurrency || got.Rate != want.Rate || got.Meetings != want.Meetings ||
				got.SkipSetup != want.SkipSetup || got.MeetingPrefix != want.MeetingPrefix || got.Timeout != want.Timeout ||
				got.ProgressInterval != want.ProgressInterval {
				t.Errorf("got %+v, want %+v", got, want)
			}
			if !o.json || !o.progress {
				t.Errorf("got json %v progress %v, want both true", o.json, o.progress)
			}
		}, ""},
		{"flag_secret_wins", []string{"--secret", "flag"}, env("TINYSCALE_SECRET", "env"), func(t *testing.T, o loadOptions) {
			if o.cfg.Secret != "flag" {
				t.Errorf("got secret %q, want the flag's", o.cfg.Secret)
			}
		}, ""},
		{"help", []string{"-h"}, env(), nil, "help"},
		{"no_secret", nil, env(), nil, "--secret"},
		{"unknown_flag", []string{"--secret", "x", "--bogus"}, env(), nil, "bogus"},
		{"positional", []string{"--secret", "x", "extra"}, env(), nil, "unexpected argument"},
		{"bad_scenario", []string{"--secret", "x", "--scenario", "dance"}, env(), nil, "--scenario"},
		{"bad_algorithm", []string{"--secret", "x", "--algorithm", "md5"}, env(), nil, "--algorithm"},
		{"bad_url", []string{"--secret", "x", "--url", "ftp://h"}, env(), nil, "--url"},
		{"zero_concurrency", []string{"--secret", "x", "--concurrency", "0"}, env(), nil, "--concurrency"},
		{"negative_rate", []string{"--secret", "x", "--rate", "-1"}, env(), nil, "--rate"},
		// --rate NaN and Inf were taken as "unlimited", a tiny rate
		// overflowed the pacer's interval into "unlimited" too, and a huge
		// --concurrency allocated workers until the machine ran out of
		// memory.
		{"nan_rate", []string{"--secret", "x", "--rate", "NaN"}, env(), nil, "--rate"},
		{"infinite_rate", []string{"--secret", "x", "--rate", "+Inf"}, env(), nil, "--rate"},
		{"tiny_rate", []string{"--secret", "x", "--rate", "1e-300"}, env(), nil, "--rate"},
		{"huge_concurrency", []string{"--secret", "x", "--concurrency", "100000000"}, env(), nil, "--concurrency"},
		{"huge_meetings", []string{"--secret", "x", "--meetings", "100000000"}, env(), nil, "--meetings"},
		{"slow_rate", []string{"--secret", "x", "--rate", "0.5"}, env(), func(t *testing.T, o loadOptions) {
			if o.cfg.Rate != 0.5 {
				t.Errorf("got rate %v, want 0.5", o.cfg.Rate)
			}
		}, ""},
		{"zero_duration", []string{"--secret", "x", "--duration", "0s"}, env(), nil, "--duration"},
		{"bad_duration", []string{"--secret", "x", "--duration", "ten"}, env(), nil, "duration"},
		{"zero_meetings", []string{"--secret", "x", "--meetings", "0"}, env(), nil, "--meetings"},
		{"comma_prefix", []string{"--secret", "x", "--prefix", "a,b"}, env(), nil, "--prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			c := &LoadCommand{Stdout: &bytes.Buffer{}, Stderr: &stderr, Getenv: tt.getenv}
			o, err := c.parse(tt.args)
			switch tt.wantErr {
			case "":
				if err != nil {
					t.Fatalf("parse() error: %v", err)
				}
				tt.check(t, o)
			case "help":
				if !errors.Is(err, flag.ErrHelp) {
					t.Fatalf("parse() error = %v, want flag.ErrHelp", err)
				}
				if !strings.Contains(stderr.String(), "Scenarios:") {
					t.Errorf("help output %q lacks the scenario list", stderr.String())
				}
			default:
				if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parse() error = %v, want a usage error containing %q", err, tt.wantErr)
				}
			}
		})
	}
}

// loadTestAPI answers getMeetings and isMeetingRunning signed with secret.
func loadTestAPI(tb testing.TB, secret string) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		call, _ := bbb.CallFromPath(r.URL.Path)
		if err := (bbb.Verifier{Secret: secret}).VerifyQuery(call, r.URL.RawQuery); err != nil {
			bbb.WriteError(w, bbb.ErrChecksum)
			return
		}
		switch call {
		case bbb.CallIsMeetingRunning:
			bbb.WriteXML(w, []byte("<response><returncode>SUCCESS</returncode><running>false</running></response>"))
		case bbb.CallGetMeetings:
			bbb.WriteXML(w, []byte("<response><returncode>SUCCESS</returncode><meetings/><messageKey>noMeetings</messageKey></response>"))
		default:
			bbb.WriteError(w, bbb.ErrUnsupportedRequest)
		}
	}))
	tb.Cleanup(srv.Close)
	return srv
}

func TestLoadCommand_Run(t *testing.T) {
	const secret = "cli-secret"
	srv := loadTestAPI(t, secret)
	getenv := func(k string) string {
		if k == "TINYSCALE_SECRET" {
			return secret
		}
		return ""
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
		json       bool
	}{
		{"text", []string{"--scenario", "getMeetings", "--requests", "200", "--concurrency", "4"}, exitOK,
			[]string{"scenario    getMeetings against " + srv.URL + "/bigbluebutton/api/", "req/s", "p50 ", "p95 ", "p99 ", "max ", "errors      0"},
			[]string{"getMeetings against"}, false},
		{"json", []string{"--scenario", "getMeetings", "--requests", "100", "--json"}, exitOK, nil, nil, true},
		{"errors_by_kind", []string{"--scenario", "create", "--requests", "20", "--concurrency", "2"}, exitOK,
			[]string{"errors      20 (100.00%)", "20  FAILED unsupportedRequest"}, nil, false},
		{"progress_forced", []string{"--scenario", "getMeetings", "--duration", "300ms", "--progress", "--progress-interval", "20ms", "--rate", "200"}, exitOK,
			[]string{"throughput"}, []string{" requests, ", " req/s, "}, false},
		{"wrong_secret", []string{"--scenario", "getMeetings", "--secret", "wrong", "--requests", "5"}, exitError,
			nil, []string{"checksum"}, false},
		{"usage", []string{"--scenario", "dance"}, exitUsage, nil, []string{"--scenario"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"load", "--url", srv.URL}, tt.args...)
			code := run(context.Background(), args, &stdout, &stderr, lookupOf(getenv))
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, stderr.String())
			}
			for _, s := range tt.wantStdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			for _, s := range tt.wantStderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
			if strings.Contains(stdout.String()+stderr.String(), secret) {
				t.Error("output contains the secret")
			}
			if strings.Contains(stderr.String(), "\x1b[") {
				t.Error("stderr has terminal escapes though it is not a terminal")
			}
			if tt.json {
				var res loadgen.Result
				if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
					t.Fatalf("stdout is not a JSON result: %v\n%s", err, stdout.String())
				}
				if res.Requests != 100 || res.Errors != 0 || res.Scenario != "getMeetings" || res.Latency.P99 <= 0 {
					t.Errorf("got result %+v, want 100 clean getMeetings requests", res)
				}
				if stderr.Len() != 0 {
					t.Errorf("stderr = %q, want nothing with --json", stderr.String())
				}
			}
		})
	}
}
