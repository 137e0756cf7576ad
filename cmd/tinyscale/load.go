package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"

	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/loadgen"
)

// LoadCommand is `tinyscale load`: it drives a BBB API (tinyscale, a BBB
// server or another balancer) with signed requests and prints throughput,
// latency percentiles and errors by kind.
type LoadCommand struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

const loadUsage = `Usage: tinyscale load [flags]

Sends signed BBB API requests to --url for --duration from --concurrency
connections and prints throughput (req/s), latency p50/p95/p99/max and
errors by kind (HTTP status, FAILED messageKey, timeout, connection).

Scenarios:
  join          join existing meetings (302 counts as success, not followed)
  create        create a new meeting with every request
  poll          getMeetingInfo and isMeetingRunning on existing meetings
  getMeetings   getMeetings
  mixed         40% getMeetingInfo, 25% isMeetingRunning, 25% join,
                8% create, 2% getMeetings

join, poll and mixed first create --meetings meetings (IDs <prefix>1…N;
an existing meeting is reused) unless --no-setup is given.

Flags:
`

// Bounds of the load flags. Each connection is a goroutine with its own
// buffers, so an unbounded --concurrency could take all the machine's
// memory; a rate below minLoadRate does not fit the pacer's interval.
const (
	maxLoadConcurrency = 10000
	maxLoadMeetings    = 100000
	minLoadRate        = 0.001
)

// loadOptions are the parsed flags.
type loadOptions struct {
	cfg      loadgen.Config
	json     bool
	progress bool
}

// parse reads the flags; errors wrap errUsage (or are flag.ErrHelp).
func (c *LoadCommand) parse(args []string) (loadOptions, error) {
	getenv := c.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	port := getenv("PORT")
	if port == "" {
		port = "3005"
	}
	var o loadOptions
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), loadUsage)
		fs.PrintDefaults()
	}
	url := fs.String("url", "http://127.0.0.1:"+port+bbb.APIPath, "BBB API base (host[:port] alone also works)")
	secret := fs.String("secret", "", "shared secret to sign with (default $TINYSCALE_SECRET)")
	fs.StringVar(&o.cfg.Scenario, "scenario", loadgen.ScenarioJoin, "scenario: "+strings.Join(loadgen.Scenarios, ", "))
	fs.DurationVar(&o.cfg.Duration, "duration", loadgen.DefaultDuration, "length of the measured phase")
	fs.IntVar(&o.cfg.Concurrency, "concurrency", loadgen.DefaultConcurrency, "parallel connections, each with one request in flight")
	fs.Float64Var(&o.cfg.Rate, "rate", 0, "total requests per second (0 = as fast as answers come)")
	fs.Int64Var(&o.cfg.Requests, "requests", 0, "stop after this many requests (0 = only --duration)")
	fs.IntVar(&o.cfg.Meetings, "meetings", loadgen.DefaultMeetings, "existing meetings for join, poll and mixed")
	noSetup := fs.Bool("no-setup", false, "do not create the meetings first (they exist already)")
	fs.StringVar(&o.cfg.MeetingPrefix, "prefix", loadgen.DefaultMeetingPrefix, "meeting ID prefix")
	fs.StringVar(&o.cfg.Algorithm, "algorithm", loadgen.DefaultAlgorithm, "checksum algorithm: sha1, sha256, sha384 or sha512")
	fs.DurationVar(&o.cfg.Timeout, "timeout", loadgen.DefaultTimeout, "timeout of one request")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON (for scripts)")
	fs.BoolVar(&o.progress, "progress", false, "print the progress line even if stderr is not a terminal")
	fs.DurationVar(&o.cfg.ProgressInterval, "progress-interval", loadgen.DefaultProgressInterval, "period of the progress line")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	o.cfg.SkipSetup = *noSetup
	o.cfg.Secret = *secret
	if o.cfg.Secret == "" {
		o.cfg.Secret = getenv("TINYSCALE_SECRET")
	}
	base, err := loadgen.NormalizeURL(*url)
	if err != nil {
		return o, fmt.Errorf("%w: --url: %v", errUsage, err)
	}
	o.cfg.URL = base
	o.cfg.Algorithm = strings.ToLower(o.cfg.Algorithm)
	switch {
	case o.cfg.Secret == "":
		return o, fmt.Errorf("%w: --secret (or TINYSCALE_SECRET) is required", errUsage)
	case !validScenario(o.cfg.Scenario):
		return o, fmt.Errorf("%w: --scenario: %q is not one of %s", errUsage, o.cfg.Scenario, strings.Join(loadgen.Scenarios, ", "))
	case !bbb.ValidAlgorithm(o.cfg.Algorithm):
		return o, fmt.Errorf("%w: --algorithm: %q is not sha1, sha256, sha384 or sha512", errUsage, o.cfg.Algorithm)
	case o.cfg.Duration <= 0:
		return o, fmt.Errorf("%w: --duration must be positive", errUsage)
	case o.cfg.Concurrency < 1 || o.cfg.Concurrency > maxLoadConcurrency:
		return o, fmt.Errorf("%w: --concurrency must be between 1 and %d", errUsage, maxLoadConcurrency)
	case o.cfg.Rate < 0 || math.IsNaN(o.cfg.Rate) || math.IsInf(o.cfg.Rate, 0):
		return o, fmt.Errorf("%w: --rate must be a number of requests per second, 0 for unlimited", errUsage)
	case o.cfg.Rate > 0 && o.cfg.Rate < minLoadRate:
		return o, fmt.Errorf("%w: --rate must be 0 (unlimited) or at least %g", errUsage, minLoadRate)
	case o.cfg.Requests < 0:
		return o, fmt.Errorf("%w: --requests must not be negative", errUsage)
	case o.cfg.Meetings < 1 || o.cfg.Meetings > maxLoadMeetings:
		return o, fmt.Errorf("%w: --meetings must be between 1 and %d", errUsage, maxLoadMeetings)
	case o.cfg.Timeout <= 0:
		return o, fmt.Errorf("%w: --timeout must be positive", errUsage)
	case o.cfg.ProgressInterval <= 0:
		return o, fmt.Errorf("%w: --progress-interval must be positive", errUsage)
	case o.cfg.MeetingPrefix == "" || strings.Contains(o.cfg.MeetingPrefix, ","):
		return o, fmt.Errorf("%w: --prefix must be non-empty, without a comma", errUsage)
	}
	return o, nil
}

func validScenario(s string) bool {
	for _, v := range loadgen.Scenarios {
		if s == v {
			return true
		}
	}
	return false
}

// Run implements command.
func (c *LoadCommand) Run(ctx context.Context, args []string) error {
	o, err := c.parse(args)
	if err != nil {
		return err
	}
	tty := isTerminal(c.Stderr)
	var mu sync.Mutex // Progress runs on its own goroutine
	progressShown := false
	if tty || o.progress {
		o.cfg.Progress = func(p loadgen.Progress) {
			mu.Lock()
			defer mu.Unlock()
			progressShown = true
			if tty {
				fmt.Fprintf(c.Stderr, "\r%s\x1b[K", loadgen.FormatProgress(p))
			} else {
				fmt.Fprintln(c.Stderr, loadgen.FormatProgress(p))
			}
		}
	}
	if !o.json {
		fmt.Fprintf(c.Stderr, "tinyscale load: %s against %s, %d connections for %v\n",
			o.cfg.Scenario, o.cfg.URL, o.cfg.Concurrency, o.cfg.Duration)
	}
	res, runErr := loadgen.Run(ctx, o.cfg)
	mu.Lock()
	if tty && progressShown {
		fmt.Fprint(c.Stderr, "\r\x1b[K")
	}
	mu.Unlock()
	if res == nil {
		return runErr
	}
	if o.json {
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
	} else if err := loadgen.WriteText(c.Stdout, res); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return runErr
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
