package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// Config is the command's configuration, from flags and the environment.
type Config struct {
	// Listen is the host or IP to listen on.
	Listen string
	// Port is the TCP port; 0 picks a free one.
	Port int
	// Secret is the shared secret; required.
	Secret string
	// Latency is added to every API answer.
	Latency time.Duration
	// RecordingDelay is the time from a recorded meeting's end to its
	// recording being published.
	RecordingDelay time.Duration
	// Algorithms are the accepted checksum algorithms.
	Algorithms []string
	// URL is the public base URL; empty means http://<listen>:<port>
	// (127.0.0.1 when listening on all interfaces).
	URL string
}

// DefaultConfig returns the defaults: 127.0.0.1:8090, all four algorithms.
func DefaultConfig() Config {
	return Config{
		Listen:     "127.0.0.1",
		Port:       8090,
		Algorithms: []string{"sha1", "sha256", "sha384", "sha512"},
	}
}

// ConfigError names the configuration field that is invalid.
type ConfigError struct {
	Field string
	Msg   string
}

func (e *ConfigError) Error() string { return "invalid " + e.Field + ": " + e.Msg }

// Validate checks the configuration; errors are *ConfigError.
func (c Config) Validate() error {
	if c.Secret == "" {
		return &ConfigError{"secret", "required (--secret or FAKEBBB_SECRET)"}
	}
	if c.Port < 0 || c.Port > 65535 {
		return &ConfigError{"port", fmt.Sprintf("%d is not a TCP port", c.Port)}
	}
	if c.Latency < 0 {
		return &ConfigError{"latency", "must not be negative"}
	}
	if c.RecordingDelay < 0 {
		return &ConfigError{"recording-delay", "must not be negative"}
	}
	if len(c.Algorithms) == 0 {
		return &ConfigError{"algorithms", "at least one algorithm is required"}
	}
	for _, a := range c.Algorithms {
		switch a {
		case "sha1", "sha256", "sha384", "sha512":
		default:
			return &ConfigError{"algorithms", fmt.Sprintf("unknown algorithm %q", a)}
		}
	}
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &ConfigError{"url", fmt.Sprintf("%q is not an http(s) base URL", c.URL)}
		}
	}
	return nil
}

// ParseConfig reads flags from args and FAKEBBB_SECRET through getenv; a
// --secret flag wins over the environment. Usage goes to output. It
// returns flag.ErrHelp for -h.
func ParseConfig(args []string, getenv func(string) string, output io.Writer) (Config, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("fakebbb", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "host or IP to listen on")
	fs.IntVar(&cfg.Port, "port", cfg.Port, "TCP port (0 picks a free one)")
	fs.StringVar(&cfg.Secret, "secret", getenv("FAKEBBB_SECRET"), "shared secret (default $FAKEBBB_SECRET)")
	fs.DurationVar(&cfg.Latency, "latency", 0, "latency added to every API answer")
	fs.DurationVar(&cfg.RecordingDelay, "recording-delay", 0, "time from a recorded meeting's end to its published recording")
	algs := fs.String("algorithms", strings.Join(cfg.Algorithms, ","), "accepted checksum algorithms, comma separated")
	fs.StringVar(&cfg.URL, "url", "", "public base URL (default http://127.0.0.1:<port>)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	cfg.Algorithms = nil
	for _, a := range strings.Split(*algs, ",") {
		if a = strings.ToLower(strings.TrimSpace(a)); a != "" {
			cfg.Algorithms = append(cfg.Algorithms, a)
		}
	}
	cfg.URL = strings.TrimSuffix(cfg.URL, "/")
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}
