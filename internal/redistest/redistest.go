// Package redistest starts throwaway redis-server processes for tests.
//
// Start returns the URL of a Redis server that lives as long as the test:
// the one named by TINYSCALE_TEST_REDIS_URL if that variable is set, or
// else a fresh redis-server process on a free loopback port with persistence
// off, stopped in the test's Cleanup. StartServer always starts a local
// process and returns a handle whose Stop, Restart and Kill simulate Redis
// outages.
//
// When no redis-server binary is on PATH, tests that need one are skipped,
// unless the environment variable CI is "true": then they fail, so that a CI
// run never silently skips the Redis tests.
package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvURL names the environment variable that points the tests at an
// existing Redis server (for example "redis://127.0.0.1:6379/0") instead of
// starting one.
const EnvURL = "TINYSCALE_TEST_REDIS_URL"

// startTimeout bounds how long a redis-server may take to answer PING.
const startTimeout = 15 * time.Second

// Start returns the URL of a Redis server for the test. If
// TINYSCALE_TEST_REDIS_URL is set, that URL is returned as is; the server is
// shared, so tests must isolate their keys (for example with a unique key
// prefix). Otherwise Start behaves like StartServer and returns its URL.
func Start(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return StartServer(tb).URL()
}

// Server is a redis-server process owned by one test. Its methods must be
// called from the test's goroutine (they may call tb.Fatal).
type Server struct {
	tb         testing.TB
	bin        string
	dir        string
	port       int
	appendOnly bool
	// sentinel, if set, runs the process as a Sentinel monitoring this
	// master under the given name.
	sentinel *sentinelConfig

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	log  *lockedBuffer
}

// Option configures StartServer.
type Option func(*Server)

// AppendOnly turns on the append-only file with appendfsync always, so that
// data survives Stop, Kill and Restart. Without it the server keeps nothing
// across a restart.
func AppendOnly() Option {
	return func(s *Server) { s.appendOnly = true }
}

// StartServer starts a redis-server on a free 127.0.0.1 port, in a
// temporary directory, with RDB snapshots and (unless AppendOnly is given)
// the AOF disabled, and waits until it answers PING. The process is killed
// in tb's Cleanup. It ignores TINYSCALE_TEST_REDIS_URL: tests that stop or
// restart Redis use it.
func StartServer(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	bin := lookPath(tb)
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir()}
	for _, o := range opts {
		o(s)
	}
	s.launch("redis-server")
	return s
}

// launch starts s on a free port, registering its Cleanup first.
func (s *Server) launch(what string) {
	s.tb.Helper()
	s.tb.Cleanup(s.kill)
	var lastErr error
	for range 5 { // the free port may be taken between probing and binding
		port, err := freePort()
		if err != nil {
			s.tb.Fatalf("redistest: find free port: %v", err)
		}
		s.port = port
		if lastErr = s.start(); lastErr == nil {
			return
		}
	}
	s.tb.Fatalf("redistest: start %s: %v", what, lastErr)
}

// lookPath finds redis-server, skipping or failing the test if it is missing.
func lookPath(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err == nil {
		return bin
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("redistest: redis-server not found on PATH and CI=true: the Redis tests must run in CI (install redis-server or set %s)", EnvURL)
	}
	tb.Skipf("redistest: redis-server not found on PATH; install it or set %s to run the Redis tests", EnvURL)
	return ""
}

// URL returns the server's redis:// URL (database 0), or for a Sentinel
// its redis+sentinel:// URL naming the monitored master (database 0).
func (s *Server) URL() string {
	if s.sentinel != nil {
		return "redis+sentinel://" + s.Addr() + "/" + s.sentinel.masterName + "/0"
	}
	return "redis://" + s.Addr() + "/0"
}

// Addr returns the server's host:port.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Stop shuts the server down with SIGTERM and waits for it to exit; clients
// then get "connection refused" until Restart.
func (s *Server) Stop() {
	s.tb.Helper()
	s.signal(syscall.SIGTERM)
}

// Kill kills the server with SIGKILL and waits for it to exit.
func (s *Server) Kill() {
	s.tb.Helper()
	s.signal(syscall.SIGKILL)
}

// Restart starts the server again on the same port after Stop or Kill (or
// stops it first if it is running). Data is kept only with AppendOnly.
func (s *Server) Restart() {
	s.tb.Helper()
	s.signal(syscall.SIGTERM)
	deadline := time.Now().Add(startTimeout)
	for {
		err := s.start()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("redistest: restart redis-server on port %d: %v", s.port, err)
		}
		time.Sleep(50 * time.Millisecond) // the port may linger briefly
	}
}

// start launches redis-server on s.port and waits for PING.
func (s *Server) start() error {
	log := &lockedBuffer{}
	args, err := s.args()
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	cmd.Stdout = log
	cmd.Stderr = log
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()

	s.mu.Lock()
	s.cmd, s.done, s.log = cmd, done, log
	s.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-done:
			return fmt.Errorf("redis-server exited early: %s", strings.TrimSpace(log.String()))
		default:
		}
		if err := ping(s.Addr()); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			s.signal(syscall.SIGKILL)
			return fmt.Errorf("no PING answer within %v: %w; log: %s", startTimeout, err, strings.TrimSpace(log.String()))
		}
		select {
		case <-done:
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// args returns the redis-server command line for s.
func (s *Server) args() ([]string, error) {
	if s.sentinel != nil {
		// Sentinel needs a writable config file; it rewrites it.
		conf := filepath.Join(s.dir, "sentinel.conf")
		body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s 127.0.0.1 %d 1\nsentinel down-after-milliseconds %s 60000\n",
			s.port, s.dir, s.sentinel.masterName, s.sentinel.masterPort, s.sentinel.masterName)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			return nil, fmt.Errorf("write sentinel config: %w", err)
		}
		return []string{conf, "--sentinel", "--daemonize", "no", "--logfile", ""}, nil
	}
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--dir", s.dir,
		"--daemonize", "no",
		"--logfile", "",
	}
	if s.appendOnly {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	return args, nil
}

type sentinelConfig struct {
	masterName string
	masterPort int
}

// StartSentinel starts a Redis Sentinel on a free 127.0.0.1 port that
// monitors master under masterName (quorum 1, no automatic failover within
// a test's lifetime), and returns its handle. Use its Addr in a
// redis+sentinel:// URL. It needs a local redis-server like StartServer.
func StartSentinel(tb testing.TB, master *Server, masterName string) *Server {
	tb.Helper()
	bin := lookPath(tb)
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir(), sentinel: &sentinelConfig{masterName: masterName, masterPort: master.port}}
	s.launch("redis sentinel")
	return s
}

// signal sends sig to the running process, if any, and waits for it to exit.
func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(startTimeout):
		_ = cmd.Process.Kill()
		<-done
	}
}

// kill is the Cleanup hook.
func (s *Server) kill() { s.signal(syscall.SIGKILL) }

// ping sends one inline PING and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// freePort asks the kernel for a free loopback TCP port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("listener address is not TCP")
	}
	return addr.Port, nil
}

// lockedBuffer collects the server's log output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 { // keep memory bounded; the start is what matters
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
