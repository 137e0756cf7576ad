package main

import (
	"context"
	"strings"
	"testing"
)

// TestOpenStore_OneLine checks that a store that cannot be opened yields
// one error naming TINYSCALE_STORE and nothing in the log: the Redis
// client library used to log its own line about the refused dial first.
func TestOpenStore_OneLine(t *testing.T) {
	tests := []struct {
		name, spec, wantErr string
	}{
		{"redis_refused", "redis://:hunter2@" + strings.TrimPrefix(deadURL(t), "http://") + "/0", "TINYSCALE_STORE: "},
		{"redis_bad_url", "redis://127.0.0.1:6379/notanumber", "TINYSCALE_STORE: "},
		{"bolt_not_a_file", t.TempDir(), "TINYSCALE_STORE: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs lockedBuffer
			s, err := openStore(context.Background(), tt.spec, newLogger(&logs, "text", "debug"))
			if err == nil {
				s.Close()
				t.Fatalf("got no error, want one")
			}
			if msg := err.Error(); !strings.HasPrefix(msg, tt.wantErr) || strings.Contains(msg, "\n") || strings.Contains(msg, "hunter2") {
				t.Errorf("got error %q, want one line starting with %q, without the password", msg, tt.wantErr)
			}
			if logs.String() != "" {
				t.Errorf("got log lines besides the error:\n%s", logs.String())
			}
		})
	}
}

// TestMain_NoServersWarns checks that starting without any server says so:
// it used to start silently, every API call then failing.
func TestMain_NoServersWarns(t *testing.T) {
	dir := t.TempDir()
	m := fileMain(t, dir)
	m.Config.ServersFile = ""
	m.Config.LogLevel = "warn"
	var logs lockedBuffer
	m.Stderr = &logs
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.Close(context.Background())
	if !strings.Contains(logs.String(), "no BBB servers configured") {
		t.Errorf("got log %q, want a warning that no server is configured", logs.String())
	}
}
