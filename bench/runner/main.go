// Command runner is tinyscale's benchmark. On one machine it starts a fleet
// of fakebbb processes, tinyscale in front of them and a bare baseline
// server answering every request with a fixed 302, drives both with
// `tinyscale load`, and prints a table of throughput and latency through
// tinyscale and through the baseline, tinyscale's memory, and PASS/MISS
// for each performance target. bench/run.sh builds the binaries and runs
// it; see docs/performance.md.
//
// Everything listens on 127.0.0.1 only, and every process it starts is
// stopped when it ends (and killed by the kernel if it dies, on Linux).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/loadgen"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the bench could not run
	exitUsage = 2
	exitMiss  = 3 // --strict and a target was missed
)

// frontSecret is the secret the load generator uses against tinyscale.
const frontSecret = "bench-front-secret"

// options are the runner's flags.
type options struct {
	bin, out, repo string
	quick          bool
	strict         bool
	profile        bool
	duration       time.Duration
	concurrency    int
	gmConcurrency  int
	servers        int
	latency        time.Duration
	meetings       int
	bigServers     int
	bigMeetings    int
	bigLatency     time.Duration
	settle         time.Duration
	pollInterval   time.Duration
	hung           bool
	rounds         int
	joinRate       float64
	bigVia         bool
	skipMain       bool
	env            envList
}

// envList is a repeatable KEY=VALUE flag.
type envList []string

func (e *envList) String() string { return strings.Join(*e, " ") }

func (e *envList) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("%q is not KEY=VALUE", v)
	}
	*e = append(*e, v)
	return nil
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.bin, "bin", "bench/out", "directory with the tinyscale, fakebbb and baseline binaries")
	fs.StringVar(&o.out, "out", "bench/out", "directory for logs, stores, profiles and results")
	fs.StringVar(&o.repo, "repo", ".", "repository root (for the profiling benchmark)")
	fs.BoolVar(&o.quick, "quick", false, "smoke-test mode: small fleet, short runs (about 40s)")
	fs.BoolVar(&o.strict, "strict", false, "exit with status 3 if a target is missed")
	fs.BoolVar(&o.profile, "profile", false, "capture a CPU profile of tinyscale's join path and print its top functions")
	fs.DurationVar(&o.duration, "duration", 0, "length of each measured run (default 6s, quick 2s)")
	fs.IntVar(&o.concurrency, "concurrency", 64, "connections for join, poll, mixed and create")
	fs.IntVar(&o.gmConcurrency, "getmeetings-concurrency", 4, "connections for getMeetings (each request fans out to every server)")
	fs.IntVar(&o.servers, "servers", 0, "fakebbb servers behind tinyscale (default 50, quick 10)")
	fs.DurationVar(&o.latency, "latency", 20*time.Millisecond, "latency of every fakebbb answer")
	fs.IntVar(&o.meetings, "meetings", 100, "existing meetings for join, poll and mixed")
	fs.IntVar(&o.bigServers, "big-servers", 0, "servers of the memory phase (default 100, quick 20)")
	fs.IntVar(&o.bigMeetings, "big-meetings", 0, "meetings of the memory phase (default 10000, quick 1000)")
	fs.DurationVar(&o.bigLatency, "big-latency", 2*time.Millisecond, "fakebbb latency in the memory phase")
	fs.IntVar(&o.rounds, "rounds", 0, "alternating baseline/tinyscale join runs, best kept (default 2, quick 1)")
	fs.Float64Var(&o.joinRate, "join-rate", 0, "request rate of the paced join run that the p99 target is checked on (default 2000, quick 1000)")
	fs.BoolVar(&o.bigVia, "big-via-tinyscale", false, "create the memory phase's meetings through tinyscale's create (its placement path; slow) instead of directly on the servers")
	fs.BoolVar(&o.hung, "hung", true, "also measure getMeetings with one server that never answers (informational)")
	fs.Var(&o.env, "env", "KEY=VALUE added to tinyscale's environment, e.g. GOGC=50 or GODEBUG=gctrace=1 (repeatable)")
	fs.BoolVar(&o.skipMain, "skip-main", false, "run only the memory phase (to investigate it; the other targets show as not measured)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	def := func(p *int, full, quick int) {
		if *p == 0 {
			*p = full
			if o.quick {
				*p = quick
			}
		}
	}
	def(&o.servers, 50, 10)
	def(&o.bigServers, 100, 20)
	def(&o.bigMeetings, 10000, 1000)
	def(&o.rounds, 2, 1)
	if o.joinRate == 0 {
		o.joinRate = 2000
		if o.quick {
			o.joinRate = 1000
		}
	}
	if o.duration == 0 {
		o.duration = 6 * time.Second
		if o.quick {
			o.duration = 2 * time.Second
		}
	}
	o.settle, o.pollInterval = 3*time.Second, 2*time.Second
	if o.quick {
		o.settle, o.pollInterval = time.Second, time.Second
		o.hung = false
	}
	switch {
	case o.servers < 2 || o.bigServers < 1:
		return o, errors.New("--servers must be at least 2 (one is killed) and --big-servers at least 1")
	case o.duration <= 0 || o.concurrency < 1 || o.gmConcurrency < 1 || o.meetings < 1 || o.bigMeetings < 1 || o.rounds < 1 || o.joinRate < 0:
		return o, errors.New("--duration, --concurrency, --getmeetings-concurrency, --meetings, --big-meetings, --rounds and --join-rate must be positive")
	case o.latency < 0 || o.bigLatency < 0:
		return o, errors.New("--latency must not be negative")
	}
	return o, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return exitUsage
	}
	b := &bench{opt: o, log: stderr}
	defer b.cleanup()
	r, err := b.run(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		fmt.Fprintf(stderr, "bench: logs are in %s\n", filepath.Join(o.out, "logs"))
		return exitError
	}
	if err := writeTable(stdout, r); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return exitError
	}
	if err := b.save(r); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return exitError
	}
	if o.strict {
		for _, t := range r.Targets {
			if !t.Pass {
				return exitMiss
			}
		}
	}
	return exitOK
}

// bench is one run's state: options and the processes to stop.
type bench struct {
	opt options
	log io.Writer

	mu    sync.Mutex
	procs []*proc
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
}

// track records p for cleanup, also in out/pids for bench/run.sh's trap.
func (b *bench) track(p *proc) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.procs = append(b.procs, p)
	b.writePIDs()
}

// writePIDs rewrites out/pids ("pid name" lines) with the tracked
// processes; it removes the file when there are none. Called with b.mu.
func (b *bench) writePIDs() {
	path := filepath.Join(b.opt.out, "pids")
	if len(b.procs) == 0 {
		_ = os.Remove(path)
		return
	}
	var s strings.Builder
	for _, p := range b.procs {
		fmt.Fprintf(&s, "%d %s\n", p.pid(), filepath.Base(p.cmd.Path))
	}
	_ = os.WriteFile(path, []byte(s.String()), 0o644)
}

// cleanup stops every process the bench started, in parallel.
func (b *bench) cleanup() {
	b.mu.Lock()
	procs := b.procs
	b.procs = nil
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.writePIDs()
		b.mu.Unlock()
	}()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stop(5 * time.Second)
		}()
	}
	wg.Wait()
}

func (b *bench) binPath(name string) string { return filepath.Join(b.opt.bin, name) }

// fake is one fakebbb process.
type fake struct {
	*proc
	id     string
	url    string // http://127.0.0.1:port
	secret string
}

// startFleet starts n fakebbb processes and waits until all answer.
func (b *bench) startFleet(ctx context.Context, name string, n int, latency time.Duration) ([]*fake, error) {
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	fleet := make([]*fake, n)
	for i, port := range ports {
		id := fmt.Sprintf("%s-%03d", name, i+1)
		f := &fake{id: id, url: "http://127.0.0.1:" + strconv.Itoa(port), secret: "secret-of-" + id}
		p, err := startProc(filepath.Join(b.opt.out, "logs"), id, []string{"FAKEBBB_SECRET=" + f.secret},
			b.binPath("fakebbb"), fakeArgs(port, latency)...)
		if err != nil {
			return nil, err
		}
		b.track(p)
		f.proc = p
		fleet[i] = f
	}
	for _, f := range fleet {
		if err := waitHTTP(ctx, f.proc, f.url+"/fakebbb/state", 20*time.Second, func(status int, _ string) bool {
			return status == 200
		}); err != nil {
			return nil, err
		}
	}
	return fleet, nil
}

// tinyscaleProc is a running tinyscale.
type tinyscaleProc struct {
	*proc
	url string // http://127.0.0.1:port
}

// startTinyscale starts `tinyscale serve` in front of fleet with a fresh
// store and waits until every server is up.
func (b *bench) startTinyscale(ctx context.Context, name string, fleet []*fake, extraEnv ...string) (*tinyscaleProc, error) {
	type entry struct {
		ID     string `json:"id"`
		Host   string `json:"host"`
		Secret string `json:"secret"`
	}
	entries := make([]entry, len(fleet))
	for i, f := range fleet {
		entries[i] = entry{ID: f.id, Host: f.url, Secret: f.secret}
	}
	data, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.opt.out, name)
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	serversFile := filepath.Join(dir, "servers.json")
	if err := os.WriteFile(serversFile, data, 0o600); err != nil {
		return nil, err
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(ports[0])
	env := append([]string{
		"TINYSCALE_SECRET=" + frontSecret,
		"PORT=" + port,
		"TINYSCALE_LISTEN=127.0.0.1:" + port,
		"TINYSCALE_SERVERS=" + serversFile,
		"TINYSCALE_STORE=" + filepath.Join(dir, "tinyscale.db"),
		"TINYSCALE_POLL_INTERVAL=" + b.opt.pollInterval.String(),
		"TINYSCALE_LOG_LEVEL=warn",
		"TINYSCALE_ADMIN_TOKEN=bench-admin-token",
	}, extraEnv...)
	env = append(env, b.opt.env...)
	p, err := startProc(filepath.Join(b.opt.out, "logs"), name, env, b.binPath("tinyscale"), "serve")
	if err != nil {
		return nil, err
	}
	b.track(p)
	ts := &tinyscaleProc{proc: p, url: "http://127.0.0.1:" + port}
	want := fmt.Sprintf("ready: %d of %d servers up", len(fleet), len(fleet))
	if err := waitHTTP(ctx, p, ts.url+"/readyz", 60*time.Second, func(status int, body string) bool {
		return status == 200 && strings.Contains(body, want)
	}); err != nil {
		return nil, err
	}
	return ts, nil
}

// startBaseline starts the fixed-302 server.
func (b *bench) startBaseline(ctx context.Context) (string, error) {
	ports, err := freePorts(1)
	if err != nil {
		return "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	p, err := startProc(filepath.Join(b.opt.out, "logs"), "baseline", nil, b.binPath("baseline"), "--addr", addr)
	if err != nil {
		return "", err
	}
	b.track(p)
	url := "http://" + addr
	if err := waitHTTP(ctx, p, url+"/", 20*time.Second, func(status int, _ string) bool { return status == 302 }); err != nil {
		return "", err
	}
	return url, nil
}

// loadRun describes one `tinyscale load` invocation.
type loadRun struct {
	url, scenario string
	concurrency   int
	meetings      int
	prefix        string
	noSetup       bool
	duration      time.Duration
	rate          float64 // 0: unlimited
	requests      int64   // 0: only duration
}

// load runs `tinyscale load --json` and decodes its result.
func (b *bench) load(ctx context.Context, l loadRun) (*loadgen.Result, error) {
	d := l.duration
	if d == 0 {
		d = b.opt.duration
	}
	args := []string{"load", "--url", l.url, "--scenario", l.scenario, "--duration", d.String(),
		"--concurrency", strconv.Itoa(l.concurrency), "--meetings", strconv.Itoa(max(l.meetings, 1)), "--json"}
	if l.prefix != "" {
		args = append(args, "--prefix", l.prefix)
	}
	if l.noSetup {
		args = append(args, "--no-setup")
	}
	if l.rate > 0 {
		args = append(args, "--rate", strconv.FormatFloat(l.rate, 'f', -1, 64))
	}
	if l.requests > 0 {
		args = append(args, "--requests", strconv.FormatInt(l.requests, 10))
	}
	cmd := exec.CommandContext(ctx, b.binPath("tinyscale"), args...)
	cmd.Env = append(baseEnv(), "TINYSCALE_SECRET="+frontSecret)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	setDeathSignal(cmd)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("tinyscale load %s against %s: %w: %s", l.scenario, l.url, err, strings.TrimSpace(stderr.String()))
	}
	var res loadgen.Result
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("tinyscale load %s: decode result: %w", l.scenario, err)
	}
	return &res, nil
}

// fleetCalls sums the fakebbb call counters of call over fleet (dead
// servers count 0).
func fleetCalls(ctx context.Context, fleet []*fake, call string) (int, error) {
	total := 0
	for _, f := range fleet {
		if f.exited() {
			continue
		}
		var st struct {
			Calls map[string]int `json:"calls"`
		}
		if err := getJSON(ctx, f.url+"/fakebbb/state", &st); err != nil {
			return 0, fmt.Errorf("state of %s: %w", f.id, err)
		}
		total += st.Calls[call]
	}
	return total, nil
}

func getJSON(ctx context.Context, url string, v any) error {
	data, err := httpDo(ctx, http.MethodGet, url, 10*time.Second)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// httpDo sends a request without body and returns the body of a 200 answer.
func httpDo(ctx context.Context, method, url string, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: HTTP %d: %s", method, url, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	return data, nil
}

// countMeetings asks an API (tinyscale or one fakebbb) for getMeetings and
// counts the meetings listed.
func countMeetings(ctx context.Context, base, secret string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := &bbb.Client{BaseURL: base + bbb.APIPath, Secret: secret, Algorithm: bbb.SHA256, HTTP: loadgen.NewClient(1, 30*time.Second)}
	body, err := c.Get(ctx, bbb.CallGetMeetings, "")
	if err != nil {
		return 0, err
	}
	ms, err := bbb.ParseMeetings(body)
	if err != nil {
		return 0, err
	}
	return len(ms), nil
}

// setFault sets a fakebbb fault mode for all calls.
func setFault(ctx context.Context, f *fake, mode string) error {
	_, err := httpDo(ctx, http.MethodPost, f.url+"/fakebbb/fault?mode="+mode, 10*time.Second)
	return err
}

// run performs the whole benchmark.
func (b *bench) run(ctx context.Context) (*report, error) {
	o := b.opt
	if err := os.MkdirAll(filepath.Join(o.out, "logs"), 0o755); err != nil {
		return nil, err
	}
	for _, bin := range []string{"tinyscale", "fakebbb", "baseline"} {
		if _, err := os.Stat(b.binPath(bin)); err != nil {
			return nil, fmt.Errorf("%s not built (run bench/run.sh): %w", b.binPath(bin), err)
		}
	}
	r := &report{
		Machine: machineInfo(ctx, o.repo), Quick: o.quick, Servers: o.servers, Latency: o.latency.String(),
		Concurrency: o.concurrency, GMConc: o.gmConcurrency, Duration: o.duration.String(),
		BigServers: o.bigServers, BigMeetings: o.bigMeetings, BigSeeded: !o.bigVia,
	}
	if o.skipMain {
		if err := b.bigPhase(ctx, r); err != nil {
			return nil, err
		}
		b.cleanup()
		r.Targets = r.evaluate()
		return r, nil
	}
	b.logf("starting the baseline and %d fakebbb servers (%s latency)", o.servers, o.latency)
	baseURL, err := b.startBaseline(ctx)
	if err != nil {
		return nil, err
	}
	fleet, err := b.startFleet(ctx, "fake", o.servers, o.latency)
	if err != nil {
		return nil, err
	}
	var pprofEnv []string
	pprofAddr := ""
	if o.profile {
		ports, err := freePorts(1)
		if err != nil {
			return nil, err
		}
		pprofAddr = "127.0.0.1:" + strconv.Itoa(ports[0])
		pprofEnv = []string{"TINYSCALE_PPROF_LISTEN=" + pprofAddr}
	}
	ts, err := b.startTinyscale(ctx, "tinyscale-main", fleet, pprofEnv...)
	if err != nil {
		return nil, err
	}
	b.logf("tinyscale is up with %d servers; letting it settle for %s", o.servers, o.settle)
	if err := sleepCtx(ctx, o.settle); err != nil {
		return nil, err
	}
	if r.Memory.IdleMain, _, err = memory(ts.pid()); err != nil {
		b.logf("%v", err)
	}

	if err := b.joins(ctx, r, baseURL, ts, fleet, pprofAddr); err != nil {
		return nil, err
	}

	// poll and getMeetings: baseline first, then tinyscale.
	for _, s := range []struct {
		name string
		conc int
	}{{loadgen.ScenarioPoll, o.concurrency}, {loadgen.ScenarioGetMeetings, o.gmConcurrency}} {
		rw := row{Scenario: s.name}
		b.logf("%s: baseline, %d connections, %s", s.name, s.conc, o.duration)
		if rw.Baseline, err = b.load(ctx, loadRun{url: baseURL, scenario: s.name, concurrency: s.conc, meetings: o.meetings, noSetup: true}); err != nil {
			return nil, err
		}
		b.logf("%s: tinyscale, %d connections, %s", s.name, s.conc, o.duration)
		err = b.profiled(ctx, pprofAddr, "main."+s.name+".cpu.prof", func() error {
			rw.Tinyscale, err = b.load(ctx, loadRun{url: ts.url, scenario: s.name, concurrency: s.conc, meetings: o.meetings})
			return err
		})
		if err != nil {
			return nil, err
		}
		r.Rows = append(r.Rows, rw)
	}

	// One dead server.
	if r.Dead, err = b.deadServer(ctx, ts, fleet); err != nil {
		return nil, err
	}
	if o.hung {
		rw, err := b.hungServer(ctx, ts, fleet)
		if err != nil {
			return nil, err
		}
		r.Rows = append(r.Rows, rw)
	}

	// mixed and create (they add meetings, so they come last).
	for _, s := range []string{loadgen.ScenarioMixed, loadgen.ScenarioCreate} {
		rw := row{Scenario: s}
		b.logf("%s: baseline, %d connections, %s", s, o.concurrency, o.duration)
		if rw.Baseline, err = b.load(ctx, loadRun{url: baseURL, scenario: s, concurrency: o.concurrency, meetings: o.meetings, noSetup: true}); err != nil {
			return nil, err
		}
		b.logf("%s: tinyscale, %d connections, %s", s, o.concurrency, o.duration)
		err = b.profiled(ctx, pprofAddr, "main."+s+".cpu.prof", func() error {
			rw.Tinyscale, err = b.load(ctx, loadRun{url: ts.url, scenario: s, concurrency: o.concurrency, meetings: o.meetings, prefix: "mix-"})
			return err
		})
		if err != nil {
			return nil, err
		}
		r.Rows = append(r.Rows, rw)
	}
	if _, r.Memory.PeakMain, err = memory(ts.pid()); err != nil {
		b.logf("%v", err)
	}
	b.cleanup()

	// Memory phase: many servers, many meetings.
	if err := b.bigPhase(ctx, r); err != nil {
		return nil, err
	}
	b.cleanup()
	r.Targets = r.evaluate()
	return r, nil
}

// joins measures join: saturated (best of --rounds alternating runs of
// the baseline and tinyscale, to even out other load on the machine), then
// at the fixed --join-rate where latency is not just queueing. It counts
// the fleet's join calls around tinyscale's runs.
func (b *bench) joins(ctx context.Context, r *report, baseURL string, ts *tinyscaleProc, fleet []*fake, pprofAddr string) error {
	o := b.opt
	// Create the meetings first, so the counters cover only joins.
	if _, err := b.load(ctx, loadRun{url: ts.url, scenario: loadgen.ScenarioJoin, concurrency: 1, meetings: o.meetings, requests: 1}); err != nil {
		return err
	}
	var err error
	if r.JoinsBefore, err = fleetCalls(ctx, fleet, bbb.CallJoin); err != nil {
		return err
	}
	best := func(a, b *loadgen.Result) *loadgen.Result {
		if a == nil || b.Throughput > a.Throughput {
			return b
		}
		return a
	}
	sat := row{Scenario: loadgen.ScenarioJoin}
	for i := range o.rounds {
		b.logf("join: baseline, %d connections, %s (round %d of %d)", o.concurrency, o.duration, i+1, o.rounds)
		res, err := b.load(ctx, loadRun{url: baseURL, scenario: loadgen.ScenarioJoin, concurrency: o.concurrency, meetings: o.meetings, noSetup: true})
		if err != nil {
			return err
		}
		sat.Baseline = best(sat.Baseline, res)
		var prof chan profileResult
		if i == 0 && o.profile {
			prof = make(chan profileResult, 1)
			go func() {
				data, err := fetchProfile(ctx, pprofAddr, o.duration)
				prof <- profileResult{data, err}
			}()
		}
		b.logf("join: tinyscale, %d connections, %s (round %d of %d)", o.concurrency, o.duration, i+1, o.rounds)
		if res, err = b.load(ctx, loadRun{url: ts.url, scenario: loadgen.ScenarioJoin, concurrency: o.concurrency, meetings: o.meetings, noSetup: true}); err != nil {
			return err
		}
		sat.Tinyscale = best(sat.Tinyscale, res)
		if prof != nil {
			r.Profile = b.profileReport(ctx, <-prof)
		}
	}
	r.Rows = append(r.Rows, sat)

	paced := row{Scenario: fmt.Sprintf("join @ %.0f/s", o.joinRate)}
	b.logf("join: baseline at %.0f req/s, %d connections, %s", o.joinRate, o.concurrency, o.duration)
	if paced.Baseline, err = b.load(ctx, loadRun{url: baseURL, scenario: loadgen.ScenarioJoin, concurrency: o.concurrency, meetings: o.meetings, noSetup: true, rate: o.joinRate}); err != nil {
		return err
	}
	b.logf("join: tinyscale at %.0f req/s, %d connections, %s", o.joinRate, o.concurrency, o.duration)
	if paced.Tinyscale, err = b.load(ctx, loadRun{url: ts.url, scenario: loadgen.ScenarioJoin, concurrency: o.concurrency, meetings: o.meetings, noSetup: true, rate: o.joinRate}); err != nil {
		return err
	}
	r.Rows = append(r.Rows, paced)
	r.JoinRate = o.joinRate
	if r.JoinsAfter, err = fleetCalls(ctx, fleet, bbb.CallJoin); err != nil {
		return err
	}
	return nil
}

// deadServer kills the server holding the most meetings and checks that
// getMeetings lists everything else and stays fast.
func (b *bench) deadServer(ctx context.Context, ts *tinyscaleProc, fleet []*fake) (*deadServer, error) {
	d := &deadServer{}
	var victim *fake
	for _, f := range fleet {
		n, err := countMeetings(ctx, f.url, f.secret)
		if err != nil {
			return nil, fmt.Errorf("count meetings on %s: %w", f.id, err)
		}
		if victim == nil || n > d.VictimMeetings {
			victim, d.VictimMeetings = f, n
		}
	}
	var err error
	if d.MeetingsBefore, err = countMeetings(ctx, ts.url, frontSecret); err != nil {
		return nil, fmt.Errorf("count meetings through tinyscale: %w", err)
	}
	d.Victim = victim.id
	b.logf("getMeetings with %s killed (it held %d of %d meetings), %d connections, %s",
		victim.id, d.VictimMeetings, d.MeetingsBefore, b.opt.gmConcurrency, b.opt.duration)
	victim.kill()
	if d.Result, err = b.load(ctx, loadRun{url: ts.url, scenario: loadgen.ScenarioGetMeetings, concurrency: b.opt.gmConcurrency, meetings: 1}); err != nil {
		return nil, err
	}
	if d.MeetingsAfter, err = countMeetings(ctx, ts.url, frontSecret); err != nil {
		return nil, fmt.Errorf("count meetings through tinyscale: %w", err)
	}
	return d, nil
}

// hungServer makes one live server never answer and measures getMeetings
// (informational: a hung server costs each fan-out the fan-out timeout
// until the poller takes it out).
func (b *bench) hungServer(ctx context.Context, ts *tinyscaleProc, fleet []*fake) (row, error) {
	var hung *fake
	for _, f := range fleet {
		if !f.exited() {
			hung = f
			break
		}
	}
	rw := row{Scenario: "getMeetings, 1 hung"}
	if hung == nil {
		return rw, errors.New("no live server left")
	}
	if err := setFault(ctx, hung, "hang"); err != nil {
		return rw, fmt.Errorf("make %s hang: %w", hung.id, err)
	}
	b.logf("getMeetings with %s hanging, %d connections, %s", hung.id, b.opt.gmConcurrency, b.opt.duration)
	var err error
	rw.Tinyscale, err = b.load(ctx, loadRun{url: ts.url, scenario: loadgen.ScenarioGetMeetings, concurrency: b.opt.gmConcurrency, meetings: 1})
	if err != nil {
		return rw, err
	}
	if err := setFault(ctx, hung, "none"); err != nil {
		return rw, fmt.Errorf("heal %s: %w", hung.id, err)
	}
	return rw, nil
}

// bigPhase measures memory with many servers and meetings.
func (b *bench) bigPhase(ctx context.Context, r *report) error {
	o := b.opt
	b.logf("memory phase: %d fakebbb servers (%s latency)", o.bigServers, o.bigLatency)
	fleet, err := b.startFleet(ctx, "big", o.bigServers, o.bigLatency)
	if err != nil {
		return err
	}
	var pprofEnv []string
	pprofAddr := ""
	if o.profile {
		ports, err := freePorts(1)
		if err != nil {
			return err
		}
		pprofAddr = "127.0.0.1:" + strconv.Itoa(ports[0])
		pprofEnv = []string{"TINYSCALE_PPROF_LISTEN=" + pprofAddr}
	}
	ts, err := b.startTinyscale(ctx, "tinyscale-big", fleet, pprofEnv...)
	if err != nil {
		return err
	}
	if err := sleepCtx(ctx, o.settle); err != nil {
		return err
	}
	if r.Memory.IdleBig, _, err = memory(ts.pid()); err != nil {
		b.logf("%v", err)
	}
	if o.bigVia {
		b.logf("memory phase: creating %d meetings through tinyscale", o.bigMeetings)
		if _, err := b.load(ctx, loadRun{url: ts.url, scenario: loadgen.ScenarioJoin, concurrency: o.concurrency,
			meetings: o.bigMeetings, prefix: "big-", requests: 1}); err != nil {
			return err
		}
	} else {
		b.logf("memory phase: creating %d meetings on the servers", o.bigMeetings)
		if err := seed(ctx, fleet, o.bigMeetings, "big-"); err != nil {
			return err
		}
	}
	// One getMeetings makes tinyscale learn the meetings it does not know
	// (in the background); lookups of the others learn them one by one.
	if _, err := countMeetings(ctx, ts.url, frontSecret); err != nil {
		return fmt.Errorf("count meetings through tinyscale: %w", err)
	}
	for _, s := range []struct {
		name string
		conc int
	}{{loadgen.ScenarioPoll, o.concurrency}, {loadgen.ScenarioJoin, o.concurrency}, {loadgen.ScenarioGetMeetings, o.gmConcurrency}} {
		b.logf("memory phase: %s, %d connections, %s", s.name, s.conc, o.duration)
		var res *loadgen.Result
		err := b.profiled(ctx, pprofAddr, "big."+s.name+".cpu.prof", func() error {
			var err error
			res, err = b.load(ctx, loadRun{url: ts.url, scenario: s.name, concurrency: s.conc, meetings: o.bigMeetings,
				prefix: "big-", noSetup: true})
			return err
		})
		if err != nil {
			return err
		}
		r.BigRows = append(r.BigRows, row{Scenario: s.name, Tinyscale: res})
	}
	n, err := countMeetings(ctx, ts.url, frontSecret)
	if err != nil {
		return fmt.Errorf("count meetings through tinyscale: %w", err)
	}
	if n < o.bigMeetings {
		b.logf("warning: tinyscale lists %d meetings, want at least %d", n, o.bigMeetings)
	}
	if r.Memory.AfterBig, r.Memory.PeakBig, err = memory(ts.pid()); err != nil {
		b.logf("%v", err)
	}
	if o.profile {
		data, err := httpDo(ctx, http.MethodGet, "http://"+pprofAddr+"/debug/pprof/heap", 30*time.Second)
		b.saveProfile(profileResult{data, err}, "big.heap.prof")
	}
	return nil
}

// seed creates meetings prefix+1 … prefix+n directly on the servers
// (meeting k on server k mod len(fleet)), as meetings that run before
// tinyscale is put in front of the servers.
func seed(ctx context.Context, fleet []*fake, n int, prefix string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hc := loadgen.NewClient(64, 30*time.Second)
	defer hc.CloseIdleConnections()
	jobs := make(chan int)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range jobs {
				f := fleet[k%len(fleet)]
				c := &bbb.Client{BaseURL: f.url + bbb.APIPath, Secret: f.secret, HTTP: hc}
				id := loadgen.MeetingID(prefix, k)
				body, err := c.Get(ctx, bbb.CallCreate, loadgen.CreateQuery(id))
				if err == nil {
					if kind := loadgen.Classify(bbb.CallCreate, http.StatusOK, "", body); kind != "" {
						err = errors.New(kind)
					}
				}
				if err != nil {
					select {
					case errc <- fmt.Errorf("create %s on %s: %w", id, f.id, err):
					default:
					}
					cancel()
					return
				}
			}
		}()
	}
feed:
	for k := 1; k <= n; k++ {
		select {
		case jobs <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return ctx.Err()
	}
}

// save writes the report as JSON and text into the output directory.
func (b *bench) save(r *report) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.opt.out, "results.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(b.opt.out, "results.txt"))
	if err != nil {
		return err
	}
	if err := writeTable(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// machineInfo describes this machine from /proc and the toolchain.
func machineInfo(ctx context.Context, repo string) machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), CPUModel: "unknown"}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = cpuModel(string(data))
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemTotal = memTotal(string(data))
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(data)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	cmd := exec.CommandContext(ctx, "git", "-C", repo, "rev-parse", "--short", "HEAD")
	if out, err := cmd.Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
		st := exec.CommandContext(ctx, "git", "-C", repo, "status", "--porcelain", "--untracked-files=no")
		if out, err := st.Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
			m.Commit += "+changes"
		}
	}
	return m
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel(cpuinfo string) string {
	for _, line := range strings.Split(cpuinfo, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// memTotal returns MemTotal of /proc/meminfo in bytes.
func memTotal(meminfo string) int64 {
	for _, line := range strings.Split(meminfo, "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
