package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/bbb"
)

// Paths of the binaries built once by TestMain.
var bin struct{ tinyscale, fakebbb string }

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tinyscale-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin.tinyscale = filepath.Join(dir, "tinyscale")
	bin.fakebbb = filepath.Join(dir, "fakebbb")
	for out, pkg := range map[string]string{bin.tinyscale: "./cmd/tinyscale", bin.fakebbb: "./cmd/fakebbb"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = ".."
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n", pkg, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a running child process.
type proc struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	out    *syncBuffer
	URL    string // base URL, e.g. http://127.0.0.1:1234
	Port   int
	Secret string
	done   chan struct{}
	args   []string
	env    []string
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (p *proc) start() {
	p.t.Helper()
	p.out = &syncBuffer{}
	p.cmd = exec.Command(p.args[0], p.args[1:]...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	p.done = make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(p.done) }()
}

// stop ends the process with sig and waits for it.
func (p *proc) stop(sig syscall.Signal) {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the process with SIGKILL.
func (p *proc) kill() { p.stop(syscall.SIGKILL) }

func (p *proc) exitCode() int {
	<-p.done
	return p.cmd.ProcessState.ExitCode()
}

// waitHTTP polls url until it answers with status want.
func waitHTTP(t testing.TB, p *proc, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("%s exited early:\n%s", p.name, p.out.String())
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not answer %s with %d in time:\n%s", p.name, url, want, p.out.String())
}

// startFake starts a fakebbb process with its own secret.
func startFake(t testing.TB, name string, extra ...string) *proc {
	t.Helper()
	port := freePort(t)
	p := &proc{t: t, name: name, Port: port, Secret: "secret-of-" + name,
		URL: "http://127.0.0.1:" + strconv.Itoa(port)}
	p.args = append([]string{bin.fakebbb, "--port", strconv.Itoa(port), "--secret", p.Secret}, extra...)
	p.start()
	t.Cleanup(p.kill)
	waitHTTP(t, p, p.URL+"/bigbluebutton/api", 200)
	return p
}

// restart starts a stopped process again with the same arguments.
func (p *proc) restart() {
	p.t.Helper()
	p.start()
}

// gateway is a running tinyscale serve process.
type gateway struct {
	*proc
	Dir   string
	Token string
}

const frontSecret = "front-end-secret"

// writeServers writes servers.json for fakes into dir.
func writeServers(t testing.TB, dir string, fakes []*proc) string {
	t.Helper()
	var entries []map[string]string
	for _, f := range fakes {
		entries = append(entries, map[string]string{"host": f.URL, "secret": f.Secret, "id": f.name})
	}
	data, _ := json.Marshal(entries)
	path := filepath.Join(dir, "servers.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startGateway starts tinyscale serve in front of fakes. env adds or
// overrides settings ("KEY=value").
func startGateway(t testing.TB, dir string, fakes []*proc, env ...string) *gateway {
	t.Helper()
	port := freePort(t)
	g := &gateway{Dir: dir, Token: "admin-token"}
	g.proc = &proc{t: t, name: "tinyscale", Port: port, Secret: frontSecret, URL: "http://127.0.0.1:" + strconv.Itoa(port)}
	g.args = []string{bin.tinyscale, "serve"}
	g.env = append([]string{
		"TINYSCALE_SECRET=" + frontSecret,
		"PORT=" + strconv.Itoa(port),
		"TINYSCALE_LISTEN=127.0.0.1:" + strconv.Itoa(port),
		"TINYSCALE_SERVERS=" + writeServers(t, dir, fakes),
		"TINYSCALE_STORE=" + filepath.Join(dir, "tinyscale.db"),
		"TINYSCALE_POLL_INTERVAL=500ms",
		"TINYSCALE_POLL_TIMEOUT=400ms",
		"TINYSCALE_ADMIN_TOKEN=" + g.Token,
		"TINYSCALE_LOG_LEVEL=info",
	}, env...)
	g.start()
	t.Cleanup(g.kill)
	waitHTTP(t, g.proc, g.URL+"/healthz", 200)
	return g
}

// api returns a signed API URL of the gateway (or any BBB server).
func signedURL(base, secret, alg, call, query string) string {
	return base + "/bigbluebutton/api/" + call + "?" + bbb.Sign(alg, call, query, secret)
}

// noRedirect is an HTTP client that does not follow redirects.
var noRedirect = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// get fetches url without following redirects.
func get(t testing.TB, url string) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirect.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", redactURL(url), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func redactURL(u string) string {
	if i := strings.Index(u, "checksum="); i >= 0 {
		return u[:i] + "checksum=…"
	}
	return u
}

// call signs and GETs a BBB call on the gateway and parses the envelope.
func (g *gateway) call(t testing.TB, alg, call, query string) (bbb.Status, string) {
	t.Helper()
	resp, body := get(t, signedURL(g.URL, g.Secret, alg, call, query))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d: %s", call, resp.StatusCode, body)
	}
	st, err := bbb.ParseStatus([]byte(body))
	if err != nil {
		t.Fatalf("%s: %v: %s", call, err, body)
	}
	return st, body
}

// fakeState is GET /fakebbb/state of a fakebbb process.
type fakeState struct {
	Meetings []struct {
		MeetingID    string `json:"id"`
		Participants int    `json:"participants"`
	} `json:"meetings"`
	Calls map[string]int `json:"calls"`
}

func (p *proc) state(t testing.TB) fakeState {
	t.Helper()
	resp, err := http.Get(p.URL + "/fakebbb/state")
	if err != nil {
		t.Fatalf("%s state: %v", p.name, err)
	}
	defer resp.Body.Close()
	var st fakeState
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("%s state: %v", p.name, err)
	}
	return st
}

// control POSTs to a fakebbb control endpoint.
func (p *proc) control(t testing.TB, path string) {
	t.Helper()
	resp, err := http.Post(p.URL+path, "", nil)
	if err != nil {
		t.Fatalf("%s %s: %v", p.name, path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: HTTP %d: %s", p.name, path, resp.StatusCode, body)
	}
}

// eventually polls cond until it is true or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		if cond() {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// startFleet starts n fakebbb processes named bbb1…bbbN.
func startFleet(t testing.TB, n int, extra ...string) []*proc {
	t.Helper()
	fakes := make([]*proc, n)
	for i := range fakes {
		fakes[i] = startFake(t, fmt.Sprintf("bbb%d", i+1), extra...)
	}
	return fakes
}

func mustRead(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
