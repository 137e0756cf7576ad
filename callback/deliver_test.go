package callback_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/callback"
)

// fastRetry keeps tests quick; the waits are backoff, not synchronisation.
var fastRetry = callback.Retry{Attempts: 4, Initial: time.Millisecond, Max: 2 * time.Millisecond}

func TestDeliverer_Deliver(t *testing.T) {
	tests := []struct {
		name         string
		statuses     []int // answers in order; the last repeats
		wantAttempts int
		wantErr      error
	}{
		{"ok_first", []int{200}, 1, nil},
		{"accepted", []int{202}, 1, nil},
		{"two_failures_then_ok", []int{500, 503, 204}, 3, nil},
		{"bad_request_is_retried", []int{400, 200}, 2, nil},
		{"gone_is_final", []int{410}, 1, callback.ErrRefused},
		{"not_found_is_final", []int{500, 404}, 2, callback.ErrRefused},
		{"gives_up", []int{502}, 4, callback.ErrGaveUp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				w.WriteHeader(tt.statuses[min(i, len(tt.statuses)-1)])
			}))
			defer srv.Close()
			d := &callback.Deliverer{Retry: fastRetry, Timeout: 5 * time.Second}
			got, err := d.Deliver(context.Background(), callback.Request{Method: http.MethodPost, URL: srv.URL + "/cb"})
			if got != tt.wantAttempts {
				t.Errorf("got %d attempts, want %d", got, tt.wantAttempts)
			}
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("got error %v, want %v", err, tt.wantErr)
			}
			if int(n.Load()) != tt.wantAttempts {
				t.Errorf("server saw %d requests, want %d", n.Load(), tt.wantAttempts)
			}
		})
	}
}

func TestDeliverer_SendsRequestAndRedactsErrors(t *testing.T) {
	type seen struct{ method, path, ct, body string }
	ch := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- seen{r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), string(b)}
	}))
	defer srv.Close()
	d := &callback.Deliverer{Retry: fastRetry}
	_, err := d.Deliver(context.Background(), callback.Request{
		Method: http.MethodPost, URL: srv.URL + "/x?a=1",
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		Body:   []byte("signed_parameters=abc"),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := <-ch
	want := seen{"POST", "/x?a=1", "application/x-www-form-urlencoded", "signed_parameters=abc"}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}

	// A network failure names scheme and host only, never path or query.
	srv.Close()
	_, err = d.Deliver(context.Background(), callback.Request{URL: srv.URL + "/secret-path?token=secret-query"})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("got error %v, want one without path or query", err)
	}
}

func TestDeliverer_PostIsNotRedirected(t *testing.T) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer target.Close()
	redir := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
	defer redir.Close()
	d := &callback.Deliverer{Retry: callback.Retry{Attempts: 1}}
	if _, err := d.Deliver(context.Background(), callback.Request{Method: http.MethodPost, URL: redir.URL}); err == nil {
		t.Errorf("POST answered 302: got nil error, want a failed delivery")
	}
	if _, err := d.Deliver(context.Background(), callback.Request{Method: http.MethodGet, URL: redir.URL}); err != nil {
		t.Errorf("GET answered 302: got %v, want the redirect followed", err)
	}
	if got := hits.Load(); got != 1 {
		t.Errorf("target got %d requests, want 1 (the GET only)", got)
	}
}

func TestDeliverer_ContextCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	d := &callback.Deliverer{Retry: callback.Retry{Attempts: 100, Initial: time.Hour}}
	done := make(chan error, 1)
	go func() {
		_, err := d.Deliver(ctx, callback.Request{URL: srv.URL})
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Deliver did not return after cancel")
	}
}

func TestRetry_Backoff(t *testing.T) {
	r := callback.Retry{Attempts: 10, Initial: 100 * time.Millisecond, Max: time.Second}
	tests := []struct {
		name   string
		n      int
		lo, hi time.Duration
	}{
		{"first", 1, 80 * time.Millisecond, 100 * time.Millisecond},
		{"second", 2, 160 * time.Millisecond, 200 * time.Millisecond},
		{"third", 3, 320 * time.Millisecond, 400 * time.Millisecond},
		{"capped", 9, 800 * time.Millisecond, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 20 {
				if got := r.Backoff(tt.n); got < tt.lo || got > tt.hi {
					t.Fatalf("Backoff(%d): got %v, want in [%v, %v]", tt.n, got, tt.lo, tt.hi)
				}
			}
		})
	}
}

func TestOptions_WithDefaults(t *testing.T) {
	o := callback.Options{}.WithDefaults()
	if o.TokenTTL != callback.DefaultTokenTTL || o.OnceTTL != o.TokenTTL || o.HookAlgorithm != "sha1" ||
		o.MaxPending != callback.DefaultMaxPending || o.HTTPClient == nil || o.Retry.Attempts == 0 {
		t.Errorf("got %+v, want every default set", o)
	}
	o = callback.Options{HookAlgorithm: "sha256", OnceTTL: time.Minute}.WithDefaults()
	if o.HookAlgorithm != "sha256" || o.OnceTTL != time.Minute {
		t.Errorf("got %+v, want the given values kept", o)
	}
}
