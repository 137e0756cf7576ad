package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseServers(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		wantErr string // substring; empty means success
		check   func(t *testing.T, got []serverView)
	}{
		{
			name: "original_tinyscale_format",
			json: `[{"host":"https://bbb1.example.org","secret":"s1"},{"host":"https://bbb2.example.org/bigbluebutton/api/","secret":"s2"}]`,
			check: func(t *testing.T, got []serverView) {
				want := []serverView{
					{"bbb1.example.org", "https://bbb1.example.org/bigbluebutton/api/", "enabled", "sha256", 1},
					{"bbb2.example.org", "https://bbb2.example.org/bigbluebutton/api/", "enabled", "sha256", 1},
				}
				if len(got) != len(want) {
					t.Fatalf("got %d servers, want %d", len(got), len(want))
				}
				for i := range want {
					if got[i] != want[i] {
						t.Errorf("server %d: got %+v, want %+v", i, got[i], want[i])
					}
				}
			},
		},
		{
			name: "api_suffix_without_slash",
			json: `[{"host":"http://10.0.0.1:8080/bigbluebutton/api","secret":"s"}]`,
			check: func(t *testing.T, got []serverView) {
				if got[0].URL != "http://10.0.0.1:8080/bigbluebutton/api/" || got[0].ID != "10.0.0.1-8080" {
					t.Errorf("got %+v", got[0])
				}
			},
		},
		{
			name: "optional_fields",
			json: `[{"host":"https://a.example.org","secret":"s","id":"a","weight":2,"tags":["x"],"state":"cordoned","algorithm":"SHA512"}]`,
			check: func(t *testing.T, got []serverView) {
				want := serverView{"a", "https://a.example.org/bigbluebutton/api/", "cordoned", "sha512", 2}
				if got[0] != want {
					t.Errorf("got %+v, want %+v", got[0], want)
				}
			},
		},
		{name: "unknown_field", json: `[{"host":"https://a.example.org","secret":"s","hots":"x"}]`, wantErr: `servers.json: entry 1: field "hots": unknown field`},
		{name: "missing_secret", json: `[{"host":"https://a.example.org"}]`, wantErr: `servers.json: entry 1 (https://a.example.org): field "secret": missing`},
		{name: "missing_host", json: `[{"secret":"s"}]`, wantErr: `servers.json: entry 1: field "host": missing`},
		{name: "no_scheme", json: `[{"host":"bbb.example.org","secret":"s"}]`, wantErr: `field "host"`},
		{name: "bad_state", json: `[{"host":"https://a.example.org","secret":"s","state":"off"}]`, wantErr: `field "state"`},
		{name: "bad_algorithm", json: `[{"host":"https://a.example.org","secret":"s","algorithm":"md5"}]`, wantErr: `field "algorithm"`},
		{name: "negative_weight", json: `[{"host":"https://a.example.org","secret":"s","weight":-1}]`, wantErr: `field "weight"`},
		{name: "wrong_type", json: `[{"host":"https://a.example.org","secret":42}]`, wantErr: `field "secret": must be a string`},
		{name: "duplicate_id", json: `[{"host":"https://a.example.org","secret":"s"},{"host":"https://a.example.org/","secret":"t"}]`, wantErr: `entry 2`},
		{name: "not_an_array", json: `{"host":"x"}`, wantErr: `servers.json: must be a JSON array of servers ([{"host": …, "secret": …}]), not a JSON object`},
		{name: "entry_not_an_object", json: `[1]`, wantErr: `servers.json: entry 1: must be an object such as {"host": …, "secret": …}, not a JSON number`},
		{name: "weight_not_a_number", json: `[{"host":"https://a.example.org","secret":"s","weight":"2"}]`, wantErr: `entry 1: field "weight": must be a number`},
		{name: "tags_not_a_list", json: `[{"host":"https://a.example.org","secret":"s","tags":"de"}]`, wantErr: `entry 1: field "tags": must be a list of strings`},
		{name: "duplicate_host", json: `[{"host":"https://a.example.org","secret":"s","id":"a"},{"host":"https://a.example.org/bigbluebutton/api","secret":"t","id":"b"}]`,
			wantErr: `servers.json: entry 2 (https://a.example.org/bigbluebutton/api): field "host": entry 1 has the same host`},
		{name: "host_with_password", json: `[{"host":"https://admin:hunter2@a.example.org","secret":"s"}]`, wantErr: `field "host"`},
		{name: "syntax_error", json: `[{"host":`, wantErr: `servers.json: not a JSON array`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseServers("servers.json", []byte(tt.json))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), `"s"`) || strings.Contains(err.Error(), "42") || strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error %q may reveal the secret", err)
				}
				if strings.Count(err.Error(), "\n") > 0 {
					t.Errorf("error %q is not one line", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			var views []serverView
			for _, s := range got {
				views = append(views, serverView{s.ID, s.URL, string(s.State), s.Algorithm, s.Weight})
			}
			tt.check(t, views)
		})
	}
}

type serverView struct {
	ID, URL, State, Algorithm string
	Weight                    float64
}

func TestParseConfig(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{name: "missing_secret", env: nil, wantErr: "TINYSCALE_SECRET"},
		{
			name: "defaults", env: map[string]string{"TINYSCALE_SECRET": "x"},
			check: func(t *testing.T, c Config) {
				if c.Port != 3005 || c.Listen != ":3005" || c.ServersFile != "./servers.json" || c.PollInterval != 10*time.Second || c.Store != "./tinyscale.db" || c.Strategy != "least-load" {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "env_and_flags_flags_win", env: map[string]string{"TINYSCALE_SECRET": "x", "PORT": "4000", "TINYSCALE_POLL_INTERVAL": "5s"},
			args: []string{"--port", "5000", "--strict", "--algorithms", "sha1,SHA512"},
			check: func(t *testing.T, c Config) {
				if c.Port != 5000 || c.PollInterval != 5*time.Second || !c.Strict || strings.Join(c.Algorithms, ",") != "sha1,sha512" {
					t.Errorf("got %+v", c)
				}
			},
		},
		{name: "bad_port", env: map[string]string{"TINYSCALE_SECRET": "x", "PORT": "http"}, wantErr: "PORT"},
		{name: "bad_interval", env: map[string]string{"TINYSCALE_SECRET": "x", "TINYSCALE_POLL_INTERVAL": "10"}, wantErr: "TINYSCALE_POLL_INTERVAL"},
		{name: "bad_strategy", env: map[string]string{"TINYSCALE_SECRET": "x", "TINYSCALE_STRATEGY": "random"}, wantErr: "TINYSCALE_STRATEGY"},
		{name: "bad_strict", env: map[string]string{"TINYSCALE_SECRET": "x", "TINYSCALE_STRICT": "yes please"}, wantErr: "TINYSCALE_STRICT"},
		{name: "bad_algorithm", env: map[string]string{"TINYSCALE_SECRET": "x", "TINYSCALE_ALGORITHMS": "md5"}, wantErr: "TINYSCALE_ALGORITHMS"},
		{name: "bad_log_format", env: map[string]string{"TINYSCALE_SECRET": "x", "TINYSCALE_LOG_FORMAT": "xml"}, wantErr: "TINYSCALE_LOG_FORMAT"},
		{
			// The README: an empty TINYSCALE_SERVERS means servers are
			// managed through the admin API only. It used to count as
			// unset, so tinyscale looked for ./servers.json.
			name: "servers_set_empty", env: map[string]string{"TINYSCALE_SECRET": "x", "TINYSCALE_SERVERS": ""},
			check: func(t *testing.T, c Config) {
				if c.ServersFile != "" {
					t.Errorf("got ServersFile %q, want empty", c.ServersFile)
				}
			},
		},
		{
			name: "empty_variable_counts_as_unset", env: map[string]string{"TINYSCALE_SECRET": "x", "PORT": "", "TINYSCALE_STORE": ""},
			check: func(t *testing.T, c Config) {
				if c.Port != 3005 || c.Store != "./tinyscale.db" {
					t.Errorf("got port %d, store %q; want the defaults", c.Port, c.Store)
				}
			},
		},
		{name: "zero_shutdown_timeout", env: map[string]string{"TINYSCALE_SECRET": "x", "TINYSCALE_SHUTDOWN_TIMEOUT": "0s"}, wantErr: "TINYSCALE_SHUTDOWN_TIMEOUT: must be positive"},
		{name: "public_url_no_scheme", env: map[string]string{"TINYSCALE_SECRET": "x", "TINYSCALE_PUBLIC_URL": "bbb-lb.example.org"}, wantErr: "TINYSCALE_PUBLIC_URL"},
		{name: "public_url_query", env: map[string]string{"TINYSCALE_SECRET": "x", "TINYSCALE_PUBLIC_URL": "https://lb.example.org/?a=1"}, wantErr: "TINYSCALE_PUBLIC_URL"},
		{name: "public_url_password", env: map[string]string{"TINYSCALE_SECRET": "x", "TINYSCALE_PUBLIC_URL": "https://u:hunter2@lb.example.org"}, wantErr: "TINYSCALE_PUBLIC_URL"},
		{
			name: "public_url_with_path", env: map[string]string{"TINYSCALE_SECRET": "x", "TINYSCALE_PUBLIC_URL": "https://lb.example.org/tinyscale"},
			check: func(t *testing.T, c Config) {
				if c.PublicURL != "https://lb.example.org/tinyscale" {
					t.Errorf("got PublicURL %q", c.PublicURL)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig("test", tt.args, env(tt.env), nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error reveals a password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			tt.check(t, c)
		})
	}
}

// lookupOf adapts a getenv function to run's lookupEnv: an empty value
// counts as unset.
func lookupOf(getenv func(string) string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v := getenv(k)
		return v, v != ""
	}
}
