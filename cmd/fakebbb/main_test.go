package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	env := func(vals map[string]string) func(string) string {
		return func(k string) string { return vals[k] }
	}
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantField string // ConfigError field; "" = valid
		check     func(t *testing.T, c Config)
	}{
		{"defaults_with_env_secret", nil, map[string]string{"FAKEBBB_SECRET": "envs"}, "", func(t *testing.T, c Config) {
			if c.Secret != "envs" || c.Port != 8090 || c.Listen != "127.0.0.1" || len(c.Algorithms) != 4 || c.URL != "" {
				t.Errorf("got %+v, want defaults with secret envs", c)
			}
		}},
		{"flag_secret_wins", []string{"--secret", "flag"}, map[string]string{"FAKEBBB_SECRET": "envs"}, "", func(t *testing.T, c Config) {
			if c.Secret != "flag" {
				t.Errorf("got secret %q, want flag", c.Secret)
			}
		}},
		{"all_flags", []string{"--secret=s", "--port=0", "--listen=0.0.0.0", "--latency=50ms", "--recording-delay=2s", "--algorithms=SHA256, sha512", "--url=https://bbb.example.org/"}, nil, "", func(t *testing.T, c Config) {
			if c.Port != 0 || c.Listen != "0.0.0.0" || c.Latency != 50*time.Millisecond || c.RecordingDelay != 2*time.Second ||
				strings.Join(c.Algorithms, ",") != "sha256,sha512" || c.URL != "https://bbb.example.org" {
				t.Errorf("got %+v", c)
			}
		}},
		{"missing_secret", nil, nil, "secret", nil},
		{"bad_algorithm", []string{"--secret=s", "--algorithms=md5"}, nil, "algorithms", nil},
		{"no_algorithm", []string{"--secret=s", "--algorithms=,"}, nil, "algorithms", nil},
		{"bad_port", []string{"--secret=s", "--port=70000"}, nil, "port", nil},
		{"negative_latency", []string{"--secret=s", "--latency=-1s"}, nil, "latency", nil},
		{"bad_url", []string{"--secret=s", "--url=ftp://x"}, nil, "url", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig(tt.args, env(tt.env), io.Discard)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				tt.check(t, c)
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.wantField {
				t.Errorf("got error %v, want a ConfigError for %s", err, tt.wantField)
			}
		})
	}
	t.Run("help", func(t *testing.T) {
		if _, err := ParseConfig([]string{"-h"}, env(nil), io.Discard); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("got %v, want flag.ErrHelp", err)
		}
	})
	t.Run("extra_args", func(t *testing.T) {
		if _, err := ParseConfig([]string{"--secret=s", "extra"}, env(nil), io.Discard); err == nil {
			t.Errorf("got nil error, want one")
		}
	})
}

func TestRun(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Port = 0
	cfg.Secret = "run-secret"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("read URL line: %v", err)
	}
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "fakebbb listening on ")
	if !ok || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("got line %q, want the URL", line)
	}
	go io.Copy(io.Discard, pr)

	tests := []struct {
		name, path, want string
	}{
		{"index", "/bigbluebutton/api", "<returncode>SUCCESS</returncode>"},
		{"create", "/bigbluebutton/api/create?" + signed("create", "meetingID=run&name=Run+Meeting", cfg.Secret), "<meetingID>run</meetingID>"},
		{"bad_checksum", "/bigbluebutton/api/getMeetings?checksum=x", "checksumError"},
		{"state", "/fakebbb/state", `"calls"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get(base + tt.path)
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), tt.want) {
				t.Errorf("got %d %s, want 200 containing %s", resp.StatusCode, b, tt.want)
			}
		})
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("got Run error %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestRun_InvalidConfig(t *testing.T) {
	if err := Run(context.Background(), DefaultConfig(), io.Discard, io.Discard); err == nil {
		t.Errorf("got nil error without a secret, want one")
	}
}

func signed(call, query, secret string) string {
	h := sha256.Sum256([]byte(call + query + secret))
	return query + "&checksum=" + hex.EncodeToString(h[:])
}

// FuzzParseConfig checks that no argument list makes ParseConfig panic and
// that an accepted configuration always validates.
func FuzzParseConfig(f *testing.F) {
	f.Add("--secret s --port 0", "")
	f.Add("--algorithms=sha1,,SHA512 --url=http://x/", "env")
	f.Add("--latency=-5s --port=-1", "")
	f.Add("-h", "")
	f.Fuzz(func(t *testing.T, args, secret string) {
		cfg, err := ParseConfig(strings.Fields(args), func(string) string { return secret }, io.Discard)
		if err == nil {
			if verr := cfg.Validate(); verr != nil {
				t.Errorf("accepted %q but Validate says %v", args, verr)
			}
		}
	})
}
