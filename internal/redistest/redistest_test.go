package redistest

import (
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestServer_StopRestartKill(t *testing.T) {
	s := StartServer(t)
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("ping after start: got %v, want nil", err)
	}
	if got, want := s.URL(), "redis://"+s.Addr()+"/0"; got != want {
		t.Errorf("URL: got %q, want %q", got, want)
	}

	steps := []struct {
		name   string
		do     func()
		wantUp bool
	}{
		{name: "stop", do: s.Stop, wantUp: false},
		{name: "restart_after_stop", do: s.Restart, wantUp: true},
		{name: "kill", do: s.Kill, wantUp: false},
		{name: "restart_after_kill", do: s.Restart, wantUp: true},
		{name: "restart_while_running", do: s.Restart, wantUp: true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do()
			err := ping(s.Addr())
			if gotUp := err == nil; gotUp != st.wantUp {
				t.Errorf("server up: got %v (ping error %v), want %v", gotUp, err, st.wantUp)
			}
		})
	}
}

func TestStart(t *testing.T) {
	t.Run("local_server", func(t *testing.T) {
		t.Setenv(EnvURL, "")
		u := Start(t)
		addr := strings.TrimSuffix(strings.TrimPrefix(u, "redis://"), "/0")
		if err := ping(addr); err != nil {
			t.Errorf("ping %s: got %v, want nil", addr, err)
		}
	})
	t.Run("external_url", func(t *testing.T) {
		const want = "redis://example.invalid:6379/3"
		t.Setenv(EnvURL, want)
		if got := Start(t); got != want {
			t.Errorf("Start: got %q, want %q", got, want)
		}
	})
}

// fakeTB records Skip and Fatal calls and stops the goroutine like the real
// testing.TB does.
type fakeTB struct {
	testing.TB
	mu      sync.Mutex
	skipped bool
	failed  bool
	msg     string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.mu.Lock()
	f.skipped, f.msg = true, format
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.failed, f.msg = true, format
	f.mu.Unlock()
	runtime.Goexit()
}

func TestLookPath_missingBinary(t *testing.T) {
	tests := []struct {
		name        string
		ci          string
		wantSkipped bool
		wantFailed  bool
	}{
		{name: "local_skips", ci: "", wantSkipped: true},
		{name: "ci_fails", ci: "true", wantFailed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir())
			t.Setenv("CI", tt.ci)
			f := &fakeTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				lookPath(f)
			}()
			<-done
			if f.skipped != tt.wantSkipped || f.failed != tt.wantFailed {
				t.Errorf("got skipped=%v failed=%v, want skipped=%v failed=%v", f.skipped, f.failed, tt.wantSkipped, tt.wantFailed)
			}
			if !strings.Contains(f.msg, "redis-server not found") {
				t.Errorf("message: got %q, want it to explain that redis-server is missing", f.msg)
			}
		})
	}
}
