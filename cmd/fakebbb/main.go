// Command fakebbb runs a simulated BigBlueButton server (API, webhooks and
// callbacks, in memory) for tests, demos and benchmarks.
//
//	fakebbb --secret s3cr3t --port 8090 --recording-delay 5s
//
// It prints one line with its URL once it listens, and shuts down
// gracefully on SIGINT or SIGTERM (a second signal exits at once).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/tinyscale/tinyscale/fakebbb"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	cfg, err := ParseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(exitOK)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakebbb:", err)
		os.Exit(exitUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default handling so a second one
	// kills the process.
	context.AfterFunc(ctx, stop)
	if err := Run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fakebbb:", err)
		os.Exit(exitError)
	}
}

// shutdownTimeout bounds the drain of open requests on shutdown.
const shutdownTimeout = 5 * time.Second

// Run serves a fake BBB server until ctx ends, then drains it. It writes
// "fakebbb listening on <URL>" to stdout once listening and logs to stderr.
func Run(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Listen, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	base := cfg.URL
	if base == "" {
		host := cfg.Listen
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = "127.0.0.1"
		}
		base = "http://" + net.JoinHostPort(host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}
	s := &fakebbb.Server{
		Secret:         cfg.Secret,
		Algorithms:     cfg.Algorithms,
		Latency:        cfg.Latency,
		RecordingDelay: cfg.RecordingDelay,
		URL:            base,
		Logger:         slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "fakebbb listening on %s\n", base)

	select {
	case err := <-errc:
		_ = s.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Closing the fake first releases requests held by the hang fault or
	// latency and stops callbacks; then open requests drain.
	_ = s.Close()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
