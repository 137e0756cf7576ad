package redistest

import (
	"bufio"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
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

// set writes key=value with an inline command and checks the reply.
func set(t *testing.T, addr, key, value string) {
	t.Helper()
	if got := command(t, addr, "SET "+key+" "+value); got != "+OK" {
		t.Fatalf("SET %s: got %q, want +OK", key, got)
	}
}

// command sends one inline command and returns the first reply line.
func command(t *testing.T, addr, cmd string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		t.Fatalf("write %q: %v", cmd, err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read reply to %q: %v", cmd, err)
	}
	return strings.TrimSpace(line)
}

func TestServer_Persistence(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		down    func(*Server)
		wantGet string // first reply line of GET k after Restart
	}{
		{name: "default_forgets_on_restart", down: (*Server).Stop, wantGet: "$-1"},
		{name: "append_only_keeps_after_stop", opts: []Option{AppendOnly()}, down: (*Server).Stop, wantGet: "$1"},
		{name: "append_only_keeps_after_kill", opts: []Option{AppendOnly()}, down: (*Server).Kill, wantGet: "$1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := StartServer(t, tt.opts...)
			set(t, s.Addr(), "k", "v")
			tt.down(s)
			s.Restart()
			reply := command(t, s.Addr(), "GET k")
			if strings.HasPrefix(reply, "_") { // RESP3 null, not used by inline commands
				reply = "$-1"
			}
			if reply != tt.wantGet {
				t.Errorf("GET k after restart: got %q, want %q", reply, tt.wantGet)
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

func TestStartSentinel(t *testing.T) {
	master := StartServer(t)
	sen := StartSentinel(t, master, "mymaster")
	if got, want := sen.URL(), "redis+sentinel://"+sen.Addr()+"/mymaster/0"; got != want {
		t.Errorf("URL: got %q, want %q", got, want)
	}
	c, err := net.DialTimeout("tcp", sen.Addr(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial sentinel: %v", err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("SENTINEL get-master-addr-by-name mymaster\r\n")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	var lines []string
	for range 5 { // *2, $9, 127.0.0.1, $N, port
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read reply: %v", err)
		}
		lines = append(lines, strings.TrimSpace(line))
	}
	if got, want := lines[2]+":"+lines[4], master.Addr(); got != want {
		t.Errorf("master address from sentinel: got %q, want %q", got, want)
	}
}
