package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/fakebbb"
)

// DemoCommand is `tinyscale demo`: the gateway plus simulated BBB servers
// in one process, with ready-to-paste signed example URLs.
type DemoCommand struct {
	Stdout, Stderr io.Writer
	// ready, if set, receives the running Main (tests).
	ready func(*Main)
}

// Run implements command.
func (c *DemoCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tinyscale demo", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	port := fs.Int("port", 3005, "gateway port")
	secret := fs.String("secret", "", "shared secret for the gateway (default: a random one, printed)")
	n := fs.Int("servers", 3, "number of simulated BBB servers")
	listen := fs.String("listen", "127.0.0.1", "address to listen on")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *n < 1 || *n > 50 {
		return fmt.Errorf("%w: --servers must be between 1 and 50", errUsage)
	}
	if *secret == "" {
		*secret = randomHex(16)
	}
	dir, err := os.MkdirTemp("", "tinyscale-demo-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)

	// The simulated servers, each with its own secret, as real ones would have.
	var servers []tinyscale.Server
	var fakes []*fakebbb.Server
	var https []*http.Server
	defer func() {
		for _, h := range https {
			_ = h.Close()
		}
		for _, f := range fakes {
			f.Close()
		}
	}()
	for i := 1; i <= *n; i++ {
		ln, err := net.Listen("tcp", net.JoinHostPort(*listen, "0"))
		if err != nil {
			return fmt.Errorf("simulated server: %w", err)
		}
		base := "http://" + ln.Addr().String()
		f := &fakebbb.Server{Secret: randomHex(16), URL: base, Logger: slog.New(slog.DiscardHandler)}
		hs := &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		fakes = append(fakes, f)
		https = append(https, hs)
		servers = append(servers, tinyscale.Server{ID: fmt.Sprintf("bbb%d", i), URL: base, Secret: f.Secret})
	}

	cfg := DefaultConfig()
	cfg.Secret = *secret
	cfg.Port = *port
	cfg.Listen = net.JoinHostPort(*listen, fmt.Sprint(*port))
	cfg.Store = filepath.Join(dir, "tinyscale.db")
	cfg.ServersFile = ""
	cfg.PollInterval = 2 * time.Second
	cfg.PollTimeout = time.Second
	cfg.AdminToken = randomHex(8)
	cfg.LogLevel = "warn"
	if err := cfg.Validate(); err != nil {
		return err
	}
	m := &Main{Config: cfg, Servers: servers, Stderr: c.Stderr}
	if err := m.Run(ctx); err != nil {
		m.Close(context.Background())
		return err
	}
	base := m.URL()
	api := base + "/bigbluebutton/api/"
	create := api + "create?" + bbb.Sign(bbb.SHA1, "create", "name=Demo+Meeting&meetingID=demo-1&record=true", *secret)
	join := api + "join?" + bbb.Sign(bbb.SHA1, "join", "meetingID=demo-1&fullName=Ada+Lovelace&role=MODERATOR", *secret)
	w := c.Stdout
	fmt.Fprintf(w, "tinyscale demo: the gateway and %d simulated BBB servers are running.\n\n", *n)
	fmt.Fprintf(w, "  BBB API URL   %s\n", api)
	fmt.Fprintf(w, "  Secret        %s\n", *secret)
	fmt.Fprintf(w, "  Dashboard     %s/admin/  (token %s)\n", base, cfg.AdminToken)
	for i, s := range servers {
		fmt.Fprintf(w, "  Server %-6s %s\n", s.ID, fakes[i].URL)
	}
	fmt.Fprintf(w, "\nTry it (signed with the secret above):\n")
	fmt.Fprintf(w, "  create  %s\n", create)
	fmt.Fprintf(w, "  join    %s\n", join)
	fmt.Fprintf(w, "\n  curl -s '%s'\n", create)
	fmt.Fprintf(w, "\nPoint a front end (Greenlight, Moodle, Nextcloud) at %s/bigbluebutton/ with the secret above.\n", base)
	exe, _ := os.Executable()
	fmt.Fprintf(w, "Fleet status: TINYSCALE_ADMIN_URL=%s TINYSCALE_ADMIN_TOKEN=%s %s status\n", base, cfg.AdminToken, cliCommand(exe))
	fmt.Fprintf(w, "Ctrl-C stops the demo.\n")
	if c.ready != nil {
		c.ready(m)
	}
	<-ctx.Done()
	fmt.Fprintln(w, "\nstopping…")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return m.Close(sctx)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// cliCommand is how the user can run this binary again, for the commands
// the demo prints: "go run ./cmd/tinyscale" when it was started with go
// run (a temporary build no longer there afterwards), else "tinyscale".
func cliCommand(exe string) string {
	if strings.Contains(filepath.ToSlash(exe), "/go-build") {
		return "go run ./cmd/tinyscale"
	}
	return "tinyscale"
}
