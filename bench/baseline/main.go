// Command baseline is the benchmark's reference point: the smallest Go HTTP
// server that answers every request with the same 302, as a balancer
// answers a join. Throughput through tinyscale is compared with it on the
// same machine in the same run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// location is where every answer points: a join URL of the length a real
// BBB server's redirect has.
const location = "http://127.0.0.1:1/html5client/join?sessionToken=0123456789abcdef"

// handler answers every request with a fixed 302.
func handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Location"] = []string{location}
		h["Cache-Control"] = []string{"no-cache"}
		w.WriteHeader(http.StatusFound)
	})
}

func main() {
	addr := flag.String("addr", "127.0.0.1:3999", "listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, *addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

// serve listens on addr and serves until ctx ends. If ready is not nil it
// receives the bound address once the listener is open.
func serve(ctx context.Context, addr string, ready chan<- string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: handler(), ReadHeaderTimeout: 10 * time.Second}
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
