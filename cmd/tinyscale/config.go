package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/balancer"
	"github.com/tinyscale/tinyscale/bbb"
)

// Config is the gateway's whole configuration, read once from the
// environment and flags (flags win) and validated.
type Config struct {
	// Secret is the shared secret front ends use (TINYSCALE_SECRET). Required.
	Secret string
	// Port is the HTTP port (PORT); default 3005.
	Port int
	// Listen is the listen address (TINYSCALE_LISTEN); default ":<Port>".
	Listen string
	// ServersFile is the path of servers.json (TINYSCALE_SERVERS); default
	// ./servers.json. Empty: servers are managed through the admin API only.
	ServersFile string
	// Strict aborts start-up on any failed server probe (TINYSCALE_STRICT).
	Strict bool
	// Store is the bolt file path or a redis:// URL (TINYSCALE_STORE);
	// default ./tinyscale.db.
	Store string
	// PollInterval is the health poll interval (TINYSCALE_POLL_INTERVAL); default 10s.
	PollInterval time.Duration
	// PollTimeout bounds one server's poll (TINYSCALE_POLL_TIMEOUT); default 3s.
	PollTimeout time.Duration
	// DownAfter and UpAfter are the poll hysteresis (TINYSCALE_DOWN_AFTER,
	// TINYSCALE_UP_AFTER); defaults 2 and 1.
	DownAfter, UpAfter int
	// Strategy is the placement strategy (TINYSCALE_STRATEGY): least-load
	// (default) or round-robin.
	Strategy string
	// DefaultTag is the tag creates without meta_server-tag ask for
	// (TINYSCALE_DEFAULT_TAG).
	DefaultTag string
	// AdminToken protects the admin API and dashboard (TINYSCALE_ADMIN_TOKEN).
	AdminToken string
	// MetricsToken, if set, protects /metrics (TINYSCALE_METRICS_TOKEN).
	MetricsToken string
	// PublicURL is tinyscale's base URL as BBB servers reach it, for
	// callback relays (TINYSCALE_PUBLIC_URL); default derived per request.
	PublicURL string
	// Algorithms are the checksum algorithms accepted from clients
	// (TINYSCALE_ALGORITHMS); default all four.
	Algorithms []string
	// BackendTimeout and FanOutTimeout bound backend calls
	// (TINYSCALE_BACKEND_TIMEOUT, TINYSCALE_FANOUT_TIMEOUT); defaults 10s and 3s.
	BackendTimeout, FanOutTimeout time.Duration
	// LogFormat is text (default) or json (TINYSCALE_LOG_FORMAT).
	LogFormat string
	// LogLevel is debug, info (default), warn or error (TINYSCALE_LOG_LEVEL).
	LogLevel string
	// InstanceID names this instance in leases and logs
	// (TINYSCALE_INSTANCE_ID); default hostname-pid.
	InstanceID string
	// ShutdownTimeout bounds graceful shutdown; default 15s.
	ShutdownTimeout time.Duration
	// PprofListen, if set, serves net/http/pprof on that address
	// (TINYSCALE_PPROF_LISTEN), e.g. 127.0.0.1:6060. Off by default.
	PprofListen string
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Port:            3005,
		ServersFile:     "./servers.json",
		Store:           "./tinyscale.db",
		PollInterval:    10 * time.Second,
		PollTimeout:     3 * time.Second,
		DownAfter:       2,
		UpAfter:         1,
		Strategy:        "least-load",
		BackendTimeout:  10 * time.Second,
		FanOutTimeout:   3 * time.Second,
		LogFormat:       "text",
		LogLevel:        "info",
		ShutdownTimeout: 15 * time.Second,
	}
}

// envSpec ties one setting to its environment variable and flag.
type envSpec struct {
	env, flag, usage string
	set              func(string) error
	get              func() string
	bool             bool
	// empty marks settings whose empty value means something (an empty
	// TINYSCALE_SERVERS: no servers.json); for the others, a variable set
	// to "" counts as unset.
	empty bool
}

func (c *Config) specs() []envSpec {
	str := func(p *string) (func(string) error, func() string) {
		return func(v string) error { *p = v; return nil }, func() string { return *p }
	}
	dur := func(p *time.Duration) (func(string) error, func() string) {
		return func(v string) error {
				d, err := time.ParseDuration(v)
				if err != nil {
					return fmt.Errorf("%q is not a duration such as 10s", v)
				}
				*p = d
				return nil
			}, func() string {
				return p.String()
			}
	}
	num := func(p *int) (func(string) error, func() string) {
		return func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%q is not a whole number", v)
			}
			*p = n
			return nil
		}, func() string { return strconv.Itoa(*p) }
	}
	var specs []envSpec
	add := func(env, fl, usage string, set func(string) error, get func() string) {
		specs = append(specs, envSpec{env: env, flag: fl, usage: usage, set: set, get: get})
	}
	s, g := str(&c.Secret)
	add("TINYSCALE_SECRET", "secret", "shared secret front ends use (required)", s, g)
	s, g = num(&c.Port)
	add("PORT", "port", "HTTP port", s, g)
	s, g = str(&c.Listen)
	add("TINYSCALE_LISTEN", "listen", "listen address (default :PORT)", s, g)
	s, g = str(&c.ServersFile)
	add("TINYSCALE_SERVERS", "servers", "path of servers.json (empty: servers managed through the admin API)", s, g)
	specs[len(specs)-1].empty = true
	specs = append(specs, envSpec{env: "TINYSCALE_STRICT", flag: "strict", usage: "abort start-up when any server fails its probe", bool: true,
		set: func(v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			c.Strict = b
			return nil
		}, get: func() string { return strconv.FormatBool(c.Strict) }})
	s, g = str(&c.Store)
	add("TINYSCALE_STORE", "store", "bolt file path, or redis://[:password@]host:port/db, rediss://…, redis+sentinel://…", s, g)
	s, g = dur(&c.PollInterval)
	add("TINYSCALE_POLL_INTERVAL", "poll-interval", "health poll interval", s, g)
	s, g = dur(&c.PollTimeout)
	add("TINYSCALE_POLL_TIMEOUT", "poll-timeout", "timeout of one server's poll", s, g)
	s, g = num(&c.DownAfter)
	add("TINYSCALE_DOWN_AFTER", "down-after", "failed polls in a row before a server is down", s, g)
	s, g = num(&c.UpAfter)
	add("TINYSCALE_UP_AFTER", "up-after", "good polls in a row before a down server is up", s, g)
	s, g = str(&c.Strategy)
	add("TINYSCALE_STRATEGY", "strategy", "placement strategy: least-load or round-robin", s, g)
	s, g = str(&c.DefaultTag)
	add("TINYSCALE_DEFAULT_TAG", "default-tag", "server tag for creates without meta_server-tag", s, g)
	s, g = str(&c.AdminToken)
	add("TINYSCALE_ADMIN_TOKEN", "admin-token", "bearer token for the admin API and dashboard", s, g)
	s, g = str(&c.MetricsToken)
	add("TINYSCALE_METRICS_TOKEN", "metrics-token", "bearer token for /metrics (optional)", s, g)
	s, g = str(&c.PublicURL)
	add("TINYSCALE_PUBLIC_URL", "public-url", "base URL BBB servers use to reach tinyscale for callbacks", s, g)
	add("TINYSCALE_ALGORITHMS", "algorithms", "checksum algorithms accepted from clients (comma list)", func(v string) error {
		c.Algorithms = nil
		for _, a := range strings.Split(v, ",") {
			a = strings.ToLower(strings.TrimSpace(a))
			if a == "" {
				continue
			}
			if !bbb.ValidAlgorithm(a) {
				return fmt.Errorf("%q is not sha1, sha256, sha384 or sha512", a)
			}
			c.Algorithms = append(c.Algorithms, a)
		}
		return nil
	}, func() string { return strings.Join(c.Algorithms, ",") })
	s, g = dur(&c.BackendTimeout)
	add("TINYSCALE_BACKEND_TIMEOUT", "backend-timeout", "timeout of a call to one server", s, g)
	s, g = dur(&c.FanOutTimeout)
	add("TINYSCALE_FANOUT_TIMEOUT", "fanout-timeout", "per-server timeout of calls asked of all servers", s, g)
	s, g = str(&c.LogFormat)
	add("TINYSCALE_LOG_FORMAT", "log-format", "log format: text or json", s, g)
	s, g = str(&c.LogLevel)
	add("TINYSCALE_LOG_LEVEL", "log-level", "log level: debug, info, warn or error", s, g)
	s, g = str(&c.InstanceID)
	add("TINYSCALE_INSTANCE_ID", "instance-id", "name of this instance (default hostname-pid)", s, g)
	s, g = dur(&c.ShutdownTimeout)
	add("TINYSCALE_SHUTDOWN_TIMEOUT", "shutdown-timeout", "graceful shutdown deadline", s, g)
	s, g = str(&c.PprofListen)
	add("TINYSCALE_PPROF_LISTEN", "pprof-listen", "serve Go profiles (net/http/pprof) on this address, e.g. 127.0.0.1:6060 (off by default)", s, g)
	return specs
}

// ParseConfig reads the environment (lookupEnv, as os.LookupEnv), then
// args as flags, into a Config, and validates it. A variable set to the
// empty string counts as unset, except TINYSCALE_SERVERS, whose empty
// value means "no servers.json". Errors name the variable or flag.
func ParseConfig(name string, args []string, lookupEnv func(string) (string, bool), output *bytes.Buffer) (Config, error) {
	c := DefaultConfig()
	specs := c.specs()
	for _, s := range specs {
		if v, ok := lookupEnv(s.env); ok && (v != "" || s.empty) {
			if err := s.set(v); err != nil {
				return c, fmt.Errorf("%s: %w", s.env, err)
			}
		}
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if output != nil {
		fs.SetOutput(output)
	}
	for _, s := range specs {
		fs.Var(flagValue{s}, s.flag, s.usage+" ($"+s.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, c.Validate()
}

type flagValue struct{ s envSpec }

func (f flagValue) String() string {
	if f.s.get == nil || f.s.env == "TINYSCALE_SECRET" || strings.HasSuffix(f.s.env, "_TOKEN") {
		return ""
	}
	return f.s.get()
}
func (f flagValue) Set(v string) error { return f.s.set(v) }
func (f flagValue) IsBoolFlag() bool   { return f.s.bool }

// Validate checks the configuration; errors name the setting.
func (c *Config) Validate() error {
	switch {
	case c.Secret == "":
		return errors.New("TINYSCALE_SECRET: must be set (the secret your front ends use)")
	case c.Port < 0 || c.Port > 65535:
		return fmt.Errorf("PORT: %d is not a port number", c.Port)
	case c.PollInterval <= 0:
		return errors.New("TINYSCALE_POLL_INTERVAL: must be positive")
	case c.PollTimeout <= 0:
		return errors.New("TINYSCALE_POLL_TIMEOUT: must be positive")
	case c.DownAfter < 1 || c.UpAfter < 1:
		return errors.New("TINYSCALE_DOWN_AFTER, TINYSCALE_UP_AFTER: must be at least 1")
	case c.BackendTimeout <= 0 || c.FanOutTimeout <= 0:
		return errors.New("TINYSCALE_BACKEND_TIMEOUT, TINYSCALE_FANOUT_TIMEOUT: must be positive")
	case c.LogFormat != "text" && c.LogFormat != "json":
		return fmt.Errorf("TINYSCALE_LOG_FORMAT: %q is not text or json", c.LogFormat)
	case c.Store == "":
		return errors.New("TINYSCALE_STORE: must not be empty")
	case c.ShutdownTimeout <= 0:
		return errors.New("TINYSCALE_SHUTDOWN_TIMEOUT: must be positive")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		switch {
		case err != nil:
			return errors.New("TINYSCALE_PUBLIC_URL: not a URL; want an http(s) base URL such as https://bbb-lb.example.org")
		case u.User != nil:
			return fmt.Errorf("TINYSCALE_PUBLIC_URL: %q must not carry a user name or password", u.Redacted())
		case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
			return fmt.Errorf("TINYSCALE_PUBLIC_URL: %q is not an http(s) base URL such as https://bbb-lb.example.org", c.PublicURL)
		}
	}
	if _, err := balancer.New(c.Strategy); err != nil {
		return fmt.Errorf("TINYSCALE_STRATEGY: %w", err)
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("TINYSCALE_LOG_LEVEL: %q is not debug, info, warn or error", c.LogLevel)
	}
	if c.Listen == "" {
		c.Listen = ":" + strconv.Itoa(c.Port)
	}
	if c.PollTimeout > c.PollInterval {
		c.PollTimeout = c.PollInterval
	}
	if c.InstanceID == "" {
		host, _ := os.Hostname()
		c.InstanceID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	return nil
}

// serverEntry is one servers.json entry: the original tinyscale's host and
// secret, plus optional fields.
type serverEntry struct {
	Host      string   `json:"host"`
	Secret    string   `json:"secret"`
	ID        string   `json:"id"`
	Weight    *float64 `json:"weight"`
	Tags      []string `json:"tags"`
	State     string   `json:"state"`
	Algorithm string   `json:"algorithm"`
}

// LoadServers reads and validates servers.json. Errors name the file, the
// entry (1-based, with its host) and the field, and never contain a secret.
func LoadServers(path string) ([]tinyscale.Server, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: file not found (set TINYSCALE_SERVERS or create it: [{\"host\": \"https://bbb1.example.org\", \"secret\": \"…\"}])", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ParseServers(path, data)
}

// ParseServers parses the content of a servers.json file named path.
func ParseServers(path string, data []byte) ([]tinyscale.Server, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("%s: must be a JSON array of servers ([{\"host\": …, \"secret\": …}]), not a JSON %s", path, te.Value)
		}
		return nil, fmt.Errorf("%s: not a JSON array of servers: %s", path, jsonErr(err))
	}
	out := make([]tinyscale.Server, 0, len(raw))
	seen := map[string]int{}    // id → entry
	seenURL := map[string]int{} // normalised host → entry
	for i, r := range raw {
		n := i + 1
		var e serverEntry
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("%s: entry %d: %s", path, n, jsonErr(err))
		}
		where := fmt.Sprintf("%s: entry %d", path, n)
		host := redactHost(e.Host)
		if e.Host != "" {
			where += fmt.Sprintf(" (%s)", host)
		}
		if e.Host == "" {
			return nil, fmt.Errorf("%s: field \"host\": missing", where)
		}
		if e.Secret == "" {
			return nil, fmt.Errorf("%s: field \"secret\": missing", where)
		}
		s := tinyscale.Server{ID: e.ID, URL: e.Host, Secret: e.Secret, Tags: e.Tags,
			State: tinyscale.ServerState(e.State), Algorithm: strings.ToLower(e.Algorithm), Source: tinyscale.SourceFile}
		if e.Weight != nil {
			if *e.Weight <= 0 {
				return nil, fmt.Errorf("%s: field \"weight\": must be positive", where)
			}
			s.Weight = *e.Weight
		}
		ns, err := s.Normalize()
		if err != nil {
			field, msg, _ := strings.Cut(err.Error(), ": ")
			msg = strings.ReplaceAll(msg, e.Host, host)
			return nil, fmt.Errorf("%s: field %q: %s", where, field, msg)
		}
		if prev, dup := seen[ns.ID]; dup {
			return nil, fmt.Errorf("%s: field \"id\": %q is also the id of entry %d (set distinct ids)", where, ns.ID, prev)
		}
		if prev, dup := seenURL[ns.URL]; dup {
			return nil, fmt.Errorf("%s: field \"host\": entry %d has the same host (list each server once)", where, prev)
		}
		seen[ns.ID] = n
		seenURL[ns.URL] = n
		out = append(out, ns)
	}
	return out, nil
}

// redactHost returns host with any password in it replaced by "xxxxx",
// for messages.
func redactHost(host string) string {
	u, err := url.Parse(host)
	if err != nil || u.User == nil {
		return host
	}
	return u.Redacted()
}

// jsonErr shortens encoding/json errors and names fields the way the
// configuration file spells them.
func jsonErr(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error())
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		want := "a " + te.Type.String()
		switch te.Type.Kind() {
		case reflect.String:
			want = "a string"
		case reflect.Float64, reflect.Float32, reflect.Int:
			want = "a number"
		case reflect.Slice:
			want = "a list"
			if te.Type.Elem().Kind() == reflect.String {
				want = "a list of strings"
			}
		case reflect.Struct:
			want = "an object such as {\"host\": …, \"secret\": …}"
		}
		if te.Field != "" {
			return fmt.Sprintf("field %q: must be %s", te.Field, want)
		}
		return fmt.Sprintf("must be %s, not a JSON %s", want, te.Value)
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "field " + f + ": unknown field (valid: host, secret, id, weight, tags, state, algorithm)"
	}
	return strings.TrimPrefix(msg, "json: ")
}
