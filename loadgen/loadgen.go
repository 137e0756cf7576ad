// Package loadgen drives a BigBlueButton API (tinyscale, a single BBB
// server or any balancer) with signed requests and measures throughput,
// latency percentiles and errors by kind. It is the engine of
// `tinyscale load` and of the benchmark in bench/.
//
// Run sends requests from a fixed number of workers (the concurrency), each
// with one keep-alive connection, optionally paced to a total rate, for a
// duration or a number of requests. Join redirects are never followed.
package loadgen

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tinyscale/tinyscale/bbb"
)

// Defaults applied by Run to zero fields of Config.
const (
	DefaultConcurrency      = 16
	DefaultDuration         = 10 * time.Second
	DefaultMeetings         = 100
	DefaultMeetingPrefix    = "load-"
	DefaultTimeout          = 10 * time.Second
	DefaultProgressInterval = time.Second
	DefaultAlgorithm        = bbb.SHA1
	// setupConcurrency bounds the creates of the setup phase.
	setupConcurrency = 16
	// maxBody bounds how much of an answer is read.
	maxBody = 64 << 20
	// maxKinds bounds the number of distinct error kinds kept per worker;
	// further kinds are counted as "other".
	maxKinds = 64
)

// Config describes one load run. The zero value of every field but URL and
// Secret has a default.
type Config struct {
	// URL is the API base, e.g. http://host:3005/bigbluebutton/api/; see
	// NormalizeURL for the accepted forms.
	URL string
	// Secret is the shared secret requests are signed with.
	Secret string
	// Algorithm is the checksum algorithm (sha1, sha256, sha384, sha512);
	// default sha1, as Greenlight, Moodle and Nextcloud use.
	Algorithm string
	// Scenario is one of Scenarios; default join.
	Scenario string
	// Duration bounds the measured phase; default 10s. In-flight requests
	// complete after it ends (each bounded by Timeout) and are counted.
	Duration time.Duration
	// Requests, if positive, ends the run after that many requests, or at
	// Duration, whichever comes first.
	Requests int64
	// Concurrency is the number of workers, each with at most one request
	// in flight; default 16.
	Concurrency int
	// Rate is the total request rate in requests per second; 0 is
	// unlimited (every worker sends its next request as soon as the last
	// is answered).
	Rate float64
	// Meetings is the number of existing meetings join, poll and mixed
	// spread their requests over; default 100.
	Meetings int
	// SkipSetup leaves out creating those meetings first (they already
	// exist from an earlier run, or the target is not a BBB API).
	SkipSetup bool
	// MeetingPrefix starts every meeting ID the run uses; default "load-".
	// Existing meetings are prefix+1 … prefix+Meetings; meetings made by
	// create are prefix+"new-"+a random run ID+"-"+n.
	MeetingPrefix string
	// Timeout bounds one request; default 10s.
	Timeout time.Duration
	// Client sends the requests. Default: a client with keep-alive
	// connections for Concurrency workers that never follows redirects.
	// A custom client should not follow redirects either.
	Client *http.Client
	// Progress, if set, is called every ProgressInterval from one goroutine
	// while the measured phase runs.
	Progress func(Progress)
	// ProgressInterval is the period of Progress calls; default 1s.
	ProgressInterval time.Duration
}

// Progress is a snapshot of a run in progress.
type Progress struct {
	// Elapsed is the time since the measured phase began.
	Elapsed time.Duration
	// Requests and Errors are counts since the measured phase began.
	Requests, Errors int64
	// Rate is the throughput over the last interval, in requests per second.
	Rate float64
}

// withDefaults validates c and fills in defaults.
func (c Config) withDefaults() (Config, error) {
	base, err := NormalizeURL(c.URL)
	if err != nil {
		return c, err
	}
	c.URL = base
	if c.Secret == "" {
		return c, errors.New("secret is required")
	}
	if c.Algorithm == "" {
		c.Algorithm = DefaultAlgorithm
	}
	c.Algorithm = strings.ToLower(c.Algorithm)
	if !bbb.ValidAlgorithm(c.Algorithm) {
		return c, fmt.Errorf("algorithm %q is not sha1, sha256, sha384 or sha512", c.Algorithm)
	}
	if c.Scenario == "" {
		c.Scenario = ScenarioJoin
	}
	switch {
	case c.Duration < 0:
		return c, errors.New("duration must not be negative")
	case c.Duration == 0:
		c.Duration = DefaultDuration
	}
	switch {
	case c.Concurrency < 0:
		return c, errors.New("concurrency must not be negative")
	case c.Concurrency == 0:
		c.Concurrency = DefaultConcurrency
	}
	if c.Rate < 0 {
		return c, errors.New("rate must not be negative")
	}
	if c.Requests < 0 {
		return c, errors.New("requests must not be negative")
	}
	switch {
	case c.Meetings < 0:
		return c, errors.New("meetings must not be negative")
	case c.Meetings == 0:
		c.Meetings = DefaultMeetings
	}
	if c.MeetingPrefix == "" {
		c.MeetingPrefix = DefaultMeetingPrefix
	}
	if len(c.MeetingPrefix) > 200 || strings.Contains(c.MeetingPrefix, ",") {
		return c, errors.New("meeting prefix must be at most 200 characters, without a comma")
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = DefaultProgressInterval
	}
	return c, nil
}

// NewClient returns an HTTP client tuned for concurrency parallel requests
// to one host: enough idle keep-alive connections, no compression, no
// proxy, redirects never followed, each request bounded by timeout.
func NewClient(concurrency int, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          concurrency * 2,
		MaxIdleConnsPerHost:   concurrency * 2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Run sets up (creates the meetings the scenario needs unless SkipSetup),
// checks that the API accepts the secret, then runs the measured phase and
// returns its result. Cancelling ctx ends the run early: requests cut off
// are not counted and the partial result is returned with ctx's error.
// Run returns an error before the measured phase if the configuration is
// invalid, the API cannot be reached, or it rejects the checksum.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	client := cfg.Client
	if client == nil {
		client = NewClient(cfg.Concurrency, cfg.Timeout)
		defer client.CloseIdleConnections()
	}
	s := signer{base: cfg.URL, secret: cfg.Secret, alg: cfg.Algorithm}
	sc, err := newScenario(cfg.Scenario, s, cfg.MeetingPrefix, runID(), cfg.Meetings)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	r := &runner{cfg: cfg, client: client, sc: sc, s: s}
	if err := r.preflight(ctx); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if sc.needsMeetings && !cfg.SkipSetup {
		if err := r.setup(ctx); err != nil {
			return nil, fmt.Errorf("load: setup: %w", err)
		}
	}
	res := r.run(ctx)
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("load: interrupted: %w", err)
	}
	return res, nil
}

// runID returns a short random hex string that keeps the meeting IDs of
// separate runs apart.
func runID() string {
	var b [4]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// runner holds one run's shared state.
type runner struct {
	cfg    Config
	client *http.Client
	sc     *scenario
	s      signer
	pacer  *Pacer

	issued   atomic.Int64 // requests started (for Config.Requests)
	done     atomic.Int64 // requests completed
	failed   atomic.Int64 // of which errors
	stop     chan struct{}
	stopOnce sync.Once
}

// worker is one sender's private state: no locks on the hot path.
type worker struct {
	rng    *rand.Rand
	header http.Header
	buf    bytes.Buffer
	hist   [numCalls]Histogram
	errs   [numCalls]map[string]int64
}

// send sends one request and returns "" or the kind of error.
func (r *runner) send(ctx context.Context, w *worker, t target) string {
	req := (&http.Request{
		Method:     http.MethodGet,
		URL:        t.url,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     w.header,
		Host:       t.url.Host,
	}).WithContext(ctx)
	resp, err := r.client.Do(req)
	if err != nil {
		return ClassifyError(err)
	}
	w.buf.Reset()
	_, err = w.buf.ReadFrom(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	if err != nil {
		return ClassifyError(err)
	}
	return Classify(callNames[t.call], resp.StatusCode, resp.Header.Get("Location"), w.buf.Bytes())
}

func newWorker(seed1, seed2 uint64) *worker {
	return &worker{
		rng:    rand.New(rand.NewPCG(seed1, seed2)),
		header: http.Header{"User-Agent": {"tinyscale-load/1"}},
	}
}

// preflight sends one isMeetingRunning (a read-only call every BBB API
// answers, as Nextcloud's connection check does) and fails on a
// connection error or a rejected checksum. Other answers pass, so a
// target that is not a BBB API (the benchmark's baseline) can be measured.
func (r *runner) preflight(ctx context.Context) error {
	t, err := r.s.target(idxIsMeetingRunning, meetingQuery(r.cfg.MeetingPrefix+"check"))
	if err != nil {
		return err
	}
	kind := r.send(ctx, newWorker(1, 1), t)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case kind == "FAILED checksumError":
		return fmt.Errorf("%s rejects the checksum (FAILED checksumError): check the secret and algorithm", r.cfg.URL)
	case kind == KindTimeout || strings.HasPrefix(kind, "connection"):
		return fmt.Errorf("cannot reach %s: %s", r.cfg.URL, kind)
	}
	return nil
}

// setup creates the existing meetings (prefix+1 … prefix+Meetings). A
// meeting that already exists (duplicateWarning, or idNotUnique when it
// was created with other passwords) is fine.
func (r *runner) setup(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(min(setupConcurrency, r.cfg.Concurrency))
	for i, id := range r.sc.meetings {
		g.Go(func() error {
			t, err := r.s.target(idxCreate, CreateQuery(id))
			if err != nil {
				return err
			}
			switch kind := r.send(ctx, newWorker(1, uint64(i)), t); kind {
			case "", "FAILED idNotUnique":
				return nil
			default:
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("create meeting %q: %s", id, kind)
			}
		})
	}
	return g.Wait()
}

// run is the measured phase.
func (r *runner) run(ctx context.Context) *Result {
	cfg := r.cfg
	burst := max(1, int(cfg.Rate/100)) // up to 10 ms of catch-up
	r.pacer = NewPacer(cfg.Rate, burst)
	r.stop = make(chan struct{})
	start := time.Now()
	timer := time.AfterFunc(cfg.Duration, r.halt)
	defer timer.Stop()

	workers := make([]*worker, cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		w := newWorker(uint64(start.UnixNano()), uint64(i))
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.work(ctx, w)
		}()
	}
	progressDone := make(chan struct{})
	workersDone := make(chan struct{})
	if cfg.Progress != nil {
		go func() {
			defer close(progressDone)
			r.report(start, workersDone)
		}()
	} else {
		close(progressDone)
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(workersDone)
	<-progressDone
	return r.result(workers, elapsed)
}

// halt ends the measured phase: no new requests start.
func (r *runner) halt() { r.stopOnce.Do(func() { close(r.stop) }) }

// work is one worker's loop.
func (r *runner) work(ctx context.Context, w *worker) {
	for {
		select {
		case <-r.stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		if r.cfg.Requests > 0 && r.issued.Add(1) > r.cfg.Requests {
			r.halt()
			return
		}
		if !r.pacer.Wait(ctx, r.stop) {
			return
		}
		t, err := r.sc.next(w.rng)
		if err != nil {
			r.halt() // cannot happen with the URLs newScenario checked
			return
		}
		begin := time.Now()
		kind := r.send(ctx, w, t)
		d := time.Since(begin)
		if ctx.Err() != nil {
			return // cut off by cancellation: not a measurement
		}
		w.hist[t.call].Record(d)
		r.done.Add(1)
		if kind != "" {
			r.failed.Add(1)
			w.count(t.call, kind)
		}
	}
}

// count adds one error of kind for call.
func (w *worker) count(call int, kind string) {
	m := w.errs[call]
	if m == nil {
		m = map[string]int64{}
		w.errs[call] = m
	}
	if _, ok := m[kind]; !ok && len(m) >= maxKinds {
		kind = "other"
	}
	m[kind]++
}

// report calls Progress every interval until done is closed.
func (r *runner) report(start time.Time, done <-chan struct{}) {
	tick := time.NewTicker(r.cfg.ProgressInterval)
	defer tick.Stop()
	var last int64
	lastAt := start
	for {
		select {
		case <-done:
			return
		case now := <-tick.C:
			n := r.done.Load()
			rate := 0.0
			if dt := now.Sub(lastAt).Seconds(); dt > 0 {
				rate = float64(n-last) / dt
			}
			last, lastAt = n, now
			r.cfg.Progress(Progress{Elapsed: now.Sub(start), Requests: n, Errors: r.failed.Load(), Rate: rate})
		}
	}
}

// result merges the workers' statistics.
func (r *runner) result(workers []*worker, elapsed time.Duration) *Result {
	res := &Result{
		Scenario:    r.cfg.Scenario,
		URL:         r.cfg.URL,
		Concurrency: r.cfg.Concurrency,
		Rate:        r.cfg.Rate,
		Elapsed:     elapsed,
		ErrorKinds:  map[string]int64{},
	}
	var all Histogram
	for c := range numCalls {
		var h Histogram
		kinds := map[string]int64{}
		for _, w := range workers {
			h.Merge(&w.hist[c])
			for k, n := range w.errs[c] {
				kinds[k] += n
			}
		}
		var nerr int64
		for k, n := range kinds {
			nerr += n
			res.ErrorKinds[k] += n
		}
		if h.Count() == 0 && nerr == 0 {
			continue
		}
		all.Merge(&h)
		res.Errors += nerr
		res.Calls = append(res.Calls, CallResult{
			Call:       callNames[c],
			Requests:   h.Count(),
			Errors:     nerr,
			ErrorKinds: kinds,
			Throughput: perSecond(h.Count(), elapsed),
			Latency:    h.Summary(),
		})
	}
	sort.Slice(res.Calls, func(i, j int) bool { return res.Calls[i].Requests > res.Calls[j].Requests })
	res.Requests = all.Count()
	res.Throughput = perSecond(res.Requests, elapsed)
	res.Latency = all.Summary()
	return res
}

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
